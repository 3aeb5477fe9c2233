"""The hostile-input catalogue that tests/test_hostile_e2e.py types and uploads through Chromium (issue 18, item 3).

Data only: TEXT_CASES and FILE_CASES are the inputs, TARGETS says where each page takes text or a file, how it is
submitted, what its normal input shows, and which cases must be refused with a message (and the words that message
must hold); every other case must be accepted and give the normal result. A new page adds its Target rows here.
The app has no ABC upload (the music page takes ABC only as typed text, the `music-prime` box), so the issue's
"binary renamed .abc" has no widget to go to; the binary files are renamed to each upload's own extension instead.
tests/test_bad_inputs.py covers the finer, page-specific bad inputs below the browser (AppTest).
"""

from __future__ import annotations

import functools
import io
import math
import struct
import wave
import zlib
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

MB = 1024 * 1024
INJ = "INJ"  # every injected markup's text contains it, so the test can find what got rendered as markup
# Each would set window.__pwned if the page ran it: a script tag, an event handler, a javascript: link.
SCRIPT = "<script>window.__pwned='script'</script><img src=x onerror=\"window.__pwned='img'\">INJ-SCRIPT"
MARKDOWN = ("**INJ-BOLD** <b>INJ-TAG</b> [INJ-LINK](javascript:window.__pwned='md') $INJ^2$\n# INJ-HEAD\n"
            "| INJ | table |\n|---|---|")

TEXT_CASES: dict[str, str] = {
    "empty": "",
    "whitespace only": " \t \u00a0\u3000 ",
    "100,000 characters": ("a fine film, " * 7693)[:100_000],
    "emoji": "\U0001f600\U0001f3ac\U0001f37f\U0001f44d\U0001f3fd \u2764\ufe0f\u200d\U0001f525",
    "right-to-left": "\u202eفيلم رائع\u202c \u05e1\u05e8\u05d8 \u05d8\u05d5\u05d1",
    "zero-width only": "\u200b\u200c\u200d\u2060\ufeff",
    "NUL bytes": "good\x00film\x00",
    "<script> injection": SCRIPT,
    "markdown injection": MARKDOWN,
}


# ---------------------------------------------------------------- files


def tone_wav(seconds: float = 2.0, hz: float = 440.0, sr: int = 16_000) -> bytes:
    """A steady hummed note: 16-bit mono PCM WAV."""
    x = 0.4 * np.sin(2 * math.pi * hz * np.arange(int(seconds * sr)) / sr)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes((x * 32767).astype("<i2").tobytes())
    return buf.getvalue()


def ten_hour_wav() -> bytes:
    """A WAV whose header claims ten hours of 16 kHz audio (1.15 GB) but carries one second."""
    sr, claimed = 16_000, 10 * 3600 * 16_000 * 2
    fmt = struct.pack("<4sIHHIIHH", b"fmt ", 16, 1, 1, sr, sr * 2, 2, 16)
    body = tone_wav(1.0)[44:]
    return b"RIFF" + struct.pack("<I", 4 + len(fmt) + 8 + claimed) + b"WAVE" + fmt + b"data" + \
        struct.pack("<I", claimed) + body


def scene_png() -> bytes:
    """A 64x64 picture like the captioner's scenes: a red square on grey."""
    img = Image.new("RGB", (64, 64), (110, 110, 110))
    img.paste((220, 30, 30), (16, 16, 44, 44))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


@functools.cache
def bomb_png(side: int = 50_000) -> bytes:
    """A real decompression bomb: a valid 1-bit PNG of side x side black pixels (2.5 gigapixels, 313 MB of pixel
    rows) in 0.3 MB. Made in milliseconds: after a full flush deflate starts afresh, so 64 rows of zeros compress to
    the same bytes every time and are repeated, not recompressed; the zlib checksum of n zero bytes is
    ((n mod 65521) << 16) + 1."""
    row = bytes(1 + (side + 7) // 8)  # filter byte 0, then the packed bits
    raw = zlib.compressobj(9, zlib.DEFLATED, -15)  # raw deflate: the zlib header and checksum are added below
    block = raw.compress(row * 64) + raw.flush(zlib.Z_FULL_FLUSH)
    tail = raw.compress(row * (side % 64)) + raw.flush(zlib.Z_FINISH)
    adler = ((len(row) * side) % 65521) << 16 | 1
    idat = b"\x78\xda" + block * (side // 64) + tail + struct.pack(">I", adler)
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def price_csv(rows: int = 400) -> bytes:
    """A daily series the forecast page can use: columns date, price."""
    rng = np.random.default_rng(18)
    prices = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, rows)))
    days = np.datetime64("2020-01-01") + np.arange(rows)
    return ("date,price\n" + "".join(f"{d},{p:.2f}\n" for d, p in zip(days, prices, strict=True))).encode()


