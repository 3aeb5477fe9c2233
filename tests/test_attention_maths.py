"""The explorer's maths against the model's own attention, on small random Transformers."""

import math

import numpy as np
import pytest
import torch

from seqcore.errors import InputError
from seqcore.models.transformer import Transformer, TransformerConfig
from seqcore.tasks.attention_maths import (
    head_average,
    head_view_lines,
    hide_tokens,
    keep_indices,
    matrix_csv,
    neuron_view,
    rollout,
    run_model,
    step_through,
    token_labels,
    verify,
)
from seqcore.tasks.probe import AttentionProbe


def make_probe(causal=True, cross=False, positions="sinusoidal", features=False, t=7, seed=0):
    torch.manual_seed(seed)
    cfg = TransformerConfig(d_model=16, n_heads=4, n_layers=2, causal=causal, cross_attention=cross,
                            positions=positions, max_len=32, vocab_size=None if features else 11,
                            input_size=3 if features else None, out_size=5)
    model = Transformer(cfg).eval()
    x = torch.randn(1, t, 3) if features else torch.randint(0, 11, (1, t))
    context = torch.randn(1, 5, 16) if cross else None
    return AttentionProbe(model, x, [f"t{i}" for i in range(t)], context=context,
                          special=[True] + [False] * (t - 1))


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("layer", [0, 1])
def test_returned_attention_equals_manual_softmax(causal, layer):
    probe = make_probe(causal=causal)
    model = probe.model
    with torch.inference_mode():
        h = model.embed_tokens(probe.x)
        for block in model.blocks[:layer]:
            h = block(h)[0]
        block = model.blocks[layer]
        x = block.ln1(h)
        q, k = block.attn.split(block.attn.q(x)), block.attn.split(block.attn.k(x))
        scores = q @ k.transpose(-2, -1) / math.sqrt(block.attn.d_head)
        if causal:
            scores = scores.masked_fill(torch.triu(torch.ones(7, 7, dtype=torch.bool), 1), float("-inf"))
        manual = torch.softmax(scores, -1)[0].numpy()
    got = run_model(probe).self_attention[layer]
    np.testing.assert_allclose(got, manual, atol=1e-6)


def test_rows_sum_to_one_and_causal_rows_are_zero_above_diagonal():
    att = run_model(make_probe(causal=True)).self_attention
    for a in att:
        np.testing.assert_allclose(a.sum(-1), 1.0, atol=1e-5)
        assert np.all(np.triu(a, 1) == 0)
    steps = step_through(make_probe(causal=True), 1, 2)
    assert np.all(np.triu(steps.weights, 1) == 0) and np.all(~np.triu(steps.allowed, 1))
    assert np.all(np.isneginf(steps.masked[~steps.allowed]))


@pytest.mark.parametrize("kw", [dict(causal=True), dict(causal=False, positions="learned"),
                                dict(features=True, positions="none"), dict(cross=True)])
def test_step_through_matches_model_weights_and_per_head_output(kw):
    probe = make_probe(**kw)
    for layer in range(2):
        diffs = verify(probe, layer)
        assert diffs["weights"] < 1e-5 and diffs["output"] < 1e-5, diffs
    if kw.get("cross"):
        diffs = verify(probe, 1, kind="cross")
        assert diffs["weights"] < 1e-5 and diffs["output"] < 1e-5, diffs
        steps = step_through(probe, 1, 0, kind="cross")
        assert steps.weights.shape == (7, 5) and steps.allowed is None


def test_step_through_shapes_and_formula():
    probe = make_probe()
    s = step_through(probe, 0, 1, temperature=2.0)
    assert s.q.shape == s.k.shape == s.v.shape == (7, 4) and s.token_embeddings.shape == (7, 16)
    np.testing.assert_allclose(s.token_embeddings + s.positions, s.layer_input, atol=1e-6)
    np.testing.assert_allclose(s.scores, s.q @ s.k.T, atol=1e-5)
    np.testing.assert_allclose(s.scaled, s.scores / 2.0, atol=1e-6)  # sqrt(d_k) = 2
    e = np.exp(np.where(s.allowed, s.scaled / 2.0, -np.inf))
    np.testing.assert_allclose(s.weights, e / e.sum(-1, keepdims=True), atol=1e-6)
    np.testing.assert_allclose(s.output, s.weights @ s.v, atol=1e-5)
    hot, cold = step_through(probe, 0, 1, temperature=5.0), step_through(probe, 0, 1, temperature=0.2)
    assert hot.weights[-1].max() < s.weights[-1].max() < cold.weights[-1].max()


def test_neuron_view_decomposes_the_dot_product():
    s = step_through(make_probe(), 1, 3)
    n = neuron_view(s, 5)
    np.testing.assert_allclose(n.qk.sum(-1), s.scores[5], atol=1e-5)
    np.testing.assert_allclose(n.weights, s.weights[5])
    with pytest.raises(InputError):
        neuron_view(s, 7)


def test_rollout_of_identity_is_identity_and_rows_stay_stochastic():
    eye = np.eye(6, dtype=np.float32)
    np.testing.assert_allclose(rollout([eye, eye, eye]), eye)
    att = [head_average(a) for a in run_model(make_probe()).self_attention]
    r = rollout(att)
    np.testing.assert_allclose(r.sum(-1), 1.0, atol=1e-5)
    assert np.all(np.triu(r, 1) < 1e-7)  # causal in, causal out
    np.testing.assert_allclose(rollout(att[:1], residual=0.0), att[0], atol=1e-6)


def test_hide_special_tokens_and_head_view_lines():
    probe = make_probe()
    a = run_model(probe).self_attention[0]
    keep = keep_indices(probe.special, 7, hide=True)
    assert keep == list(range(1, 7)) and keep_indices(probe.special, 7, hide=False) == list(range(7))
    sub = hide_tokens(a, keep, keep)
    assert sub.shape == (4, 6, 6)
    np.testing.assert_allclose(sub.sum(-1), 1.0, atol=1e-5)
    lines = head_view_lines(a, heads=[0, 2], query=3, min_weight=0.0)
    assert {(h, i) for h, i, _, _ in lines} == {(0, 3), (2, 3)} and len(lines) == 8  # causal: keys 0..3


def test_csv_export_and_labels():
    labels = token_labels(["<bos>", "a", " ", "a"])
    assert labels == ["0:<bos>", "1:a", "2:␣", "3:a"] and len(set(labels)) == 4
    text = matrix_csv(np.array([[1.0, -np.inf], [0.25, 0.75]]), labels[:2], ["k0", "k1"])
    assert text.splitlines() == [",k0,k1", "0:<bos>,1,-inf", "1:a,0.25,0.75"]


def test_bad_indices_raise_input_error():
    probe = make_probe()
    for kw in (dict(layer=2), dict(head=4), dict(kind="cross"), dict(temperature=0.0)):
        with pytest.raises(InputError):
            step_through(probe, **{"layer": 0, "head": 0, **kw})
