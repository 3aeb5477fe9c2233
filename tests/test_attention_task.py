"""The explorer's own char Transformer: data, vocabulary, load/evaluate/generate, probe, CLI and a training smoke."""

import json

import numpy as np
import pytest
import torch

from seqcore.cli import main
from seqcore.errors import InputError
from seqcore.generate import LMStepper
from seqcore.tasks import attention
from seqcore.tasks.attention_maths import run_model, verify
from seqcore.tasks.probe import probe_for, transformer_checkpoints


@pytest.fixture(scope="module")
def own():
    found = [c for c in transformer_checkpoints() if c.name == attention.DEFAULT_NAME]
    assert found, "the shipped checkpoint is missing: run `seqcore train attention --shipped`"
    return found[-1]


def test_sentences_are_real_and_the_split_is_disjoint():
    sentences = attention.load_sentences()
    assert len(sentences) == 8530
    split = attention.split_sentences(sentences)
    assert sum(len(v) for v in split.values()) == len(sentences)
    assert not set(split["test"]) & set(split["val"]) - set(split["train"])  # duplicates aside
    assert split == attention.split_sentences(sentences)  # seeded


def test_vocab_maps_unknown_characters_to_unk_and_keeps_labels():
    vocab = attention.CharVocab(list(" aikm"))
    ids = vocab.encode("我是mIka")
    unk, bos = attention.SPECIALS.index("<unk>"), attention.SPECIALS.index("<bos>")
    assert ids[:3] == [bos, unk, unk]
    assert ids[3:] == [vocab.id("m"), vocab.id("i"), vocab.id("k"), vocab.id("a")]  # "I" reads as "i"
    batch = attention.encode_batch(vocab, ["am", "kim kim"], length=4)
    assert batch.shape == (2, 5) and batch[0, 3:].tolist() == [0, 0]


def test_load_gives_the_model_with_its_vocabulary_and_evaluate_repeats_the_card(own):
    lm, card = attention.load(own)
    assert lm.vocab.chars == card["vocab"]["chars"] and lm.model.config.vocab_size == lm.vocab.size
    assert lm.name == own.name and not lm.model.training
    assert attention.best_name() == attention.DEFAULT_NAME
    assert attention.load()[1]["name"] == attention.DEFAULT_NAME  # None: the best by held-out bits per char
    got = attention.evaluate(lm)
    # the card was scored before the weights were stored in fp16
    assert got["test_bits_per_char"] == pytest.approx(card["metrics"]["test_bits_per_char"], abs=0.01)
    for key in ("baseline_unigram_bits_per_char", "baseline_bigram_bits_per_char"):
        assert got[key] == card["metrics"][key]
    assert attention.evaluate(lm, limit=16)["test_sentences"] == 16


def test_generate_samples_one_cached_step_per_character(own):
    lm, _ = attention.load(own)
    text = attention.generate(lm, "the movie is ", n=30, seed=1)
    assert len(text) == 30 and text == attention.generate(lm, "the movie is ", n=30, seed=1)
    assert text != attention.generate(lm, "the movie is ", n=30, seed=2)
    # each cached step gives the logits that re-running the whole prefix gives
    ids = lm.vocab.encode("the movie is " + text)
    with torch.inference_mode():
        full = lm.model(torch.tensor([ids])).y[0]  # (T, V)
    stepper = LMStepper(lm.model, lm.model.config.max_len)
    stepped = torch.stack([stepper.feed(ids[:13])] + [stepper.feed([i]) for i in ids[13:]])
    torch.testing.assert_close(stepped, full[12:], rtol=1e-4, atol=1e-4)


def test_probe_on_the_lectures_example(own):
    probe = probe_for(own, "我是mika")
    assert probe.tokens == ["<bos>", "我", "是", "m", "i", "k", "a"]
    assert probe.special == [True] + [False] * 6
    assert "我" in probe.note and "<unk>" in probe.note
    assert probe.x.shape == (1, 7) and probe.x[0, 1] == attention.SPECIALS.index("<unk>")
    got = run_model(probe)
    assert len(got.self_attention) == own.card["config"]["n_layers"]
    for a in got.self_attention:
        np.testing.assert_allclose(a.sum(-1), 1.0, atol=1e-5)
        assert np.all(np.triu(a, 1) == 0)
    diffs = verify(probe, 1)
    assert diffs["weights"] < 1e-5 and diffs["output"] < 1e-5


def test_probe_rejects_empty_and_too_long_text(own):
    for text in ("", "   ", "x" * (attention.MAX_CHARS + 1)):
        with pytest.raises(InputError):
            attention.attention_probe(own, text)
    assert probe_for(own, None).tokens[1:] == list(attention.EXAMPLE)


def test_shipped_card_is_complete_and_beats_the_baselines(own):
    card = own.card
    for key in ("data", "metrics", "train_seconds", "device", "command", "hyperparameters", "vocab"):
        assert card.get(key), key
    m = card["metrics"]
    assert m["test_bits_per_char"] < m["baseline_bigram_bits_per_char"] < m["baseline_unigram_bits_per_char"]
    assert card["command"].startswith("seqcore train attention")
    assert card["dtype"] == "float16"


def test_cli_prints_tokens_and_heads_by_t_by_t(capsys, own):
    assert main(["attention", "--model", own.name, "--text", "我是mika"]) == 0
    out = json.loads(capsys.readouterr().out)
    cfg = own.card["config"]
    assert out["tokens"] == ["<bos>", "我", "是", "m", "i", "k", "a"]
    assert np.array(out["layers"]).shape == (cfg["n_layers"], cfg["n_heads"], 7, 7)
    assert main(["attention", "--text", "ok"]) == 0  # the explorer's own model is the default
    capsys.readouterr()


@pytest.mark.parametrize("argv", [["attention", "--model", "no-such-model"],
                                  ["attention", "--text", "y" * 500],
                                  ["attention", "--text", ""]])
def test_cli_bad_input_exits_2(capsys, argv):
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "seqcore: error:" in captured.err


def test_train_smoke_writes_a_loadable_checkpoint(tmp_path, capsys):
    torch.set_num_threads(1)
    assert main(["train", "attention", "--seconds", "1", "--epochs", "1", "--out", str(tmp_path),
                 "--name", "smoke"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["metrics"]) >= {"test_bits_per_char", "baseline_unigram_bits_per_char"}
    assert (tmp_path / "smoke.safetensors").exists() and (tmp_path / "smoke.json").exists()


def test_every_registered_transformer_can_be_stepped_through():
    """The explorer is model-agnostic: each task's probe (as the pages land) passes the same checks."""
    for info in transformer_checkpoints():
        probe = probe_for(info, None)
        got = run_model(probe)
        assert len(probe.tokens) == probe.x.shape[1], info.name
        for kind, layers in (("self", got.self_attention), ("cross", got.cross_attention)):
            if layers is None:
                continue
            np.testing.assert_allclose(layers[0].sum(-1), 1.0, atol=1e-4, err_msg=info.name)
            diffs = verify(probe, 0, kind)
            assert diffs["weights"] < 1e-4 and diffs["output"] < 1e-4, (info.name, kind, diffs)
