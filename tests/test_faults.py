"""Faults (issue #8): live data failing half-way, training that crashes or is stopped, broken shipped files.

Three groups, each through the real pages (AppTest) plus a few direct checks of seqcore.data.live:
- Yahoo Finance answers part of a download, fails part-way, or the disk cache cannot be written: the
  forecast page keeps the real rows it got (and says what is missing) or falls back to the embedded
  GOOG data, and says why.
- A training run that raises or is stopped mid-way, on every page with a Train button: the page says
  so and the session's previous model still predicts.
- A corrupt shipped checkpoint's Retrain: the click starts the page's training with its default settings, the
  new model is used, and the shipped file is left as it is. (That every page says what is broken, once, with a
  Retrain button, and still works otherwise is tests/test_broken_checkpoints.py.)

Every test gets a fresh AppTest (function-scoped fixtures): these tests click, train and set session state.
"""

from __future__ import annotations

import dataclasses
import errno
import functools
import json
import os
import shutil
import time

import numpy as np
import pandas as pd
import pytest

from seqcore.checkpoints import shipped_dir
from seqcore.data import live
from seqcore.data.live import LiveDataError, fetch_prices
from tests import helpers
from tests.conftest import open_page
from tests.helpers import chart, garble, trace_names

# Faults are also reported in st.info (a fallback, a retrain starting): this file reads those too.
messages = functools.partial(helpers.messages, info=True)
said = functools.partial(helpers.said, info=True)


# ================================================================ live data failing half-way


