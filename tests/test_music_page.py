"""The music page through AppTest: generate, compare, bad prime, train a tiny model, hum a WAV."""

import math

import torch

from seqcore import audio
from tests.conftest import make_app, open_page


def sine_wav(pitches, seconds=0.5, sr=16_000, amp=0.5):
    t = torch.arange(int(seconds * sr)) / sr
    x = torch.cat([amp * torch.sin(2 * math.pi * audio.midi_to_hz(p) * t) for p in pitches])
    return _wav16k(x, sr)


def _wav16k(x, sr):
    import io
    import wave

    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes((x * 32767).to(torch.int16).numpy().tobytes())
    return buf.getvalue()


def test_generate_and_compare(app):
    open_page("music", app)
    app.selectbox(key="music-preset").select("Jig in D (6/8)").run()
    assert app.text_area(key="music-prime").value == "M:6/8\nL:1/8\nK:D\n"
    app.slider(key="music-length").set_value(200)
    app.button(key="music-generate").click().run()
    assert not app.exception and not app.error, app.error
    tune = [c.value for c in app.get("code") if not c.value.startswith("/music?")][0]  # [0] is the Copy link URL
    assert tune.startswith("M:6/8\nL:1/8\nK:D\n")
    labels = [m.label for m in app.metric]
    assert "Bars matching the meter" in labels and "Generated in" in labels
    assert len(app.get("audio")) >= 1
    app.button(key="music-compare").click().run()
    assert not app.exception and not app.error
    assert sum(m.label == "Bars matching the meter" for m in app.metric) == 2


def test_bad_prime_shows_an_error_and_keeps_the_text(app):
    open_page("music", app)
    app.text_area(key="music-prime").input("hello world").run()
    app.button(key="music-generate").click().run()
    assert not app.exception
    assert any("not notes" in e.value for e in app.error)
    assert app.text_area(key="music-prime").value == "hello world"


def test_train_a_tiny_model_and_use_it(app):
    open_page("music", app)
    app.selectbox(key="music-train-size").select("tiny").run()
    app.number_input(key="music-train-steps").set_value(10).run()
    app.button(key="music-train").click().run()
    job = app.session_state["music-train-job"]
    assert job.wait(120) and job.error is None, job.error
    app.run()
    assert not app.exception
    assert any("Trained" in s.value for s in app.success)
    assert "Your trained model" in app.radio(key="music-model").options
    app.radio(key="music-model").set_value("yours").run()
    app.button(key="music-generate").click().run()
    assert not app.exception and not app.error


def test_keep_a_trained_transformer_it_opens_in_the_explorer_and_delete_removes_it(app, home):
    """Kept: in the user registry, offered under Generate in a new session (a restart leaves only the files), listed
    on the home page and in the attention explorer, which opens it; Delete on the home page removes it everywhere."""
    open_page("music", app)
    app.radio(key="music-train-kind").set_value("transformer")
    app.selectbox(key="music-train-size").select("tiny")
    app.number_input(key="music-train-steps").set_value(10).run()
    app.button(key="music-train").click().run()
    job = app.session_state["music-train-job"]
    assert job.wait(120) and job.error is None, job.error
    app.run()
    app.button(key="music-keep").click().run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    name = app.session_state["music-keep-kept"]["name"]
    (kept,) = [s.value for s in app.success if s.value.startswith("Kept as")]
    assert name == "music-transformer-tiny" and "attention explorer" in kept and f"--model {name}" in kept
    assert (home / "checkpoints" / f"{name}.safetensors").exists()

    fresh = open_page("music")  # a new session
    fresh.radio(key="music-model").set_value(name)
    fresh.slider(key="music-length").set_value(100)
    fresh.button(key="music-generate").click().run()
    assert not fresh.exception and not fresh.error, [e.value for e in fresh.error]
    assert fresh.query_params["model"] == name  # a link can name a kept model

    explorer = open_page("attention")
    labels = explorer.selectbox(key="attention-model").options
    assert f"{name} (music, user)" in labels
    explorer.selectbox(key="attention-model").set_value(labels.index(f"{name} (music, user)")).run()
    assert not explorer.exception and not explorer.error, [e.value for e in explorer.error]
    assert explorer.query_params["model"] == name

    front = make_app()
    front.run()
    front.button(key=f"home-delete-{name}").click().run()
    assert any(f"Deleted {name}" in s.value for s in front.success)
    explorer.run()
    assert f"{name} (music, user)" not in explorer.selectbox(key="attention-model").options
    assert not explorer.exception
    fresh.run()  # the session that had it chosen falls back to a model that exists
    assert not fresh.exception and f"{name} (kept)" not in fresh.radio(key="music-model").options
    assert fresh.radio(key="music-model").value == "lstm" and fresh.query_params["model"] == "lstm"


