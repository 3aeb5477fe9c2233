"""The bad-input catalogue: every page gets what users really produce, through AppTest.

Each row feeds one page one bad input and checks three things: a clear st.error / st.warning that
says what to change, no exception element, and that what the session already made (a trained
model, a generated tune, an evaluation) is still there afterwards. Every row gets a fresh AppTest
(function-scoped), so no row's uploads, clicks or session state reach the next; what is slow to
make (the forecast LSTM, the held-out evaluations) is made once per module through the page and
put into each fresh session. The per-page tests (tests/test_*_page.py) cover the main flows; this
file covers every page uniformly. Broken shipped checkpoints are in tests/test_broken_checkpoints.py.
"""

from __future__ import annotations

import io
import math
import wave

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from seqcore.data import live
from tests.conftest import open_page
from tests.helpers import charts, csv_bytes, image_bytes, messages, said, trace_names

MB = 1024 * 1024


# ================================================================ forecast


def _csv_rows(n: int, start: float = 100.0) -> list[str]:
    return [f"{d.date()},{start + (i % 7)}" for i, d in enumerate(pd.bdate_range("2020-01-01", periods=n))]


def _huge_csv() -> bytes:
    """Just under the widget's 5 MB limit: ~200,000 daily rows (the frontend refuses anything larger)."""
    dates = pd.date_range("1500-01-01", periods=200_000, freq="D")
    return ("date,price\n" + "\n".join(f"{d.date()},{100 + (i % 11)}" for i, d in enumerate(dates))).encode()


def _nan_csv() -> bytes:
    rows = _csv_rows(400)
    for i in range(50, 70):  # a 20-row hole: more than the page fills
        rows[i] = rows[i].split(",")[0] + ",NaN"
    return csv_bytes(rows)


CSV_CASES = {
    "empty file": (b"", ["could not read", "CSV"]),
    "header only": (b"date,price\n", ["header row"]),
    "binary": (bytes(range(256)) * 64, ["CSV"]),
    "PNG renamed .csv": (b"\x89PNG\r\n\x1a\n" + bytes(200), ["CSV"]),
    "no numeric column": (csv_bytes([f"2024-01-{d:02d},abc" for d in range(1, 20)], "date,name"),
                          ["no numeric column"]),
    "all NaN": (csv_bytes([f"2024-01-{d:02d},NaN" for d in range(1, 20)]), ["no numeric column"]),
    "NaNs beyond the rule": (_nan_csv(), ["missing values"]),
    "single row": (csv_bytes(["2024-01-02,101.5"]), ["1 rows", "at least"]),
    "shorter than lookback + horizon": (csv_bytes(_csv_rows(40)), ["rows", "need"]),
    "semicolons": (b"date;price\n2024-01-01;1\n2024-01-02;2\n", ["header row"]),
    "decimal commas": (b"date,price\n2024-01-01,1,5\n2024-01-02,2,25\n2024-01-03,2,5\n", ["decimal commas"]),
    "mixed time zones": (b"date,price\n2024-01-01T00:00+05:00,1\n2024-01-02T00:00+00:00,2\n", ["one time zone"]),
    "constant prices": (csv_bytes([r.split(",")[0] + ",5" for r in _csv_rows(400)]), ["never changes", "varies"]),
    "latin-1 text": ("date,prix\n2024-01-01,1\u00e9\n".encode("latin-1"), ["CSV"]),
}


USABLE_CSVS = ("shorter than lookback + horizon", "constant prices")  # read fine; the page explains what fails


def _forecast_settings(at):
    """The settings of the session's tiny LSTM (its lookback and hidden size must match for it to forecast)."""
    at.multiselect(key="forecast-models").set_value(["lstm", "linear"])
    at.slider(key="forecast-lookback").set_value(10)
    at.selectbox(key="forecast-hidden").set_value(8)
    return at


@pytest.fixture(scope="module")
def forecast_trained() -> dict:
    """A tiny LSTM trained once through the page (1 epoch): the session's models, {"lstm": model}."""
    at = _forecast_settings(open_page("forecast"))
    at.number_input(key="forecast-epochs").set_value(1).run()
    at.button(key="forecast-train").click().run()
    job = at.session_state["forecast-job"]
    assert job.wait(120) and job.error is None, job.error
    at.run()
    at.run()
    assert "lstm" in at.session_state["forecast-trained"]
    return dict(at.session_state["forecast-trained"])