def random_bytes(n: int = 4096) -> bytes:
    return np.random.default_rng(3).bytes(n)


ELF = b"\x7fELF\x02\x01\x01\x00" + bytes(8) + b"\x02\x00\x3e\x00" + random_bytes(2000)
# A file name a user (or an attacker) chose, quoted back by messages that name the file.
MARKUP_NAME = "<img src=x onerror=window.__pwned=1>**INJ-NAME** [INJ-A](javascript:1)"

# name -> (file name, MIME type, bytes). "{ext}" and a None MIME type become the target's: each file is renamed to
# the extension the widget asks for, so the widget's own type filter lets it through to the page.
FILE_CASES: dict[str, tuple] = {
    "0-byte file": ("empty.{ext}", None, lambda: b""),
    "random binary": ("data.{ext}", None, random_bytes),
    "ELF executable": ("program.{ext}", None, lambda: ELF),
    "PNG image": ("picture.{ext}", None, scene_png),
    "WAV audio": ("sound.{ext}", None, tone_wav),
    "decompression-bomb PNG": ("bomb.{ext}", None, bomb_png),
    "WAV header claiming ten hours": ("long.{ext}", None, ten_hour_wav),
    "markup in the file name": (MARKUP_NAME + ".{ext}", None, random_bytes),
    "over the widget's size limit": ("big.{ext}", None, None),  # limit_mb + 1 MB, made per target
}


# ---------------------------------------------------------------- where the pages take them


@dataclass(frozen=True)
class Target:
    """One text box or upload of a page.

    page: URL path (with query parameters that make the main action quick); key: the widget's key; kind: "text" or
    "upload"; normal: a usable input (text, or (name, MIME, bytes)); works: a CSS selector its result shows; submit:
    "Enter", "Control+Enter", or a button's key pressed after Enter commits the text; setup: CSS selectors clicked
    (or ("upload", key, file)) before the widget is used; refuse: case -> words the page's error or warning must
    contain (case-insensitive), WIDGET when the box itself keeps the text out; warn: case -> words of a warning
    shown beside the normal result (the input is usable, with a caveat); every other case must be accepted and show
    `works` with no error; extra: cases only this target gets (name -> text or file); then: ("click" | "gone",
    selector) steps after each result (e.g. wait for the training run it started); normal_each: False when the normal
    input is too slow to follow every case (it then follows the last); ext/mime/limit_mb: an upload's file type and
    size limit.
    """

    page: str
    key: str
    kind: str
    normal: object
    works: str
    submit: str = "Control+Enter"
    setup: tuple = ()
    refuse: dict = field(default_factory=dict)
    warn: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)
    then: tuple = ()
    normal_each: bool = True
    ext: str = ""
    mime: str = ""
    limit_mb: int = 0

    @property
    def cases(self) -> dict:
        return {**(TEXT_CASES if self.kind == "text" else FILE_CASES), **self.extra}

    def file(self, case: str) -> tuple[str, str, bytes]:
        name, mime, make = self.cases[case]
        data = make() if make is not None else b"a" * ((self.limit_mb + 1) * MB)
        return name.format(ext=self.ext), mime or self.mime, data


WIDGET = ("(kept out by the widget)",)  # refuse[case] = WIDGET: a max_chars box never takes the text


def tab(label: str) -> str:
    return f"[role='tab']:has-text('{label}')"


def radio(key: str, label: str) -> str:
    return f".st-key-{key} label:has-text('{label}')"