def yf_frame(n: int, *, nan_tail: int = 0, nan_inside: int = 0, end: pd.Timestamp | None = None,
             ticker: str = "AAPL") -> pd.DataFrame:
    """What yf.download returns for one ticker: (field, ticker) columns, business days ending `end`
    (today by default), a random walk of closes; the last nan_tail closes and nan_inside closes in
    the middle are NaN, as when a download breaks off or skips days."""
    idx = pd.bdate_range(end=(end or pd.Timestamp.now()).normalize(), periods=n, name="Date")
    close = 100 * np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.01, n)))
    if nan_tail:
        close[-nan_tail:] = np.nan
    if nan_inside:
        close[n // 2: n // 2 + nan_inside] = np.nan
    df = pd.DataFrame({"Close": close, "Volume": np.full(n, 1e6)}, index=idx)
    df.columns = pd.MultiIndex.from_tuples([(c, ticker) for c in df.columns], names=["Price", "Ticker"])
    return df


def test_rows_then_missing_closes_keep_the_real_rows_and_are_not_cached(home):
    s = fetch_prices("AAPL", "5y", downloader=lambda *a: (yf_frame(600, nan_tail=25), ""))
    assert len(s) == 575 and np.isfinite(s.values).all()
    assert any("stopped part-way" in n and "last 25 rows" in n and "575 rows" in n for n in s.notes), s.notes
    assert not live._cache_path("AAPL", "5y", "1d").exists()  # a partial answer must not be served for an hour
    calls = []
    fetch_prices("AAPL", "5y", downloader=lambda *a: calls.append(1) or (yf_frame(600), ""))
    assert calls == [1]  # so the next Fetch really retries
    assert live._cache_path("AAPL", "5y", "1d").exists()  # and a complete answer is cached


def test_gaps_a_reported_failure_and_old_data_are_said(home):
    s = fetch_prices("MSFT", "5y", downloader=lambda *a: (yf_frame(500, nan_inside=7, ticker="MSFT"), ""))
    assert len(s) == 493 and any("7 rows inside" in n for n in s.notes), s.notes
    printed = "1 Failed download:\n['NVDA']: YFRateLimitError('Too Many Requests. Rate limited.')"
    s = fetch_prices("NVDA", "5y", downloader=lambda *a: (yf_frame(400, ticker="NVDA"), printed))
    assert any("reported a problem" in n and "Rate limited" in n for n in s.notes), s.notes
    assert not live._cache_path("NVDA", "5y", "1d").exists()
    old_end = pd.Timestamp.now() - pd.Timedelta(days=120)
    s = fetch_prices("LEHM", "1y", downloader=lambda *a: (yf_frame(100, end=old_end, ticker="LEHM"), ""))
    assert any("days before today" in n and "not from today" in n for n in s.notes), s.notes
    assert any("cover only" in n for n in s.notes), s.notes  # 100 business days of a requested year


@pytest.mark.parametrize("answer", [
    pd.DataFrame({"Close": [1.0, 2.0]}, index=["not", "dates"]),  # an index pandas cannot read as dates
    pd.DataFrame({("Open", "AAPL"): [1.0, 2.0]}),                  # no Close column
    pd.DataFrame({"Close": ["n/a", None]}),                         # nothing numeric
])
def test_a_malformed_answer_is_a_live_data_error_and_a_stale_cache_still_answers(home, answer):
    with pytest.raises(LiveDataError, match="embedded GOOG"):
        fetch_prices("AAPL", "1y", downloader=lambda *a: (answer, ""))
    fetch_prices("AAPL", "1y", downloader=lambda *a: (yf_frame(250), ""))
    old = time.time() - 7200
    os.utime(live._cache_path("AAPL", "1y", "1d"), (old, old))
    s = fetch_prices("AAPL", "1y", downloader=lambda *a: (answer, ""))
    assert len(s) == 250 and "stale" in s.source and "hours old" in s.notes[0]


_to_csv = pd.DataFrame.to_csv


def _disk_full(self, path=None, *a, **k):
    """DataFrame.to_csv into a file on a full disk: part of the file lands, then ENOSPC."""
    if path is None:  # to a string (the page's CSV download): no disk involved
        return _to_csv(self, path, *a, **k)
    with open(path, "w") as f:
        f.write("Date,Close\n2024-01-02,1\n")
    raise OSError(errno.ENOSPC, "No space left on device")


def _read_only(self, path=None, *a, **k):
    if path is None:
        return _to_csv(self, path, *a, **k)
    raise PermissionError(errno.EROFS, "Read-only file system")


@pytest.mark.parametrize("fault, words", [(_disk_full, "No space left"), (_read_only, "Read-only")])
def test_an_unwritable_cache_still_returns_the_prices_and_leaves_no_partial_file(home, monkeypatch, fault, words):
    monkeypatch.setattr(pd.DataFrame, "to_csv", fault)
    s = fetch_prices("AAPL", "5y", downloader=lambda *a: (yf_frame(300), ""))
    assert len(s) == 300 and "could not write the cache" in s.notes[0] and words in s.notes[0]
    folder = live._cache_path("AAPL", "5y", "1d").parent
    assert not folder.exists() or not any(folder.iterdir())  # no truncated CSV to trust next time


def test_an_unreadable_cache_folder_means_no_cache(home, monkeypatch):
    real_stat = type(home).stat

    def stat(self, *a, **k):
        if self.name.startswith("yf-"):
            raise PermissionError(errno.EACCES, "Permission denied")
        return real_stat(self, *a, **k)

    monkeypatch.setattr(type(home), "stat", stat)
    s = fetch_prices("AAPL", "5y", downloader=lambda *a: (yf_frame(300), ""))
    assert len(s) == 300


@pytest.fixture
def forecast_app():
    return open_page("forecast")


def fetch(at, ticker: str = "AAPL", period: str = "5y"):
    at.radio(key="forecast-source").set_value("Live (Yahoo Finance)").run()
    at.text_input(key="forecast-ticker").set_value(ticker)
    at.selectbox(key="forecast-period").set_value(period)
    at.button(key="forecast-fetch").click().run()
    assert not at.exception, at.exception
    return at


def test_page_forecasts_the_rows_a_broken_off_download_gave_and_says_so(forecast_app, home, monkeypatch):
    monkeypatch.setattr(live, "_download", lambda *a: (yf_frame(700, nan_tail=40), ""))
    at = fetch(forecast_app)
    assert said(at, "stopped part-way", "660 rows", "Fetch again"), messages(at)
    assert not at.error, [e.value for e in at.error]
    assert chart(at, "forecast-chart")["layout"]["title"]["text"] == "AAPL Close: forecast"  # the real rows, honestly
    assert "naive (random walk) median" in trace_names(at, "forecast-chart")
    assert at.dataframe[1].value["model"].size  # the backtest ran on them


def test_page_falls_back_to_goog_when_the_download_broke_off_too_early(forecast_app, home, monkeypatch):
    monkeypatch.setattr(live, "_download", lambda *a: (yf_frame(300, nan_tail=240), ""))
    at = fetch(forecast_app, "TSLA")
    assert said(at, "stopped part-way", "60 rows"), messages(at)
    assert said(at, "TSLA Close has 60 rows", "need", "embedded GOOG closes meanwhile"), messages(at)
    assert chart(at, "forecast-chart")["layout"]["title"]["text"] == "GOOG Close: forecast"
    # the shipped models still run
    assert {"LSTM median", "Transformer median"} <= set(trace_names(at, "forecast-chart"))


def _reset_mid_download(*a):
    raise ConnectionResetError("curl: (56) Recv failure: Connection reset by peer after 65536 bytes")


def _rate_limited_mid_download(*a):
    from yfinance.exceptions import YFRateLimitError

    raise YFRateLimitError()


def _garbled(*a):
    return pd.DataFrame({("Close", "AAPL"): [1.0, 2.0]}, index=["2024-01-02", "half a date"]), ""


@pytest.mark.parametrize("downloader, words", [
    (_reset_mid_download, ["could not be reached"]),
    (_rate_limited_mid_download, ["rate-limiting", "wait"]),
    (_garbled, ["could not be read"]),
])
def test_page_says_why_a_failed_download_failed_and_uses_goog(forecast_app, home, monkeypatch, downloader, words):
    monkeypatch.setattr(live, "_download", downloader)
    at = fetch(forecast_app, "AMZN")
    assert said(at, *words, "embedded GOOG"), messages(at)
    assert chart(at, "forecast-chart")["layout"]["title"]["text"] == "GOOG Close: forecast"


@pytest.mark.parametrize("fault, words", [(_disk_full, "No space left"), (_read_only, "Read-only")])
def test_page_works_with_an_unwritable_cache_and_says_so(forecast_app, home, monkeypatch, fault, words):
    monkeypatch.setattr(pd.DataFrame, "to_csv", fault)
    calls = []
    monkeypatch.setattr(live, "_download", lambda *a: calls.append(a) or (yf_frame(600), ""))
    at = fetch(forecast_app, "META")
    assert said(at, "could not write the cache", words), messages(at)
    assert chart(at, "forecast-chart")["layout"]["title"]["text"] == "META Close: forecast"
    assert not live._cache_path("META", "5y", "1d").parent.exists() or not any(
        live._cache_path("META", "5y", "1d").parent.iterdir())
    at.radio(key="forecast-source").set_value("Embedded").run()
    assert not at.exception and len(calls) == 1


# ================================================================ training that crashes or is stopped


HOWS = ["crash", "stop at once", "stop"]


def interrupt(monkeypatch, module, how: str | None = None, *, max_steps: int | None = None) -> None:
    """Patch module.fit (the training loop every seqcore task calls) to fail the way a real run does.

    crash: raise from inside training, after the first progress report (an out-of-memory, a bad batch);
    stop at once: the user presses Stop before the first step; stop: presses it after the first report.
    Evaluations come every 2 steps so "the first report" is early in the run; max_steps keeps a run tiny.
    """
    from seqcore.train import TrainConfig

    real = module.fit

    def fake(*args, on_progress=None, stop=None, **kw):
        args = [dataclasses.replace(a, eval_every=2, **({"max_steps": max_steps} if max_steps else {}))
                if isinstance(a, TrainConfig) else a for a in args]
        if how == "stop at once":
            stop.set()

        def report(p):
            if on_progress is not None:
                on_progress(p)
            if how == "crash":
                raise RuntimeError("simulated crash half-way through training")
            if how == "stop":
                stop.set()

        return real(*args, on_progress=report, stop=stop, **kw)

    monkeypatch.setattr(module, "fit", fake)


def finish(at, key: str):
    job = at.session_state[key]
    assert job.wait(240), "the training job did not finish"
    at.run()
    if at.session_state[key] is job:
        at.run()  # pages adopt a finished job, then redraw with it
    assert not at.exception, at.exception
    return job


def said_about(at, how: str) -> bool:
    if how == "crash":
        return said(at, "Training failed", "simulated crash", "previous model is still in use")
    if how == "stop at once":
        return said(at, "stopped before its first step", "previous model is still in use")
    return said(at, "stopped at step")


@pytest.mark.parametrize("how", HOWS)
def test_forecast_training_fault_keeps_the_previous_models(forecast_app, monkeypatch, how):
    from seqcore.tasks import forecasting as fc

    at = forecast_app
    at.radio(key="forecast-source").set_value("Embedded").run()
    before = {n: fc.load(fc.default_name(n))[0] for n in ("lstm", "transformer")}
    at.session_state["forecast-trained"] = dict(before)  # what this session trained earlier
    at.multiselect(key="forecast-models").set_value(["lstm", "transformer"]).run()
    assert any(c.value == "LSTM: trained in this session." for c in at.caption)
    interrupt(monkeypatch, fc, how)
    at.button(key="forecast-train").click().run()
    finish(at, "forecast-job")
    assert said_about(at, how), messages(at)
    mine = at.session_state["forecast-trained"]
    assert mine["transformer"] is before["transformer"]  # never started: the earlier one stays
    if how == "stop":  # the user kept what the LSTM learned up to the Stop, labelled as such
        assert mine["lstm"] is not before["lstm"] and mine["lstm"].stopped == "stop_flag"
    else:
        assert mine["lstm"] is before["lstm"]
    assert {"LSTM median", "Transformer median"} <= set(trace_names(at, "forecast-chart"))  # and both still forecast
    assert any(c.value == "Transformer: trained in this session." for c in at.caption)
    at.slider(key="forecast-shock").set_value(-20).run()  # the what-if still re-forecasts
    assert not at.exception and "scenario median" in trace_names(at, "forecast-whatif-chart")
    at.slider(key="forecast-shock").set_value(0).run()


@pytest.fixture
def music_app():
    return open_page("music")


def generate_with_mine(at) -> str:
    """A tune from the session's own model (the failed run's message may stay on screen; no other may)."""
    at.radio(key="music-model").set_value("yours").run()
    at.slider(key="music-length").set_value(50)
    at.button(key="music-generate").click().run()
    assert not at.exception and not at.session_state["music-error"], messages(at)
    assert all(e.value.startswith("Training failed") for e in at.error), messages(at)
    result = at.session_state["music-results"][0]
    assert result["label"] == at.session_state["music-user-lm"].name
    return result["tune"]["abc"]


@pytest.mark.parametrize("how", HOWS)
def test_music_training_fault_keeps_the_previous_model(music_app, monkeypatch, how):
    from seqcore.tasks import music

    at = music_app
    before = music.load("lstm")[0]
    at.session_state["music-user-lm"] = before
    at.run()
    interrupt(monkeypatch, music, how, max_steps=6)
    at.selectbox(key="music-train-size").select("tiny")
    at.number_input(key="music-train-steps").set_value(10)
    at.button(key="music-train").click().run()
    finish(at, "music-train-job")
    assert said_about(at, how), messages(at)
    if how == "stop":
        assert at.session_state["music-user-lm"] is not before
        assert any("Trained" in s.value and "stop_flag" in s.value for s in at.success)
    else:
        assert at.session_state["music-user-lm"] is before
        assert not any("Trained" in s.value for s in at.success)
    assert generate_with_mine(at)
    at.radio(key="music-model").set_value("lstm").run()  # the shipped model too
    at.button(key="music-generate").click().run()
    assert not at.exception and not at.session_state["music-error"] and at.session_state["music-results"]


@pytest.fixture
def sentiment_app():
    return open_page("sentiment")


def predictions(at) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if "latency (ms)" in d.value.columns)