@pytest.fixture
def forecast_app(forecast_trained):
    """A fresh forecast page whose session trained that LSTM: it must survive every bad input."""
    at = _forecast_settings(open_page("forecast"))
    at.session_state["forecast-trained"] = dict(forecast_trained)
    at.run()
    assert not at.exception, at.exception
    assert "LSTM median" in trace_names(at, "forecast-chart")
    return at


def _forecast_kept(at) -> None:
    """The session's LSTM is still there and still draws its forecast on the embedded GOOG fallback."""
    assert not at.exception, at.exception
    assert "lstm" in at.session_state["forecast-trained"]
    assert "LSTM median" in trace_names(at, "forecast-chart")


@pytest.mark.parametrize("case", list(CSV_CASES))
def test_forecast_bad_csv(forecast_app, case):
    at = forecast_app
    data, words = CSV_CASES[case]
    at.radio(key="forecast-source").set_value("Upload CSV").run()
    at.file_uploader(key="forecast-upload").set_value((f"{case}.csv", data, "text/csv")).run()
    assert not at.exception, at.exception
    assert said(at, *words), messages(at)
    if case in USABLE_CSVS:  # the file itself is read; the settings or the metrics do not fit it
        at.file_uploader(key="forecast-upload").set_value(None).run()
    else:
        assert said(at, "embedded GOOG"), messages(at)  # says what it shows instead
    _forecast_kept(at)