def every(cases, words: tuple[str, ...]) -> dict:
    return dict.fromkeys(cases, words)


CSV, WAV, PNG = ("csv", "text/csv", 5), ("wav", "audio/wav", 5), ("png", "image/png", 10)
NOT_FILES = [c for c in FILE_CASES if c != "over the widget's size limit"]
EMPTY = ("empty", "whitespace only")
JIG = "M:6/8\nL:1/8\nK:D\n|:A|dfa agf|"
BATCH = "[data-testid='stCaptionContainer']:has-text('predictions in')"  # "N predictions in s with <model>"
REVIEWS = ("reviews.csv", "text/csv", b"text\ngreat film\nawful film\n")
LIVE_TICKER = "HOSTL"  # the test puts its prices in the server's download cache: Fetch works offline
FORECAST = "forecast?horizon=5&models=linear"  # baselines only: quick reruns
UPLOAD_CSV = (radio("forecast-source", "Upload CSV"), ("upload", "forecast-upload", ("prices.csv", "text/csv",
                                                                                      price_csv())))
NO_COLUMN = {**every([c for c in TEXT_CASES if c not in EMPTY], ("no column named",))}  # blank: detect
# A Chinese sentence is needed to get past the translator's input check to the model and its output.
STOP = ".st-key-memory-lab-job-stop"  # a run's Stop button, gone when the run has ended
TRANSLATION = "translation?beam=1"  # greedy: quick reruns
ZH_INJECTION = {"markdown in a Chinese sentence": "我是**INJ-BOLD** [INJ-LINK](javascript:window.__pwned='md')。",
                "<script> in a Chinese sentence": "我是<img src=x onerror=\"window.__pwned='img'\">INJ-SCRIPT。"}
# The ticker box takes 15 characters: markup short enough to reach the page.
SHORT_INJECTION = {"markdown in 15 characters": "**INJ-BOLD**$x$", "a tag in 15 characters": "<b>INJ-TAG</b>"}