@pytest.mark.parametrize("how", HOWS)
def test_sentiment_training_fault_keeps_the_previous_model(sentiment_app, monkeypatch, how):
    from seqcore.tasks import sentiment as S

    at = sentiment_app
    before = S.load("sentiment-lstm")[0]
    at.session_state["sentiment-own"] = before
    at.run()
    assert "Your model (this session)" in set(predictions(at)["model"])
    interrupt(monkeypatch, S, how, max_steps=4)
    at.selectbox(key="sentiment-train-size").set_value("tiny")
    at.number_input(key="sentiment-train-rows").set_value(200)
    at.number_input(key="sentiment-train-epochs").set_value(1)
    at.button(key="sentiment-train-run").click().run()
    finish(at, "sentiment-job")
    assert said_about(at, how), messages(at)
    assert (at.session_state["sentiment-own"] is before) == (how != "stop")
    rows = predictions(at)
    own = rows[rows["model"] == "Your model (this session)"]
    assert len(own) == 1 and 0 <= own["P(positive)"].iloc[0] <= 1  # the session's model still predicts
    assert {"sentiment-lstm (BiLSTM, shipped)", "VADER lexicon"} <= set(rows["model"])


@pytest.fixture
def memory_app():
    return open_page("memory_lab")


@pytest.mark.parametrize("how", HOWS)
def test_memory_lab_training_fault_keeps_the_earlier_runs(memory_app, monkeypatch, how):
    from seqcore.tasks import memory_lab as lab

    at = memory_app
    earlier = json.loads((shipped_dir() / "memory_lab_default.json").read_text())["recall"]
    at.session_state["memory-lab-runs"] = [earlier]
    at.run()
    interrupt(monkeypatch, lab, how, max_steps=6)
    at.multiselect(key="memory-lab-models").set_value(["rnn"])
    at.slider(key="memory-lab-distance").set_value(10)
    at.slider(key="memory-lab-seconds").set_value(5)
    at.checkbox(key="memory-lab-clip").uncheck()
    at.button(key="memory-lab-train").click().run()
    finish(at, "memory-lab-job")
    assert said_about(at, how), messages(at)
    runs = at.session_state["memory-lab-runs"]
    assert runs[0] is earlier and len(runs) == (2 if how == "stop" else 1)
    at.radio(key="memory-lab-view").set_value(1).run()  # the earlier run is still there to look at
    assert not at.exception and any("memory-lab-accuracy" in c.proto.id for c in at.get("plotly_chart"))