def test_forecast_csv_over_the_widget_limit(forecast_app):
    """6 MB: the browser refuses it, but a client that skips the browser reaches the server (limit 50 MB)."""
    at = forecast_app
    at.radio(key="forecast-source").set_value("Upload CSV").run()
    at.file_uploader(key="forecast-upload").set_value(("big.csv", b"date,price\n" + b"2024-01-01,1\n" * (6 * MB // 13),
                                                 "text/csv")).run()
    assert said(at, "up to 5 MB", "embedded GOOG"), messages(at)
    at.file_uploader(key="forecast-upload").set_value(None).run()
    _forecast_kept(at)


DAY_FIRST = [f"{d.day:02d}/{d.month:02d}/{d.year},{100 + i % 7}" for i, d in
             enumerate(pd.bdate_range("2020-01-01", periods=400))]
ODD_BUT_FINE = {  # what spreadsheets write: read as meant, with a note when the page had to guess
    "Excel BOM and CRLF": (("\ufeffDate,Close\r\n" + "\r\n".join(_csv_rows(400)) + "\r\n").encode(), None),
    "day/month/year dates": (csv_bytes(DAY_FIRST), "as day/month/year"),
}


@pytest.mark.parametrize("case", list(ODD_BUT_FINE))
def test_forecast_spreadsheet_csvs_just_work(forecast_app, case):
    at = forecast_app
    data, note = ODD_BUT_FINE[case]
    at.radio(key="forecast-source").set_value("Upload CSV").run()
    at.file_uploader(key="forecast-upload").set_value((f"{case}.csv", data, "text/csv")).run()
    assert not at.exception and not at.error, messages(at)
    assert note is None or said(at, note), messages(at)
    assert "naive (random walk) median" in trace_names(at, "forecast-chart")
    at.file_uploader(key="forecast-upload").set_value(None).run()
    _forecast_kept(at)


def test_forecast_huge_csv_is_read_not_refused(forecast_app):
    """A 200,000-row file under the size limit works (baselines only: the session's LSTM is for GOOG)."""
    at = forecast_app
    at.radio(key="forecast-source").set_value("Upload CSV").run()
    at.file_uploader(key="forecast-upload").set_value(("huge.csv", _huge_csv(), "text/csv")).run()
    assert not at.exception and not at.error, messages(at)
    assert "naive (random walk) median" in trace_names(at, "forecast-chart")
    at.file_uploader(key="forecast-upload").set_value(None).run()
    _forecast_kept(at)


def _frame(n: int) -> pd.DataFrame:
    idx = pd.date_range("2024-01-01", periods=n, name="Date")
    df = pd.DataFrame({"Close": np.linspace(10, 20, n)}, index=idx)
    df.columns = pd.MultiIndex.from_tuples([("Close", "AAPL")], names=["Price", "Ticker"])
    return df


def _rate_limited(*_):
    from yfinance.exceptions import YFRateLimitError

    raise YFRateLimitError()


def _offline(*_):
    raise RuntimeError("curl: (6) Could not resolve host: query2.finance.yahoo.com")


LIVE_CASES = {
    "empty ticker": ("", lambda *a: pytest.fail("must not download"), ["not valid"]),
    "spaces and symbols": ("BAD TICKER!", lambda *a: pytest.fail("must not download"), ["not valid"]),
    "path in the ticker": ("../../etc", lambda *a: pytest.fail("must not download"), ["not valid"]),
    "unknown ticker": ("ZZZZQ", lambda *a: (_frame(0), "1 Failed download: ['ZZZZQ']: YFTzMissingError"),
                       ["no prices", "Check the symbol"]),
    "delisted ticker": ("LEHMQ", lambda *a: (_frame(0), "['LEHMQ']: possibly delisted; no price data found"),
                        ["no prices", "delisted"]),
    "no network": ("AAPL", _offline, ["could not be reached"]),
    "no network, printed not raised": ("MSFT", lambda *a: (
        _frame(0), "1 Failed download:\n['MSFT']: Could not resolve host: query2.finance.yahoo.com"),
        ["could not be reached"]),
    "rate-limited": ("NVDA", _rate_limited, ["rate-limiting", "wait"]),
    "too few rows": ("TINY", lambda *a: (_frame(12), ""), ["rows", "need"]),
}


@pytest.mark.parametrize("case", list(LIVE_CASES))
def test_forecast_live_failures(forecast_app, case, monkeypatch, tmp_path):
    monkeypatch.setenv("SEQCORE_HOME", str(tmp_path))  # an empty disk cache for every row
    ticker, downloader, words = LIVE_CASES[case]
    monkeypatch.setattr(live, "_download", downloader)
    at = forecast_app
    at.radio(key="forecast-source").set_value("Live (Yahoo Finance)").run()
    at.text_input(key="forecast-ticker").set_value(ticker).run()
    at.button(key="forecast-fetch").click().run()
    assert not at.exception, at.exception
    assert said(at, *words), messages(at)
    if case == "too few rows":  # a real answer that is too short for the settings: go back to GOOG
        at.radio(key="forecast-source").set_value("Embedded").run()
    else:
        assert said(at, "embedded GOOG"), messages(at)
    _forecast_kept(at)


# ================================================================ music


def wav(x: np.ndarray, sr: int = 16_000, channels: int = 1) -> bytes:
    """float samples in [-1, 1] -> 16-bit PCM WAV bytes (stdlib wave)."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())
    return buf.getvalue()


def _tone(hz: float, seconds: float, amp: float = 0.5, sr: int = 16_000) -> np.ndarray:
    return amp * np.sin(2 * math.pi * hz * np.arange(int(seconds * sr)) / sr)


rng = np.random.default_rng(0)
HUM_CASES = {
    "silent": (wav(np.zeros(32_000)), ["silent", "microphone"]),
    "near-silent hiss": (wav(rng.normal(0, 2e-4, 32_000)), ["silent"]),
    "white noise": (wav(rng.normal(0, 0.3, 32_000)), ["no steady pitch", "hum"]),
    "clipped": (wav(np.clip(_tone(440, 2.0, amp=4.0), -1, 1)), ["clip"]),
    "too short": (wav(_tone(440, 0.1)), ["shorter than 0.3 s"]),
    "not a WAV": (b"ID3\x03\x00\x00\x00" + bytes(500), ["not a PCM WAV"]),
    "truncated WAV": (wav(_tone(440, 1.0))[:30], ["not a PCM WAV"]),
    "empty file": (b"", ["not a PCM WAV"]),
    "over the 5 MB limit": (wav(np.zeros(4 * 16_000 * 50)), ["up to 5 MB"]),
    "cut-off chunk": (b"RIFF\x00\x00\x00\x01WAVE\x00\x00\x00\x00\x00\x00\x00\x01", ["not a PCM WAV"]),
    "4 kHz sample rate": (wav(_tone(440, 1.0, sr=4000), sr=4000), ["sample rate", "16 kHz"]),
}
GARBAGE_PRIMES = {
    "prose": ("hello world, play me a song", ["not notes"]),
    "emoji": ("\U0001f3b5\U0001f3b6", ["not in this model's ABC vocabulary", "remove"]),
    "control characters": ("K:D\n\x00\x07abc", ["not in this model's ABC vocabulary"]),
    "percent signs": ("%%%%", ["not in this model's ABC vocabulary"]),
    "unterminated quote": ('M:6/8\nL:1/8\nK:D\n"Am', ["not notes"]),
    "too long": ("abc|" * 600, ["longer than 2,000"]),
}


@pytest.fixture
def music_app():
    """A fresh music page after generating one tune: every bad input must leave it on screen."""
    at = open_page("music")
    at.selectbox(key="music-preset").select("Jig in D (6/8)").run()
    at.slider(key="music-length").set_value(50)
    at.button(key="music-generate").click().run()
    assert not at.exception and not at.error, messages(at)
    assert at.session_state["music-results"]
    return at


def _tune_kept(at, before: list) -> None:
    assert not at.exception, at.exception
    assert at.session_state["music-results"] is before or at.session_state["music-results"] == before
    assert any(c.value == before[0]["tune"]["abc"] for c in at.get("code")), "the generated tune is still shown"


@pytest.mark.parametrize("case", list(GARBAGE_PRIMES))
def test_music_garbage_prime(music_app, case):
    at = music_app
    before = at.session_state["music-results"]
    prime, words = GARBAGE_PRIMES[case]
    at.text_area(key="music-prime").input(prime).run()
    at.button(key="music-generate").click().run()
    assert said(at, *words), messages(at)
    assert at.text_area(key="music-prime").value == prime  # kept, so the user can fix it
    _tune_kept(at, before)


def test_music_unterminated_prime_is_continued(music_app):
    """An unfinished tune is what a prime is: the model continues it, and the result replaces the old one."""
    at = music_app
    prime = "M:6/8\nL:1/8\nK:D\n|:A|dfa agf|gfe [fe"
    at.text_area(key="music-prime").input(prime).run()
    at.slider(key="music-length").set_value(50)
    at.button(key="music-generate").click().run()
    assert not at.exception and not at.error, messages(at)
    assert at.session_state["music-results"][0]["tune"]["abc"].startswith(prime)


@pytest.mark.parametrize("case", list(HUM_CASES))
def test_music_bad_recording(music_app, case):
    at = music_app
    before = at.session_state["music-results"]
    data, words = HUM_CASES[case]
    at.file_uploader(key="music-hum-file").set_value((f"{case}.wav", data, "audio/wav")).run()
    assert said(at, *words), messages(at)
    _tune_kept(at, before)


def test_music_training_without_a_corpus(music_app):
    at = music_app
    before = at.session_state["music-results"]
    at.multiselect(key="music-train-corpus").set_value([]).run()
    at.button(key="music-train").click().run()
    assert said(at, "Choose at least one corpus"), messages(at)
    assert "music-train-job" not in at.session_state
    _tune_kept(at, before)


def test_music_ten_minute_recording_is_refused_cheaply():
    """A 10-minute microphone recording (8 kHz mono, 9.6 MB): refused from its header, with the limit."""
    at = open_page("music")
    at.audio_input(key="music-hum-mic").set_value(("long.wav", wav(np.zeros(600 * 8000), sr=8000), "audio/wav"))
    at.run()
    assert not at.exception, at.exception
    assert said(at, "600 s", "at most 20 s"), messages(at)


# ================================================================ sentiment and attention: text

ONE_MB = ("The plot is thin but the cast is great. " * (MB // 41 + 1))[:MB]
EMOJI = "\U0001f600\U0001f621\U0001f3ac\U0001f37f" * 8
SENT_TEXT = "sentiment-text-0"  # the text box of the first example


@pytest.fixture(scope="module")
def sentiment_evaluation() -> dict:
    """A held-out evaluation (VADER, 50 MR reviews) made once through the page."""
    at = open_page("sentiment")
    at.selectbox(key="sentiment-eval-source").set_value("mr")
    at.selectbox(key="sentiment-eval-model").set_value("VADER lexicon")
    at.number_input(key="sentiment-eval-n").set_value(50)
    at.button(key="sentiment-eval-run").click().run()
    assert not at.exception and not at.error, messages(at)
    assert at.session_state["sentiment-eval"]
    return at.session_state["sentiment-eval"]


@pytest.fixture
def sentiment_app(sentiment_evaluation):
    """A fresh sentiment page whose session made that evaluation: it must outlive bad input."""
    at = open_page("sentiment")
    at.session_state["sentiment-eval"] = sentiment_evaluation
    at.run()
    assert "Majority class" in [m.label for m in at.metric]
    return at


def _evaluation_kept(at, before) -> None:
    assert not at.exception, at.exception
    assert at.session_state["sentiment-eval"] is before
    assert "Majority class" in [m.label for m in at.metric]


SENT_TEXT_CASES = {
    "empty": ("", ["empty", "type"]),
    "whitespace only": (" \n\t  \u00a0\n", ["empty", "type"]),
    "1 MB": (ONE_MB, ["only the first"]),  # the first model's token limit (256 or 512)
    "emoji only": (EMOJI, ["English"]),
}


@pytest.mark.parametrize("case", list(SENT_TEXT_CASES))
def test_sentiment_bad_text(sentiment_app, case):
    at = sentiment_app
    before = at.session_state["sentiment-eval"]
    text, words = SENT_TEXT_CASES[case]
    at.text_area(key=SENT_TEXT).set_value(text).run()
    assert said(at, *words), messages(at)
    _evaluation_kept(at, before)


SENT_CSV_CASES = {
    "empty file": (b"", ["could not read"]),
    "binary": (bytes(range(256)) * 64, ["could not read"]),
    "no text column": (b"review,stars\ngood,5\n", ["no 'text' column"]),
    "blank texts": (b"text\n\n   \n\"\"\n", ["no reviews"]),
    "latin-1": ("text\nun film tr\u00e8s beau\n".encode("latin-1"), ["UTF-8"]),
    "over the 5 MB limit": (b"text\n" + b"a fine film\n" * (6 * MB // 12), ["up to 5 MB"]),
}


@pytest.mark.parametrize("case", list(SENT_CSV_CASES))
def test_sentiment_bad_batch_csv(sentiment_app, case):
    at = sentiment_app
    before = at.session_state["sentiment-eval"]
    data, words = SENT_CSV_CASES[case]
    at.radio(key="sentiment-batch-mode").set_value("Upload CSV").run()
    at.file_uploader(key="sentiment-batch-file").set_value((f"{case}.csv", data, "text/csv")).run()
    assert said(at, *words), messages(at)
    _evaluation_kept(at, before)


def test_sentiment_one_megabyte_of_pasted_lines(sentiment_app):
    """20,000 pasted lines: the batch is cut to its limit, and says so."""
    at = sentiment_app
    before = at.session_state["sentiment-eval"]
    at.radio(key="sentiment-batch-mode").set_value("Paste lines").run()
    at.text_area(key="sentiment-batch-lines").set_value("\n".join(["fine film"] * 20_000)).run()
    assert said(at, "20000 rows", "first 2000"), messages(at)
    _evaluation_kept(at, before)


@pytest.fixture
def attention_app():
    return open_page("attention")


ATT_CASES = {
    "empty": ("", ["empty", "type at least one character"]),
    "whitespace only": (" \t \u3000 ", ["empty"]),
    "1 MB": (ONE_MB, ["at most 200", "shorten"]),
}


@pytest.mark.parametrize("case", list(ATT_CASES))
def test_attention_bad_text(attention_app, case):
    at = attention_app
    text, words = ATT_CASES[case]
    at.text_input(key="attention-text").set_value(text).run()
    assert not at.exception, at.exception
    assert said(at, *words), messages(at)
    at.text_input(key="attention-text").set_value("the film is good").run()  # the explorer recovers at once
    assert not at.exception and not at.error, messages(at)
    at.session_state["attention-view"] = "Head view"  # views draw only when their tab is open
    at.run()
    assert at.get("iframe")  # the head view (its own HTML + JS in an st.iframe)


def test_attention_emoji_only_text_is_read_as_unknown(attention_app):
    at = attention_app
    at.text_input(key="attention-text").set_value(EMOJI[:40]).run()
    assert not at.exception and not at.error, messages(at)
    assert any("<unk>" in c.value and "\U0001f600" in c.value for c in at.caption)


# ================================================================ captioning: uploads


def _gradient(mode: str, size=(96, 80)) -> Image.Image:
    arr = np.add.outer(np.arange(size[1]), np.arange(size[0])).astype(np.uint16) * 97
    if mode == "I;16":
        return Image.fromarray(arr)  # uint16 -> mode I;16
    rgb = np.stack([arr % 256, (arr // 3) % 256, (arr // 7) % 256], -1).astype(np.uint8)
    return Image.fromarray(rgb, "RGB").convert(mode)


IMAGE_CASES = {
    "text renamed .png": ("photo.png", b"just some notes, not an image\n" * 20, ["not an image"]),
    "zip renamed .png": ("photo.png", b"PK\x03\x04" + bytes(300), ["not an image"]),
    "truncated PNG": ("cut.png", image_bytes(_gradient("RGB"))[:120], ["not an image"]),
    "empty file": ("empty.png", b"", ["empty"]),
    "1x1 image": ("dot.png", image_bytes(Image.new("RGB", (1, 1), (255, 0, 0))), ["1x1", "at least 16x16"]),
    "10000x10000 image": ("huge.png", image_bytes(Image.new("1", (10_000, 10_000))), ["10000x10000", "megapixels"]),
}
# Usable once converted: the page says what it changed (st.info) and captions them.
CONVERTED_CASES = {
    "CMYK JPEG": ("cmyk.jpg", image_bytes(_gradient("CMYK"), "JPEG"), "CMYK image converted to RGB"),
    "16-bit grayscale PNG": ("depth16.png", image_bytes(_gradient("I;16")), "grayscale image"),
}


@pytest.fixture(scope="module")
def caption_scores() -> tuple:
    """A model's scores on 20 fresh scenes, made once through the page."""
    at = open_page("captioning")
    at.number_input(key="captioning-eval-n").set_value(20).run()
    at.button(key="captioning-eval").click().run()
    assert not at.exception and not at.error, messages(at)
    return at.session_state["captioning-eval-result"]


@pytest.fixture
def caption_app(caption_scores):
    """A fresh captioning page whose session made those scores: they must outlive bad uploads."""
    at = open_page("captioning")
    at.session_state["captioning-eval-result"] = caption_scores
    at.radio(key="captioning-source").set_value("Upload an image").run()
    assert "BLEU-4" in [m.label for m in at.metric]
    return at


def _scores_kept(at, before) -> None:
    assert not at.exception, at.exception
    assert at.session_state["captioning-eval-result"] is before
    assert "BLEU-4" in [m.label for m in at.metric]


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # PIL's own note on the 100 MP file
@pytest.mark.parametrize("case", list(IMAGE_CASES))
def test_caption_bad_upload(caption_app, case):
    at = caption_app
    before = at.session_state["captioning-eval-result"]
    name, data, words = IMAGE_CASES[case]
    at.file_uploader(key="captioning-upload").set_value((name, data, "image/png")).run()
    assert said(at, *words), messages(at)
    _scores_kept(at, before)


@pytest.mark.parametrize("case", list(CONVERTED_CASES))
def test_caption_odd_image_modes_are_converted(caption_app, case):
    at = caption_app
    before = at.session_state["captioning-eval-result"]
    name, data, note = CONVERTED_CASES[case]
    at.file_uploader(key="captioning-upload").set_value((name, data, "image/jpeg")).run()
    assert not at.exception and not at.error, messages(at)
    assert any(note in i.value for i in at.info), [i.value for i in at.info]
    assert said(at, "only know these synthetic scenes")
    assert any(m.value.startswith("### ") for m in at.markdown)  # a caption was written
    _scores_kept(at, before)


# ================================================================ memory lab


@pytest.fixture
def memory_app():
    return open_page("memory_lab")


MEMORY_CASES = {
    "words": ("10, ten", ["whole numbers"]),
    "scientific notation": ("1e3", ["whole numbers"]),
    "negative": ("5,-3", ["between 0 and"]),
    "huge number": ("9" * 40, ["between 0 and"]),
    "only commas": (",,, ;", ["at least one distance"]),
    "emoji": ("\U0001f600", ["whole numbers"]),
    "1 MB": ("x" * MB, ["whole numbers"]),
}


@pytest.mark.parametrize("case", list(MEMORY_CASES))
def test_memory_lab_bad_distances(memory_app, case):
    at = memory_app
    text, words = MEMORY_CASES[case]
    at.text_input(key="memory-lab-eval").set_value(text).run()
    at.button(key="memory-lab-train").click().run()
    assert not at.exception, at.exception
    assert said(at, *words, "press Train again"), messages(at)
    assert all(len(m) < 600 for m in messages(at))  # the message quotes the input, not all of it
    assert "memory-lab-job" not in at.session_state  # nothing started
    assert any("memory-lab-accuracy" in cid for cid in charts(at))  # the shipped curves are still drawn