def test_hum_upload_becomes_a_prime_and_bad_audio_is_refused(app):
    open_page("music", app)
    app.file_uploader(key="music-hum-file").set_value(("hum.wav", sine_wav([72, 76, 79, 77]), "audio/wav")).run()
    assert not app.exception and not app.error, app.error
    assert any(c.value.startswith("M:4/4\nL:1/8\nK:C\nc2 e2 g2 f2") for c in app.get("code"))
    app.button(key="music-hum-continue").click().run()
    assert not app.exception and not app.error
    assert any("continued" in m.value for m in app.markdown)
    app.file_uploader(key="music-hum-file").set_value(("quiet.wav", sine_wav([60], amp=0.0), "audio/wav")).run()
    assert any("silent" in e.value for e in app.error)
    app.file_uploader(key="music-hum-file").set_value(("x.wav", b"not a wav at all", "audio/wav")).run()
    assert any("WAV" in e.value for e in app.error)


def test_keep_time_toggle_and_the_bar_check_beside_the_tune(app):
    open_page("music", app)
    assert app.toggle(key="music-constrain").value is True  # meter-aware decoding is on by default
    app.selectbox(key="music-preset").select("Reel in G (4/4)").run()
    app.slider(key="music-length").set_value(300)
    app.button(key="music-generate").click().run()
    assert not app.exception and not app.error, app.error
    said = [c.value for c in app.caption]
    assert any("bars have the right length (meter-aware decoding)" in c for c in said), said
    tune = app.session_state["music-results"][0]["tune"]
    assert tune["bars"].matching >= tune["bars"].bars - 2  # all but a pick-up and an unfinished last bar
    app.toggle(key="music-constrain").set_value(False).run()
    app.button(key="music-generate").click().run()
    assert not app.exception and not app.error
    assert any("(raw model, no meter-aware decoding)" in c.value for c in app.caption)
    assert app.session_state["music-results"][0]["tune"]["abc"] != tune["abc"]


def _roll_specs(app) -> list[dict]:
    import json

    return [json.loads(c.proto.spec) for c in app.get("plotly_chart")
            if "Piano roll" in json.dumps(json.loads(c.proto.spec).get("layout", {}).get("title", ""))]


def test_novelty_structure_and_confidence_beside_a_generated_tune(app):
    open_page("music", app)
    app.selectbox(key="music-preset").select("Jig in D (6/8)").run()
    app.slider(key="music-length").set_value(300)
    app.button(key="music-generate").click().run()
    assert not app.exception and not app.error, app.error
    said = [m.value for m in app.markdown]
    novelty = [m for m in said if m.startswith("**Novelty:**")]
    assert novelty and ("nearest training tune #" in novelty[0] or "no run of" in novelty[0]), said
    assert any(m.startswith("**Structure:**") and "bars" in m and "repeats" in m for m in said), said
    gen = app.session_state["music-results"][0]["gen"]
    if gen["novelty"].nearest is not None:  # the nearest training tune is there to read
        assert any(e.label == f"Training tune #{gen['novelty'].nearest}" for e in app.expander)
        assert any(c.value == gen["novelty"].nearest_tune for c in app.get("code"))
    # the piano roll is coloured by the model's probability of each note, with a colour bar
    assert any("probability the model gave its letter" in c.value for c in app.caption)
    (roll,) = _roll_specs(app)
    marker = roll["data"][0]["marker"]
    assert marker["showscale"] and marker["cmin"] == 0 and marker["cmax"] == 1 and "colorbar" in marker
    probs = [p for p in gen["confidence"] if p is not None]
    assert len(probs) >= 0.8 * len(gen["confidence"])  # all but the prime's (none here) and ornaments
    assert all(0 < p <= 1 for p in probs)


def test_a_copied_training_tune_is_flagged_on_the_page(app, monkeypatch):
    from seqcore.tasks import music

    planted = 77
    tune = music.training_index().tunes[planted]
    real = music.generate

    def copy(lm, prime="", **kw):  # the model "writes" a training tune note for note
        g = real(lm, "", length=5, seed=0)
        g.abc, g.prime, g.probs = tune, "", [0.5] * len(tune)
        return g

    monkeypatch.setattr(music, "generate", copy)
    open_page("music", app)
    app.button(key="music-generate").click().run()
    assert not app.exception and not app.error, app.error
    flags = [w.value for w in app.warning if w.value.startswith(f"Close to training tune #{planted}:")]
    assert flags and f"{music.CLOSE:.0%} and above" in flags[0], [w.value for w in app.warning]
    app.toggle(key="music-tune-0-near-play").set_value(True).run()  # the training tune plays
    assert not app.exception and len(app.get("audio")) >= 2