# ================================================================ Retrain after a corrupt shipped checkpoint


def no_exception(at) -> None:
    assert not at.exception, at.exception


def test_forecast_retrain_replaces_a_corrupt_checkpoint_for_the_session(shipped, monkeypatch):
    from seqcore.tasks import forecasting as fc

    broken = garble(shipped, "forecast-goog-lstm")
    at = open_page("forecast")
    interrupt(monkeypatch, fc, max_steps=4)
    at.button(key="forecast-retrain-lstm").click().run()
    no_exception(at)
    assert said(at, "Retraining LSTM with the default settings"), messages(at)
    finish(at, "forecast-job")
    model = at.session_state["forecast-trained"]["lstm"]
    assert model.fit_series == "GOOG Close" and model.cfg.horizon == fc.MAX_HORIZON  # serves every horizon
    assert "LSTM median" in trace_names(at, "forecast-chart")
    assert any(c.value == "LSTM: trained in this session." for c in at.caption)
    assert not at.error and said(at, "forecast-goog-lstm", "Your session's LSTM", "in its place"), messages(at)
    assert (shipped / "forecast-goog-lstm.safetensors").read_bytes() == broken  # the shipped file is untouched


def test_music_retrain_replaces_a_corrupt_checkpoint_for_the_session(shipped, monkeypatch):
    from seqcore.tasks import music

    broken = garble(shipped, "music-transformer")
    at = open_page("music")
    at.radio(key="music-model").set_value("transformer").run()  # the banner and its button show where it is chosen
    interrupt(monkeypatch, music, max_steps=4)
    at.button(key="music-retrain-transformer").click().run()
    no_exception(at)
    assert said(at, "Retraining the transformer", "under Train your own"), messages(at)
    finish(at, "music-train-job")
    assert at.session_state["music-user-lm"].kind == "transformer"
    assert generate_with_mine(at)
    assert (shipped / "music-transformer.safetensors").read_bytes() == broken


