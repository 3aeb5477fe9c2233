"""Is a generated tune new, and is it shaped like a folk tune? Novelty against the training tunes, and structure.

Novelty: a tune's body (the lines after K:) read as its run of pitches (accidental + letter + octave marks;
lengths, bars, decorations and chord symbols ignored, so a copy with other ornaments is still a copy). Its
nearest training tune is the one sharing the most NGRAM-note runs; `overlap` is the share of the tune's runs
found in that one tune. CLOSE = 0.5: on the held-out real tunes, the median overlap with their nearest training
tune is about 0.1 and a fifth pass 0.5 (O'Neill's and Ryan's print many of the same tunes in variants), so above
it a sample reads as a variant of a tune the model was trained on.

Structure: most tunes in these collections are two parts of 8 bars, each repeated. A part ends at `:|`, `::`,
`||` or `|]`; a second ending (`:|2`, `[2`) replaces the first and is not counted; a part is whole when its
notes add up to whole 4-bar phrases (4, 8, 12 ... 32 bars of its meter, give or take the half bar of a pick-up
into the next part). The held-out real tunes: 99% balanced, most are two 8-bar parts. Repeats are
balanced when every `|:` is closed by a `:|` (a `:|` with no `|:` repeats from the start of its part, as in ABC).
"""

from __future__ import annotations

import collections
import difflib
import functools
import re
from dataclasses import asdict, dataclass, field
from fractions import Fraction

from seqcore.tasks.music_abc import _BAR, _SKIP, _unit, bar_check, parse_meter

NGRAM = 8      # notes per run: shorter runs (scales, arpeggios) are shared by most tunes
CLOSE = 0.5    # overlap at and above which a sample is flagged as close to a training tune
_PITCH = re.compile(r"[\^_=]*[A-Ga-g][,']*")
_FIELD = re.compile(r"^([A-Za-z]):\s*(.*)$")


def body(tune: str) -> str:
    """The tune without its header (the lines up to and including K:); the whole text when there is no K:."""
    lines = tune.split("\n")
    for i, line in enumerate(lines):
        if line.startswith("K:"):
            return "\n".join(lines[i + 1:])
    return tune


def pitches(tune: str) -> list[str]:
    """The tune's notes as pitch names in order, e.g. ['A', 'B', 'A', '^c', "d'"]."""
    return _PITCH.findall(_SKIP.sub(" ", body(tune)))


def _grams(notes: list[str]) -> set[tuple[str, ...]]:
    return {tuple(notes[i:i + NGRAM]) for i in range(len(notes) - NGRAM + 1)}


class TuneIndex:
    """An inverted index from NGRAM-note runs to the training tunes that contain them."""

    def __init__(self, tunes: list[str]):
        self.tunes = tunes
        self.notes = [pitches(t) for t in tunes]
        self.index: dict[tuple[str, ...], list[int]] = collections.defaultdict(list)
        for i, notes in enumerate(self.notes):
            for g in _grams(notes):
                self.index[g].append(i)

    def nearest(self, tune: str) -> Novelty:
        notes = pitches(tune)
        grams = _grams(notes)
        counts = collections.Counter(i for g in grams for i in self.index.get(g, ()))
        if not grams or not counts:
            return Novelty(nearest=None, overlap=0.0, shared_run=0, notes=len(notes))
        best, shared = counts.most_common(1)[0]
        other = self.notes[best]
        run = difflib.SequenceMatcher(None, notes, other, autojunk=False).find_longest_match(
            0, len(notes), 0, len(other)).size
        return Novelty(nearest=best, overlap=shared / len(grams), shared_run=run, notes=len(notes),
                       nearest_tune=self.tunes[best])


@dataclass
class Novelty:
    nearest: int | None          # index of the nearest training tune (None: no run of NGRAM notes is shared)
    overlap: float               # share of the tune's NGRAM-note runs that occur in that training tune
    shared_run: int              # longest run of notes the two have in common
    notes: int                   # notes in the tune
    nearest_tune: str = ""       # that training tune's text, to show beside the sample
    threshold: float = CLOSE

    @property
    def close(self) -> bool:
        return self.nearest is not None and self.overlap >= self.threshold

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("nearest_tune")
        return {**d, "overlap": round(self.overlap, 3), "close": self.close}


