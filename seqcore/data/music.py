"""Folk tunes in ABC notation from the corpus inside the music21 wheel (offline).

Two collections: oneills1850 (O'Neill's 1850 Irish tunes) and ryansMammoth (Ryan's Mammoth
Collection of fiddle tunes). A tune starts at `X:`. We keep only the musical headers M:, L:, Q:
and K: (K: last, as ABC requires) and the body; titles, sources, transcriber notes, lyrics,
comments and quoted annotations (chord names, fingerings, dynamics) are dropped, so the model
learns music, not bibliography. Tunes are split train / validation / test by tune with a fixed seed.
"""

from __future__ import annotations

import importlib.util
import random
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from seqcore.errors import InputError

COLLECTIONS = ("oneills1850", "ryansMammoth")
KEEP_HEADERS = ("M", "L", "Q", "K")  # written in this order; K: must close the header
SEP = "\n"  # a blank line ends a tune: the text of a corpus is "\n\n".join(tunes)
_FIELD = re.compile(r"^([A-Za-z]):\s*(.*)$")
_QUOTED = re.compile(r'"[^"\n]*"')
_COMMENT = re.compile(r"%.*$")


def corpus_dir() -> Path:
    spec = importlib.util.find_spec("music21")
    if spec is None or not spec.submodule_search_locations:
        raise InputError("music21 is not installed: `pip install -r requirements.txt` provides the tune corpus")
    return Path(spec.submodule_search_locations[0]) / "corpus"


def split_tunes(text: str) -> list[str]:
    """Raw ABC file text -> one raw string per tune (each starts with its X: line)."""
    tunes, current = [], None
    for line in text.splitlines():
        if line.startswith("X:"):
            if current:
                tunes.append("\n".join(current))
            current = [line]
        elif current is not None:
            current.append(line)
    if current:
        tunes.append("\n".join(current))
    return tunes


def clean_tune(raw: str) -> str | None:
    """One raw tune -> 'M:..\\nL:..\\nK:..\\n<body>' or None when it has no key or no notes.

    Inline field lines in the body (a change of M:, L:, K:, Q:) are kept; others (P:, W:, w:, N:...)
    are dropped, as are blank lines inside the tune.
    """
    headers: dict[str, str] = {}
    body: list[str] = []
    in_body = False
    for line in raw.splitlines():
        line = _COMMENT.sub("", line).rstrip()
        if not line.strip():
            continue
        m = _FIELD.match(line)
        if m and not (in_body and "|" in line):  # 'A:|' would be a note line only in a weird tune
            name, value = m.group(1), m.group(2).strip()
            if not in_body:
                if name in KEEP_HEADERS and value:
                    headers[name] = value
                if name == "K":
                    in_body = True
            elif name in KEEP_HEADERS and value:
                body.append(f"{name}:{value}")
            continue
        if in_body:
            line = _QUOTED.sub("", line)
            line = re.sub(r"![^!\n]*!", "", line)  # !decorations! say how to play, not what
            line = re.sub(r"[ \t]+", " ", line).strip()
            if line:
                body.append(line)
    if "K" not in headers or not body:
        return None
    head = [f"{k}:{headers[k]}" for k in KEEP_HEADERS if k in headers]
    return "\n".join(head + body)


@dataclass
class TuneCorpus:
    """Cleaned tunes, split by tune. `vocab` is the sorted characters of all splits plus SEP."""

    train: list[str]
    val: list[str]
    test: list[str]
    collections: tuple[str, ...]
    seed: int
    vocab: list[str] = field(default_factory=list)

    def counts(self) -> dict:
        return {
            "tunes": {s: len(getattr(self, s)) for s in ("train", "val", "test")},
            "chars": {s: len(join_tunes(getattr(self, s))) for s in ("train", "val", "test")},
        }

    def card(self) -> dict:
        """What a model card records about the data."""
        return {"source": "music21 wheel corpus/" + ", corpus/".join(self.collections),
                "collections": list(self.collections), "split": "by tune (exact duplicates dropped), 80/10/10, seed "
                f"{self.seed}", **self.counts(), "vocab_size": len(self.vocab), "vocab": "".join(self.vocab)}


def join_tunes(tunes: list[str]) -> str:
    """The training text: tunes separated by a blank line, and ending with one."""
    return "".join(t + SEP + SEP for t in tunes)


@cache
def _load_collection(name: str) -> tuple[str, ...]:
    folder = corpus_dir() / name
    if not folder.is_dir():
        raise InputError(f"tune collection {name!r} not found in music21's corpus ({folder})")
    tunes = []
    for path in sorted(folder.glob("*.abc")):
        for raw in split_tunes(path.read_text(encoding="latin-1")):
            tune = clean_tune(raw)
            if tune is not None:
                tunes.append(tune)
    return tuple(tunes)


def load_tunes(collections: tuple[str, ...] | list[str] = COLLECTIONS) -> list[str]:
    """All cleaned tunes of the named collections, in file order, exact duplicates dropped."""
    out, seen = [], set()
    for name in collections:
        if name not in COLLECTIONS:
            raise InputError(f"unknown tune collection {name!r}: choose from {', '.join(COLLECTIONS)}")
        for tune in _load_collection(name):
            if tune not in seen:  # ~15 tunes appear twice verbatim: a copy in test would leak
                seen.add(tune)
                out.append(tune)
    return out


def load_corpus(collections: tuple[str, ...] | list[str] = COLLECTIONS, seed: int = 0,
                fractions: tuple[float, float] = (0.8, 0.1)) -> TuneCorpus:
    """Cleaned tunes shuffled with `seed` and split by tune into train / val / test."""
    collections = tuple(collections)
    tunes = load_tunes(collections)
    if not tunes:
        raise InputError("no tunes: choose at least one collection")
    order = list(range(len(tunes)))
    random.Random(seed).shuffle(order)
    n_train = int(len(tunes) * fractions[0])
    n_val = int(len(tunes) * fractions[1])
    pick = [tunes[i] for i in order]
    corpus = TuneCorpus(pick[:n_train], pick[n_train:n_train + n_val], pick[n_train + n_val:], collections, seed)
    corpus.vocab = sorted(set("".join(tunes)) | {SEP})
    return corpus
