"""Quality: the shipped captioners beat the baseline on fresh held-out scenes; training reaches a target."""

import pytest
import torch

from seqcore.tasks import captioning as C

IN_DISTRIBUTION = ["caption-lstm-shapes", "caption-transformer-shapes", "caption-lstm-digits",
                   "caption-transformer-digits"]


@pytest.mark.parametrize("name", IN_DISTRIBUTION)
def test_shipped_captioners_meet_the_issue_target(name):
    """Issue 6's target in distribution: BLEU-4 >= 90 and localisation >= 90% (the card's 500 scenes)."""
    model, card = C.load(name)
    assert card["metrics"]["bleu4"] >= 90 and card["metrics"]["attention_localisation"] >= 0.9
    out = C.evaluate(model, card["data"]["dataset"], limit=100, seed=77, baseline_n=300)  # a fresh, smaller sample
    assert out["bleu4"] >= 85 and out["bleu4"] > out["baseline_nn_bleu4"] + 30
    assert out["attention_localisation"] >= 0.85 > 0.3 > out["chance_localisation"]


@pytest.mark.slow
def test_compositional_split_costs_exact_match():
    model, _ = C.load("caption-transformer-shapes-comp")
    iid = C.evaluate(model, "shapes", limit=100, seed=5, baseline=False)
    comp = C.evaluate(model, "shapes", limit=100, seed=5, split="compositional", baseline=False)
    assert comp["exact"] < iid["exact"] - 0.3


@pytest.mark.slow
def test_transformer_learns_shapes_from_scratch():
    cfg = C.Config(decoder="transformer", dataset="shapes", n_train=3000, n_val=200, epochs=8, eval_n=0)
    model, _ = C.train(cfg, device=torch.device("cpu"))
    out = C.evaluate(model, "shapes", limit=200, seed=9, baseline=False)
    assert out["bleu4"] >= 80
