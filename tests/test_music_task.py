"""Char LSTM / Transformer on tunes: training, carried state, KV cache, sampling, scoring, CLI."""

import dataclasses
import io
import json
import math
import zipfile

import pytest
import torch

from seqcore.checkpoints import info_at, list_checkpoints, zip_bytes
from seqcore.cli import build_parser, main
from seqcore.commands.music import config_from_args
from seqcore.data.music import load_corpus
from seqcore.errors import InputError
from seqcore.generate import LMStepper, filter_logits
from seqcore.models import Transformer
from seqcore.tasks import music
from seqcore.tasks.music_ngram import CharNGram

TUNE = "M:6/8\nL:1/8\nK:D\n|:A|dfa agf|gfe fed|"


@pytest.fixture(scope="module")
def corpus():
    return load_corpus()


@pytest.fixture(scope="module")
def tiny():
    """A tiny trained LSTM and Transformer (tiny_config), also saved as user checkpoints for the CLI tests."""
    torch.set_num_threads(1)
    out = {}
    for kind in music.KINDS:
        lm, card = music.train(dataclasses.replace(music.tiny_config(), kind=kind), device=torch.device("cpu"))
        music.save(lm, card, f"music-test-{kind}")
        out[kind] = music.load(f"music-test-{kind}")[0]  # the fp16 round trip, as the page loads it
        out[kind + "-card"] = card
    return out


def test_training_reports_and_improves(tiny):
    card = tiny["lstm-card"]
    assert card["training"]["result"]["steps"] == 20
    assert card["metrics"]["val_bits_per_char"] < 6.3  # log2(76) = 6.25 untrained
    assert card["config"]["kind"] == "lstm" and card["hyperparameters"]["n_params"] > 0


@pytest.mark.parametrize("kind", music.KINDS)
def test_same_seed_same_tune_and_prime_kept(tiny, kind):
    lm = tiny[kind]
    a = music.generate(lm, TUNE, length=120, seed=3)
    assert a.abc == music.generate(lm, TUNE, length=120, seed=3).abc
    assert a.abc.startswith(TUNE) and a.n_new <= 120
    assert a.abc != music.generate(lm, TUNE, length=120, seed=4).abc


def test_lstm_carried_state_equals_full_rerun(tiny):
    lm = tiny["lstm"]
    ids = lm.encode("\n\n" + TUNE)
    with torch.inference_mode():
        full = lm.logits(ids[None])[0]
        step = LMStepper(lm.model, lm.seq_len)
        parts = [step.feed(ids[:5].tolist())] + [step.feed([int(i)]) for i in ids[5:]]
    assert torch.allclose(torch.stack(parts), full[4:], atol=1e-5)


def test_transformer_kv_cache_equals_full_rerun(tiny):
    lm = tiny["transformer"]
    ids = lm.encode("\n\n" + TUNE)
    with torch.inference_mode():
        full = lm.logits(ids[None])[0]
        step = LMStepper(lm.model, lm.seq_len)
        parts = [step.feed(ids[:5].tolist())] + [step.feed([int(i)]) for i in ids[5:]]
    assert torch.allclose(torch.stack(parts), full[4:], atol=1e-4)


def test_transformer_generates_past_its_context(tiny):
    g = music.generate(tiny["transformer"], "", length=300, seed=0, stop_at_end=False)
    assert g.n_new == 300


def test_top_k_one_is_greedy_and_top_p_filters():
    logits = torch.tensor([1.0, 3.0, 2.0, 0.5])
    assert torch.isinf(filter_logits(logits, 1, None)).sum() == 3
    kept = filter_logits(logits, None, 0.6)
    assert not torch.isinf(kept[1]) and torch.isinf(kept[3])
    assert not torch.isinf(filter_logits(logits, None, None)).any()


def test_bad_primes_and_settings_say_what_to_change(tiny):
    lm = tiny["lstm"]
    with pytest.raises(InputError, match="not notes"):
        music.generate(lm, "hello world")
    with pytest.raises(InputError, match="vocabulary"):
        music.generate(lm, "K:D\nabc€")
    with pytest.raises(InputError, match="temperature"):
        music.generate(lm, TUNE, temperature=0)
    assert music.check_prime(lm, "M:6/8\nL:1/8\nK:D\n") == "M:6/8\nL:1/8\nK:D\n"


def test_bits_per_char_matches_cross_entropy(tiny):
    lm = tiny["lstm"]
    text = TUNE * 3
    ids = lm.encode("\n\n" + text)
    with torch.inference_mode():
        ce = torch.nn.functional.cross_entropy(lm.logits(ids[None, :-1])[0], ids[1:])
    assert music.bits_per_char(lm, text, window=1000) == pytest.approx(float(ce) / 0.6931472, rel=1e-4)
    assert music.score_abc(lm, "X:1\nT:x\n" + TUNE)["n_tunes"] == 1
    with pytest.raises(InputError):
        music.score_abc(lm, "no tune here")