def test_sentiment_retrain_replaces_a_corrupt_checkpoint_for_the_session(shipped, monkeypatch):
    from seqcore.tasks import sentiment as S

    broken = garble(shipped, "sentiment-transformer")
    at = open_page("sentiment")
    assert "Your model (this session)" not in set(predictions(at)["model"])
    interrupt(monkeypatch, S, max_steps=4)
    at.button(key="sentiment-retrain-sentiment-transformer").click().run()
    no_exception(at)
    job = finish(at, "sentiment-job")
    assert at.session_state["sentiment-own"] is job.result[0] and job.result[0].kind == "transformer"
    assert "Your model (this session)" in set(predictions(at)["model"])
    assert (shipped / "sentiment-transformer.safetensors").read_bytes() == broken


def test_attention_retrain_replaces_a_corrupt_checkpoint_in_the_user_registry(shipped, monkeypatch):
    from seqcore.checkpoints import user_dir
    from seqcore.tasks import attention

    broken = garble(shipped, "attention-char-transformer")
    at = open_page("attention")
    interrupt(monkeypatch, attention, max_steps=4)
    at.button(key="attention-retrain").click().run()
    no_exception(at)
    finish(at, "attention-retrain-job")
    assert (user_dir() / "attention-char-transformer.safetensors").exists()  # the user registry, not shipped/
    at.run()
    no_exception(at)
    options = at.selectbox(key="attention-model").options
    assert options[at.selectbox(key="attention-model").index] == "attention-char-transformer (attention, user)"
    assert not at.error, messages(at)
    assert any("attention-fig" in c.proto.id for c in at.get("plotly_chart"))  # the explorer draws the new model
    assert (shipped / "attention-char-transformer.safetensors").read_bytes() == broken