TARGETS: list[Target] = [
    # The head view: the user's text drawn inside the view's own HTML and JS (an iframe), where injection matters.
    Target("attention?view=head", "attention-text", "text", "the cat sat", ".st-key-attention-headview iframe",
           submit="Enter",
           refuse={**every(EMPTY, ("empty", "type at least one character")),
                   "100,000 characters": ("at most 200", "shorten")}),
    Target("captioning", "captioning-upload", "upload", ("scene.png", "image/png", scene_png()),
           "[data-testid='stMain'] h3:has-text('“')", setup=(radio("captioning-source", "Upload an image"),),
           refuse={**every([c for c in NOT_FILES if c != "PNG image"], ("not an image", "upload a PNG")),
                   "0-byte file": ("empty", "upload a PNG"),
                   "decompression-bomb PNG": ("megapixels", "upload an image under"),
                   "over the widget's size limit": ("10.0MB or smaller",)},
           ext=PNG[0], mime=PNG[1], limit_mb=PNG[2]),
    Target(FORECAST, "forecast-upload", "upload", ("prices.csv", "text/csv", price_csv()), ".st-key-forecast-chart",
           setup=(radio("forecast-source", "Upload CSV"),),
           refuse={**every(NOT_FILES, ("could not read the file as CSV", "embedded GOOG")),
                   "over the widget's size limit": ("5.0MB or smaller",)},
           ext=CSV[0], mime=CSV[1], limit_mb=CSV[2]),
    Target(FORECAST, "forecast-date-col", "text", "date", ".st-key-forecast-chart", submit="Enter", setup=UPLOAD_CSV,
           refuse=NO_COLUMN),
    Target(FORECAST, "forecast-value-col", "text", "price", ".st-key-forecast-chart", submit="Enter",
           setup=UPLOAD_CSV, refuse=NO_COLUMN),
    Target(FORECAST, "forecast-ticker", "text", LIVE_TICKER, ".st-key-forecast-chart", submit="forecast-fetch",
           setup=(radio("forecast-source", "Live (Yahoo Finance)"),), extra=SHORT_INJECTION,
           refuse={**every([*EMPTY, "zero-width only", "NUL bytes", *SHORT_INJECTION], ("not valid", "use 1-15")),
                   **every(["100,000 characters", "emoji", "right-to-left", "<script> injection",
                            "markdown injection"], WIDGET)}),
    # A 100-step race of the RNN alone: a usable input starts a run, which is stopped at once and waited for (the
    # next Train needs the job slot). Refused distances start nothing, so the page's state does not change between
    # them: the normal run follows the last case only.
    Target("memory_lab?steps=100&models=rnn&longest=10", "memory-lab-eval", "text", "5, 10",
           "[data-testid='stProgress'], [data-testid='stMain'] label:has-text('Your run')", submit="memory-lab-train",
           then=(("click", STOP), ("gone", STOP)), normal_each=False,
           refuse=every([c for c in TEXT_CASES if c not in EMPTY], ("whole numbers", "press Train again"))),
    Target("music?length=50", "music-prime", "text", JIG, ".st-key-music-tune-0-dl-abc", submit="music-generate",
           refuse={"whitespace only": ("not in this model's ABC vocabulary", "remove"),
                   "100,000 characters": ("longer than 2,000",),
                   **every(["emoji", "zero-width only"], ("not in this model's ABC vocabulary", "remove")),
                   **every(["right-to-left", "NUL bytes", "<script> injection", "markdown injection"],
                           ("not notes", "use A-G"))}),
    Target("music?length=50", "music-hum-file", "upload", ("hum.wav", "audio/wav", tone_wav()),
           "[data-testid='stAlertContentSuccess']", setup=(tab("Hum a tune"),),
           refuse={**every([c for c in NOT_FILES if c != "WAV audio"], ("not a PCM WAV file", "upload a .wav")),
                   "WAV header claiming ten hours": ("36000 s long", "at most 20 s"),
                   "over the widget's size limit": ("5.0MB or smaller",)},
           ext=WAV[0], mime=WAV[1], limit_mb=WAV[2]),
    Target("sentiment", "sentiment-text-0", "text", "A moving, beautifully acted film.",
           ".st-key-sentiment-result [data-testid='stDataFrame']",
           refuse=every(EMPTY, ("empty", "type a few words")),
           warn={"100,000 characters": ("reads only the first",),
                 **every(["emoji", "right-to-left", "zero-width only"], ("write the review in English words",))}),
    Target("sentiment", "sentiment-batch-lines", "text", "a great film\nan awful film", BATCH, setup=(tab("Batch"),),
           refuse=every(EMPTY, ("one per line",))),
    Target("sentiment", "sentiment-batch-file", "upload", REVIEWS, BATCH,
           setup=(tab("Batch"), radio("sentiment-batch-mode", "Upload CSV")),
           refuse={**every(NOT_FILES, ("could not read the CSV", "save it as UTF-8 CSV")),
                   "over the widget's size limit": ("5.0MB or smaller",)},
           ext=CSV[0], mime=CSV[1], limit_mb=CSV[2]),
    Target("sentiment", "sentiment-batch-col", "text", "text", BATCH, submit="Enter",
           setup=(tab("Batch"), radio("sentiment-batch-mode", "Upload CSV"),
                  ("upload", "sentiment-batch-file", REVIEWS)),
           refuse=every(TEXT_CASES, ("the CSV has no", "column"))),
    Target(TRANSLATION, "translation-text-0", "text", "我们明天见。", ".st-key-translation-out-0", extra=ZH_INJECTION,
           refuse={**every(EMPTY, ("empty", "type a Chinese sentence")),
                   "100,000 characters": ("at most 120 characters",),
                   **every(["emoji", "zero-width only"], ("no letters or Chinese characters", "type a Chinese")),
                   **every(["right-to-left", "<script> injection", "markdown injection"],
                           ("no Chinese characters", "type a Chinese sentence")),
                   "NUL bytes": ("NUL", "remove it")}),
    Target(TRANSLATION, "translation-prefix", "text", "we", ".st-key-translation-out-0", submit="Enter",
           refuse={"100,000 characters": ("prefix", "shorten")}),
]
