"""Char LSTM / Transformer on tunes: training, carried state, KV cache, sampling, scoring, CLI."""

import io
import json
import zipfile

import pytest
import torch

from seqcore.checkpoints import save_checkpoint, user_dir
from seqcore.cli import main
from seqcore.data.music import load_corpus
from seqcore.errors import InputError
from seqcore.models import Transformer
from seqcore.tasks import music
from seqcore.tasks.music_ngram import CharNGram
from seqcore.train import TrainConfig

TUNE = "M:6/8\nL:1/8\nK:D\n|:A|dfa agf|gfe fed|"


@pytest.fixture(scope="module")
def corpus():
    return load_corpus()


@pytest.fixture(scope="module")
def tiny(corpus):
    """A tiny trained LSTM and Transformer, also saved as user checkpoints for the CLI tests."""
    torch.set_num_threads(1)
    out = {}
    for kind in music.KINDS:
        lm, report = music.train_music(kind, "tiny", seq_len=64, corpus=corpus, max_train_chars=30_000,
                                       config=TrainConfig(epochs=1, max_steps=20, batch_size=16, eval_every=10),
                                       device=torch.device("cpu"))
        lm.card["name"] = f"music-test-{kind}"
        card = music.build_card(lm, corpus, report, {}, TrainConfig(), "cpu")
        save_checkpoint(lm.model, card, user_dir() / f"music-test-{kind}", half=True)
        out[kind] = music.load_lm(f"music-test-{kind}")  # the fp16 round trip, as the page loads it
        out[kind + "-report"] = report
    return out


def test_training_reports_and_improves(tiny):
    report = tiny["lstm-report"]
    assert report["train"]["steps"] == 20 and report["val_bits_per_char"] < 6.3  # log2(76) = 6.25 untrained


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
        step = music._Stepper(lm)
        parts = [step.feed(ids[:5].tolist())] + [step.feed([int(i)]) for i in ids[5:]]
    assert torch.allclose(torch.stack(parts), full[4:], atol=1e-5)


def test_transformer_kv_cache_equals_full_rerun(tiny):
    lm = tiny["transformer"]
    ids = lm.encode("\n\n" + TUNE)
    with torch.inference_mode():
        full = lm.logits(ids[None])[0]
        step = music._Stepper(lm)
        parts = [step.feed(ids[:5].tolist())] + [step.feed([int(i)]) for i in ids[5:]]
    assert torch.allclose(torch.stack(parts), full[4:], atol=1e-4)


def test_transformer_generates_past_its_context(tiny):
    g = music.generate(tiny["transformer"], "", length=300, seed=0, stop_at_end=False)
    assert g.n_new == 300


def test_top_k_one_is_greedy_and_top_p_filters():
    logits = torch.tensor([1.0, 3.0, 2.0, 0.5])
    assert torch.isinf(music._filter(logits, 1, None)).sum() == 3
    kept = music._filter(logits, None, 0.6)
    assert not torch.isinf(kept[1]) and torch.isinf(kept[3])
    assert not torch.isinf(music._filter(logits, None, None)).any()


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


def test_export_zip_round_trips(tiny):
    from safetensors.torch import load as st_load

    lm = tiny["lstm"]
    with zipfile.ZipFile(io.BytesIO(music.export_zip(lm))) as z:
        names = sorted(z.namelist())
        card = json.loads(z.read(names[0]))
        state = st_load(z.read(names[1]))
    again = music.lm_from_state(state, card)
    assert music.generate(again, TUNE, length=50, seed=1).abc == music.generate(lm, TUNE, length=50, seed=1).abc


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
    if not shipped:
        pytest.skip("no shipped music checkpoints")
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
    lm, report = music.train_music("lstm", "small", seq_len=100, corpus=corpus, device=torch.device("cpu"),
                                   config=TrainConfig(epochs=5, max_steps=300, batch_size=32, eval_every=100))
    five_gram = CharNGram(5).fit("\n\n" + "".join(t + "\n\n" for t in corpus.train))
    test = "".join(t + "\n\n" for t in corpus.test)
    assert music.bits_per_char(lm, test) < five_gram.bits_per_char(test)
