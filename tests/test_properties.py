"""Property tests (hypothesis): tokenisers, the ABC parser wrapper and the CSV loaders take any input.

The promise under test: no input raises anything but the project's own error type
(seqcore.errors.SeqcoreError and its subclasses), and what comes back is well formed.
Examples are bounded so the file runs in seconds.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from seqcore.data.prices import read_csv_series
from seqcore.data.reviews import read_labelled_csv
from seqcore.data.words import PAD, UNK, Vocab, pad_batch, tokenize
from seqcore.errors import InputError, SeqcoreError
from seqcore.tasks import attention as A
from seqcore.tasks.music import CharLM
from seqcore.tasks.music_abc import bar_check, parse_abc
from seqcore.tasks.sentiment import encode as sentiment_encode

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Any Unicode, lone surrogates included: they reach Python from non-UTF-8 command-line arguments.
any_char = st.characters(exclude_categories=())
any_text = st.text(any_char, max_size=200)
# Text that looks like what people type or paste: words, punctuation, emoji, odd spaces.
typed = st.lists(st.sampled_from(list("abcXYZ éß我是🎬😀'’!?.,- \n\t\u00a0") + ["don't", "GOOD", "<br />"]),
                max_size=30).map("".join)


# ---------------------------------------------------------------- word tokeniser (sentiment)


@FAST
@given(any_text)
def test_tokenize_any_text(text):
    toks = tokenize(text)
    assert all(t and not any(ch.isspace() for ch in t) for t in toks)
    assert all(t == t.lower() for t in toks)


@FAST
@given(st.lists(typed, max_size=8), typed, st.integers(1, 300))
def test_vocab_encode_decode_and_sentiment_encode(train, text, max_tokens):
    vocab = Vocab.build(train, min_freq=1)
    assert vocab.itos[:2] == [PAD, UNK] and len(set(vocab.itos)) == len(vocab)
    toks = tokenize(text)
    ids = vocab.encode(toks)
    assert all(0 < i < len(vocab) for i in ids)
    assert vocab.decode(ids) == [t if t in vocab.stoi else UNK for t in toks]
    enc = sentiment_encode(vocab, text, max_tokens)
    assert len(enc.ids) <= max_tokens and enc.truncated == (enc.n_tokens > max_tokens)
    assert Vocab.from_dict(vocab.to_dict()).itos == vocab.itos


@FAST
@given(st.lists(st.lists(st.integers(0, 50), max_size=10), max_size=6))
def test_pad_batch_shapes(seqs):
    ids, lengths = pad_batch(seqs)
    assert ids.shape[0] == len(seqs) and lengths.tolist() == [max(1, len(s)) for s in seqs]
    for row, s in zip(ids.tolist(), seqs, strict=True):
        assert row[: len(s)] == s and all(v == 0 for v in row[len(s):])


# ---------------------------------------------------------------- char vocabularies


@FAST
@given(st.lists(typed, max_size=6), any_text)
def test_attention_char_vocab_encodes_any_text(train, text):
    vocab = A.CharVocab.build(train, min_count=1)
    ids = vocab.encode(text)
    assert len(ids) == len(text) + 1 and ids[0] == A.SPECIALS.index(A.BOS)
    assert all(0 <= i < vocab.size for i in ids)
    batch = A.encode_batch(vocab, [text, ""], length=16)
    assert batch.shape == (2, 17) and int(batch.max()) < vocab.size


@pytest.fixture(scope="module")
def attention_info():
    from seqcore.tasks.probe import transformer_checkpoints

    found = [c for c in transformer_checkpoints() if c.name == A.DEFAULT_NAME]
    assert found, "the shipped attention checkpoint is missing (make models)"
    return found[0]


@FAST
@given(text=any_text)
def test_attention_probe_takes_any_text_or_says_why(attention_info, text):
    try:
        probe = A.attention_probe(attention_info, text)
    except InputError as e:
        assert "empty" in str(e) or str(A.MAX_CHARS) in str(e)
        return
    assert probe.x.shape == (1, len(text) + 1) and len(probe.tokens) == len(text) + 1


MUSIC_VOCAB = sorted(set("\nABCDEFGabcdefgz0123456789|:[]/^_=,'()<> MLKQ\"-"))


@FAST
@given(any_text)
def test_music_char_vocab_encodes_or_names_the_characters(text):
    lm = CharLM("lstm", torch.nn.Identity(), MUSIC_VOCAB, 100)
    try:
        ids = lm.encode(text)
    except InputError as e:
        assert "not in this model's ABC vocabulary" in str(e)
        assert any(c not in lm.index for c in text)
        return
    assert lm.decode(ids) == text


# ---------------------------------------------------------------- the ABC parser wrapper

abc_like = st.lists(st.sampled_from(list("ABCDEFGabcdefgz2346/|:[]()^_=,'>{}\"!% \nMLKX\udcff\x00")
                                    + ["M:6/8\n", "L:1/8\n", "K:D\n", "|:", ":|"]), max_size=40).map("".join)


@SLOW
@given(st.one_of(abc_like, st.text(any_char, max_size=40)))
def test_parse_abc_never_raises(abc):
    parsed = parse_abc(abc)
    assert 0 <= parsed.usable_share <= 1
    assert all(0 <= n.pitch <= 127 and n.duration > 0 for n in parsed.notes)
    assert parsed.notes or parsed.message  # nothing playable always says why
    checked = bar_check(abc)
    assert 0 <= checked.matching <= checked.bars


def test_parse_abc_odd_types_and_sizes():
    for value in (None, 42, b"abc", "", " \n ", "\x00" * 10, "\ud800"):
        assert parse_abc(value).notes == []  # type: ignore[arg-type]
    assert [n.pitch for n in parse_abc("K:C\nCDE\udcff|").notes] == [60, 62, 64]  # a lone surrogate is skipped


# ---------------------------------------------------------------- CSV loaders


@FAST
@given(st.binary(max_size=400))
def test_read_csv_series_any_bytes(data):
    try:
        s = read_csv_series(data)
    except InputError:
        return
    _well_formed(s)


def _well_formed(s) -> None:
    assert len(s) >= 3 and len(s.dates) == len(s.values)
    assert np.isfinite(s.values).all()
    assert (np.diff(s.dates.asi8) > 0).all()


cell = st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr), st.integers(-5, 10**6).map(str),
                 st.sampled_from(["", "NaN", "n/a", "abc", "1e400", "-0", "1,5", '"3"', "😀", "2024-13-45"]))
date_cell = st.one_of(st.dates(min_value=pd.Timestamp("1900-01-01").date()).map(str),
                      st.sampled_from(["", "yesterday", "2024-02-30", "01/02/2024", "0", "2024-01-01T10:00+05:00"]))


@FAST
@given(st.lists(st.tuples(date_cell, cell), max_size=40), st.sampled_from(["date,price", "Date,Close", "a,b", "x"]),
       st.sampled_from([None, "price", "Close", "missing"]))
def test_read_csv_series_structured_rows(rows, header, column):
    text = header + "\n" + "\n".join(f"{d},{v}" for d, v in rows)
    try:
        s = read_csv_series(text.encode(), column=column)
    except InputError:
        return
    _well_formed(s)


@FAST
@given(st.lists(st.tuples(st.dates(min_value=pd.Timestamp("1950-01-01").date()),
                          st.floats(0.01, 1e6)), min_size=3, max_size=60, unique_by=lambda r: r[0]))
def test_a_clean_series_always_loads(rows):
    rows = sorted(rows)
    text = "date,price\n" + "\n".join(f"{d},{v!r}" for d, v in rows)
    s = read_csv_series(text.encode())
    _well_formed(s)
    assert s.kind == "price" and len(s) == len(rows)


@FAST
@given(st.one_of(st.binary(max_size=300), st.text(any_char, max_size=200).map(lambda t: t.encode("utf-8", "replace"))),
       st.sampled_from(["text", "review"]))
def test_read_labelled_csv_any_bytes(data, column):
    try:
        df = read_labelled_csv(io.BytesIO(data), column, None)
    except SeqcoreError:
        return
    assume(len(df))
    assert list(df.columns) == ["text"] and df["text"].map(type).eq(str).all()


# ---------------------------------------------------------------- uploads: audio and images, by content


def _wav_header(channels: int, width: int, rate: int, payload: bytes) -> bytes:
    import struct

    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * channels * width, channels * width, width * 8)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(payload)) + payload
    return b"RIFF" + struct.pack("<I", len(body)) + body


@FAST
@given(st.one_of(st.binary(max_size=300),
                 st.builds(_wav_header, st.integers(0, 3), st.integers(0, 5), st.integers(0, 50_000),
                           st.binary(max_size=300))))
@example(b"RIFF\x00\x00\x00\x01WAVE\x00\x00\x00\x00\x00\x00\x00\x01")  # wave raised RuntimeError on this
def test_read_wav_any_bytes(data):
    from seqcore.audio import read_wav

    try:
        x, sr = read_wav(data, max_seconds=20)
    except InputError:
        return
    assert x.dim() == 1 and sr >= 8000 and torch.isfinite(x).all() and (x.numel() == 0 or float(x.abs().max()) <= 1.0)


@FAST
@given(st.one_of(st.binary(max_size=300), st.binary(max_size=200).map(lambda b: b"\x89PNG\r\n\x1a\n" + b),
                 st.binary(max_size=200).map(lambda b: b"GIF89a" + b)))
def test_preprocess_upload_any_bytes(data):
    from seqcore.tasks.captioning import preprocess_upload

    try:
        img, notes = preprocess_upload(data, "upload.png")
    except InputError:
        return
    assert img.shape == (64, 64, 3) and img.dtype == np.uint8