def test_ngram_is_normalised_and_learns(corpus):
    text = "".join(corpus.train[:50])
    g = CharNGram(5).fit(text)
    assert sum(g.prob("abc", c) for c in g.vocab) == pytest.approx(1.0, abs=0.02)
    assert g.bits_per_char(text[:2000]) < g.bits_per_char("".join(reversed(text[:2000])))


def test_download_zip_round_trips(tiny, tmp_path):
    lm = tiny["lstm"]
    with zipfile.ZipFile(io.BytesIO(zip_bytes(music.save, lm, lm.card, lm.name))) as z:
        assert sorted(z.namelist()) == ["music-test-lstm.json", "music-test-lstm.safetensors"]
        z.extractall(tmp_path)
    again, card = music.load(info_at(tmp_path / "music-test-lstm"))
    assert card["dtype"] == "float16" and card["config"] == lm.card["config"]
    assert music.generate(again, TUNE, length=50, seed=1).abc == music.generate(lm, TUNE, length=50, seed=1).abc


def test_evaluate_scores_held_out_tunes_beside_the_5gram(tiny):
    m = music.evaluate(tiny["lstm"], limit=8)
    assert m["test_tunes"] == 8 and m["score_window_chars"] == music.SCORE_WINDOW
    assert all(math.isfinite(m[k]) and m[k] > 0 for k in ("test_bits_per_char", "val_bits_per_char",
                                                          "baseline_5gram_test_bits_per_char"))
    test = "".join(t + "\n\n" for t in load_corpus().test[:8])
    assert m["test_bits_per_char"] == round(music.bits_per_char(tiny["lstm"], test), 4)
    sampled = music.evaluate(tiny["lstm"], limit=8, samples=2, baseline=False)
    assert sampled["samples"] == 2 and 0 <= sampled["constrained_sample_bar_match_share"] <= 1
    assert "baseline_5gram_test_bits_per_char" not in sampled


def test_training_defaults_live_in_the_config():
    """The CLI, the page and `make models` start from the one music.Config: only what they name differs."""
    for kind in music.KINDS:
        cli = config_from_args(build_parser().parse_args(["train", "music", "--model", kind]))
        page = music.page_config(kind)
        assert cli == music.Config(kind=kind)
        assert (page.resolved("lr"), page.window, page.resolved("batch_size"), page.patience) == (
            cli.resolved("lr"), cli.window, cli.resolved("batch_size"), cli.patience)
        assert cli.train_config().lr == music.KIND_DEFAULTS[kind]["lr"] == cli.to_dict()["lr"]
        shipped = music.load(music.DEFAULT_CHECKPOINTS[kind])[1]  # the defaults are what the shipped runs used
        assert music.Config(kind=kind).window == shipped["config"]["seq_len"]
        assert music.KIND_DEFAULTS[kind]["batch_size"] == shipped["hyperparameters"]["batch_size"]
    with pytest.raises(InputError, match="size"):
        music.build(music.Config(kind="transformer", size="mit"))


def test_load_none_is_the_lowest_held_out_bits_per_char():
    ranked = [c for c in list_checkpoints("music") if "test_bits_per_char" in c.card.get("metrics", {})]
    assert ranked, "the shipped music checkpoints carry held-out bits/char"
    best = min(ranked, key=lambda c: c.card["metrics"]["test_bits_per_char"])
    assert music.best_name() == best.name
    lm, card = music.load()
    assert lm.name == best.name and card["metrics"]["test_bits_per_char"] == best.card["metrics"]["test_bits_per_char"]
    assert music.load("transformer")[0].name == "music-transformer"