# ---------------------------------------------------------------- captioning: training faults and a broken decoder


def caption_models(at) -> list[str]:
    return [c.value.split(" · ")[0] for c in at.caption if c.value.startswith("model ")]


@pytest.fixture
def caption_home(tmp_path, monkeypatch):
    """A user registry holding one captioner this session trained earlier (a renamed copy of the shipped one)."""
    monkeypatch.setenv("SEQCORE_HOME", str(tmp_path))
    from seqcore.checkpoints import user_dir

    user_dir().mkdir(parents=True)
    name = "caption-lstm-shapes-mine-000000"
    shutil.copyfile(shipped_dir() / "caption-lstm-shapes.safetensors", user_dir() / f"{name}.safetensors")
    card = json.loads((shipped_dir() / "caption-lstm-shapes.json").read_text())
    (user_dir() / f"{name}.json").write_text(json.dumps({**card, "name": name}))
    return user_dir(), name


@pytest.mark.parametrize("how", HOWS)
def test_caption_training_fault_keeps_the_previous_model(caption_home, monkeypatch, how):
    from seqcore.tasks import captioning as C

    folder, earlier = caption_home
    at = make_caption_app()
    at.session_state["captioning-mine"] = {("lstm", "shapes"): earlier}
    at.run()
    assert f"model {earlier}" in caption_models(at)
    interrupt(monkeypatch, C, how, max_steps=6)
    at.select_slider(key="captioning-train-n").set_value(500)
    at.slider(key="captioning-train-epochs").set_value(1)
    at.button(key="captioning-train").click().run()
    finish(at, "captioning-job")
    at.run()  # the page adopts a finished run at its end, so the captions above change on the next run
    assert said_about(at, how), messages(at)
    saved = sorted(p.stem for p in folder.glob("*-mine-*.safetensors"))
    if how == "stop":
        assert len(saved) == 2 and at.session_state["captioning-mine"][("lstm", "shapes")] != earlier
    else:  # nothing half-made is saved, and the session still captions with its earlier model
        assert saved == [earlier] and at.session_state["captioning-mine"][("lstm", "shapes")] == earlier
    shown = caption_models(at)
    assert f"model {at.session_state['captioning-mine'][('lstm', 'shapes')]}" in shown
    assert "model caption-transformer-shapes" in shown


def make_caption_app():
    at = open_page("captioning")
    no_exception(at)
    return at


def test_caption_retrain_replaces_a_corrupt_checkpoint_in_the_user_registry(shipped, monkeypatch):
    from seqcore.tasks import captioning as C

    broken = garble(shipped, "caption-lstm-shapes")
    at = make_caption_app()
    interrupt(monkeypatch, C, max_steps=4)
    at.button(key="captioning-retrain-lstm").click().run()
    no_exception(at)
    job = finish(at, "captioning-job")
    assert job.result["config"].n_train == 2000 and job.result["config"].decoder == "lstm"  # the default settings
    at.run()
    assert f"model {job.result['name']}" in caption_models(at) and not at.error, messages(at)
    assert (shipped / "caption-lstm-shapes.safetensors").read_bytes() == broken


def test_sentiment_save_to_a_read_only_home_says_so_and_keeps_the_model(sentiment_app, monkeypatch):
    import seqcore.checkpoints as ckpt
    from seqcore.tasks import sentiment as S

    at = sentiment_app
    interrupt(monkeypatch, S, max_steps=2)
    at.selectbox(key="sentiment-train-size").set_value("tiny")
    at.number_input(key="sentiment-train-rows").set_value(200)
    at.button(key="sentiment-train-run").click().run()
    job = finish(at, "sentiment-job")

    def read_only(*a, **k):
        raise PermissionError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(ckpt, "save_file", read_only)
    at.button(key="sentiment-save").click().run()
    no_exception(at)
    assert said(at, "Could not save", "Read-only file system", "SEQCORE_HOME", "still here"), messages(at)
    assert at.session_state["sentiment-own"] is job.result[0]
    assert "Your model (this session)" in set(predictions(at)["model"])