def training_index(collections_: tuple[str, ...] | list[str] | None = None, seed: int = 0) -> TuneIndex:
    """The index of the training split of these collections (default: the shipped models' corpus, the
    load_corpus split); built once per process (about 1 s), indices are positions in load_corpus(...).train."""
    from seqcore.data.music import COLLECTIONS

    return _index(tuple(collections_ or COLLECTIONS), seed)


@functools.cache
def _index(collections_: tuple[str, ...], seed: int) -> TuneIndex:
    from seqcore.data.music import load_corpus

    return TuneIndex(load_corpus(collections_, seed=seed).train)


def index_for(card: dict | None) -> TuneIndex:
    """The training index of the tunes a model card says it was trained on (its data.collections)."""
    return training_index((card or {}).get("data", {}).get("collections"))


def novelty(tune: str, index: TuneIndex | None = None) -> Novelty:
    """The training tune nearest to `tune` and how much of it is shared."""
    return (index or training_index()).nearest(tune)


def tune_report(tune: str, index: TuneIndex | None = None) -> dict:
    """Novelty and structure of one tune as flat JSON fields (`seqcore music generate` adds them):
    nearest_tune (index in the training split, None when no run is shared), overlap, shared_run, close,
    close_threshold, parts (bars per part), balanced_repeats, whole_parts."""
    n = novelty(tune, index)
    return {"nearest_tune": n.nearest, "overlap": round(n.overlap, 3), "shared_run": n.shared_run,
            "close": n.close, "close_threshold": n.threshold, **structure(tune).to_dict()}


@dataclass
class Structure:
    parts: list[float] = field(default_factory=list)  # bars per part (notes' time / the meter's bar)
    balanced: bool = True                               # every |: closed by a :|

    @property
    def whole(self) -> bool:
        """At least one part, and every part whole 4-bar phrases (within half a bar: a pick-up into the next part)."""
        return bool(self.parts) and all(4 <= round(p) <= 32 and round(p) % 4 == 0 and abs(p - round(p)) <= 0.5
                                        for p in self.parts)

    def to_dict(self) -> dict:
        return {"parts": [round(p, 2) for p in self.parts], "balanced_repeats": self.balanced,
                "whole_parts": self.whole}


def _ends_part(token: str) -> bool:
    return ":|" in token or "::" in token or "||" in token or "|]" in token


def _second_ending(token: str) -> bool:
    m = re.search(r"(\d+)", token)
    return m is not None and int(m.group(1)) >= 2


def structure(tune: str) -> Structure:
    """Parts and repeats of one tune (see the module docstring)."""
    header = [line for line in tune.split("\n") if _FIELD.match(line) and line[0] in "ML"]
    meter = parse_meter(next((h[2:].strip() for h in header if h.startswith("M:")), "4/4")) or Fraction(1)
    unit = _unit(next((h[2:].strip() for h in header if h.startswith("L:")), None), meter)
    text = _SKIP.sub(" ", body(tune))
    out, part, skipping, open_repeat = Structure(), [], False, False

    def close_part():
        notes = "".join(part).strip()
        if notes and _PITCH.search(notes) or re.search(r"[zx]", notes):
            lengths = bar_check("\n".join([*header, notes])).lengths
            out.parts.append(float(sum(Fraction(x) for x in lengths) * unit / meter))
        part.clear()

    pos = 0
    for m in _BAR.finditer(text):
        token = m.group(0)
        if not skipping:
            part.append(text[pos:m.start()] + " | ")
        pos = m.end()
        if "|:" in token or "::" in token:
            if open_repeat and "::" not in token:
                out.balanced = False  # a second |: before the first was closed
            open_repeat = True
        if ":|" in token or "::" in token:
            open_repeat = "::" in token
        if _ends_part(token):
            if not skipping:
                close_part()
            skipping = _second_ending(token)
        elif skipping and not _second_ending(token) and token.startswith("["):
            skipping = False
        elif _second_ending(token) and not skipping:
            close_part()  # `[2` after a plain bar line: the part ended at the first ending
            skipping = True
    if not skipping:
        part.append(text[pos:])
        close_part()
    if open_repeat:
        out.balanced = False
    return out