def test_cli_train_saves_scores_as_shipped_and_saves_again(tmp_path, capsys):
    code = main(["train", "music", "--model", "lstm", "--size", "tiny", "--max-steps", "4", "--eval-every", "2",
                 "--samples", "1", "--out", str(tmp_path), "--name", "music-cli-test"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["train"]["steps"] == 4
    card = json.loads((tmp_path / "music-cli-test.json").read_text())
    assert card["metrics"] == out["metrics"] and card["metrics"]["samples"] == 1
    assert card["metrics"]["test_bits_per_char"] > card["metrics"]["baseline_5gram_test_bits_per_char"]  # 4 steps
    assert card["dtype"] == "float16" and card["training"]["kind"] == "lstm"
    lm, _ = music.load(info_at(tmp_path / "music-cli-test"))
    assert music.evaluate(lm, baseline=False)["test_bits_per_char"] == card["metrics"]["test_bits_per_char"]


def test_attention_probe_on_any_text(tiny):
    from seqcore.checkpoints import find_checkpoint

    probe = music.attention_probe(find_checkpoint("music-test-transformer", "music"), "K:D\nabc€ def")
    assert isinstance(probe.model, Transformer) and probe.x.shape == (1, len(probe.tokens))
    assert "removed" in probe.note
    out = probe.model(probe.x, return_attention=True)
    assert out.attentions[0].shape[-1] == probe.x.shape[1]


def test_cli_generate_score_and_bad_input(tiny, tmp_path, capsys):
    abc, wav, mid = tmp_path / "t.abc", tmp_path / "t.wav", tmp_path / "t.mid"
    code = main(["music", "generate", "--model", "music-test-lstm", "--prime", "M:6/8\\nL:1/8\\nK:D\\nABc def|",
                 "--length", "80", "--seed", "2", "--abc", str(abc), "--wav", str(wav), "--midi", str(mid)])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["abc"].startswith("M:6/8\nL:1/8\nK:D\nABc def|")
    assert out["notes_parsed"]["notes"] > 0 and wav.read_bytes()[:4] == b"RIFF" and mid.read_bytes()[:4] == b"MThd"
    code = main(["music", "score", "--abc", str(abc), "--model", "music-test-transformer"])
    scored = json.loads(capsys.readouterr().out)
    assert code == 0 and scored["n_tunes"] == 1 and scored["bits_per_char"] > 0
    assert main(["music", "generate", "--model", "music-test-lstm", "--prime", "hello there"]) == 2
    assert "not notes" in capsys.readouterr().err
    assert main(["music", "score", "--abc", str(tmp_path / "missing.abc")]) == 2


def test_shipped_cards_are_complete_and_beat_the_5gram():
    from seqcore.checkpoints import list_checkpoints

    shipped = [c for c in list_checkpoints("music") if c.source == "shipped"]
    assert {c.name for c in shipped} >= {"music-lstm", "music-transformer"}
    for c in shipped:
        card, m = c.card, c.card["metrics"]
        assert card["command"].startswith("seqcore train music --model")
        assert card["data"]["tunes"]["test"] > 250 and card["data"]["vocab_size"] == len(card["config"]["vocab"])
        assert card["train_seconds"] > 0 and card["device"] and card["dtype"] == "float16"
        assert m["test_bits_per_char"] < m["baseline_5gram_test_bits_per_char"], c.name
        assert c.stem.with_suffix(".safetensors").stat().st_size < 5e6


@pytest.mark.slow
def test_small_lstm_beats_the_5gram_in_300_steps(corpus):
    torch.set_num_threads(1)
    lm, _ = music.train(music.Config(kind="lstm", size="small", seq_len=100, epochs=5, max_steps=300, batch_size=32,
                                     eval_every=100), device=torch.device("cpu"))
    five_gram = CharNGram(5).fit("\n\n" + "".join(t + "\n\n" for t in corpus.train))
    test = "".join(t + "\n\n" for t in corpus.test)
    assert music.bits_per_char(lm, test) < five_gram.bits_per_char(test)


@pytest.mark.parametrize("constrain", [True, False])
def test_generation_records_the_probability_of_each_generated_character(tiny, constrain):
    g = music.generate(tiny["lstm"], TUNE, length=150, temperature=0.8, seed=5, constrain=constrain)
    assert len(g.probs) == len(g.entropy) == g.n_new
    assert all(0 < p <= 1 for p in g.probs) and all(e >= 0 for e in g.entropy)
    assert len(g.char_probs) == len(g.abc) and g.char_probs[:len(TUNE)] == [None] * len(TUNE)
    assert g.char_probs[len(TUNE):] == g.probs[:len(g.abc) - len(TUNE)]
    sure = music.generate(tiny["lstm"], TUNE, length=60, top_k=1, seed=5, constrain=constrain)
    assert set(sure.probs) == {1.0} and max(sure.entropy) == 0  # greedy: the distribution sampled is one-hot


def test_cli_generate_reports_novelty_and_structure_and_flags_a_copy(tiny, capsys):
    code = main(["music", "generate", "--model", "music-test-lstm", "--length", "120", "--seed", "2"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["nearest_tune"] is None or isinstance(out["nearest_tune"], int)
    assert 0 <= out["overlap"] <= 1 and out["shared_run"] >= 0 and out["close_threshold"] == music.CLOSE
    assert out["close"] == (out["nearest_tune"] is not None and out["overlap"] >= music.CLOSE)
    assert isinstance(out["parts"], list) and isinstance(out["balanced_repeats"], bool)
    assert isinstance(out["whole_parts"], bool)
    # a training tune given as the prime comes back flagged as close to that very tune
    tunes = music.training_index().tunes
    planted = next(i for i, t in enumerate(tunes) if 300 < len(t) < 1500 and "[" not in t and '"' not in t)
    code = main(["music", "generate", "--model", "music-test-lstm", "--prime", tunes[planted].replace("\n", "\\n"),
                 "--length", "1", "--seed", "0"])
    copied = json.loads(capsys.readouterr().out)
    assert code == 0 and copied["nearest_tune"] == planted and copied["close"] and copied["overlap"] > 0.9
    assert copied["shared_run"] >= 20 and copied["parts"]
