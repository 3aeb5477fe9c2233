"""Where was the model sure? Each played note's probability, from the characters that wrote it.

music_generate records, per generated character, the probability it was drawn with. A note's confidence is the
probability of its pitch letter (the `c` of `^c'2`): the moment the model chose which note comes next. The
played notes (abc2midi's, via music_abc.parse_abc) come with repeats expanded, ties merged, grace notes and
rolls played, so they are matched back to the written notes rather than counted off:

1. written_notes reads the text as abc2midi does for pitch: the key signature (K:, modes included), accidentals
   that last to the end of the bar for that letter (in every octave, as abc2midi plays them), tied notes of the
   same pitch merged, grace notes kept. Each written note keeps the position of its pitch letter in the text.
2. align covers the played pitch sequence with the longest runs of the written one, longest first (a repeated
   part is the same written run played twice). Runs shorter than MIN_RUN notes are left unmatched, so a
   stray note (a roll's ornament, a pitch read differently) is grey rather than guessed.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from seqcore.tasks.music_abc import _BAR, Note

MIN_RUN = 3
_NOTE = re.compile(r"(\^{1,2}|_{1,2}|=)?([A-Ga-g])([,']*)(\d*/*\d*)(\s*-)?")
_SKIP = re.compile(r'"[^"]*"|![^!]*!|\+[^+\s]*\+|%.*$')
_INLINE = re.compile(r"\[([A-Za-z]):([^\]]*)\]")
_FIELD = re.compile(r"^([A-Za-z]):(.*)$")
_BASE = {"C": 60, "D": 62, "E": 64, "F": 65, "G": 67, "A": 69, "B": 71}
_FIFTHS = {"F": -1, "C": 0, "G": 1, "D": 2, "A": 3, "E": 4, "B": 5}
_MODES = {"": 0, "maj": 0, "ion": 0, "mix": -1, "dor": -2, "m": -3, "min": -3, "aeo": -3, "phr": -4, "loc": -5,
          "lyd": 1}
_ACCIDENTAL = {"^": 1, "^^": 2, "_": -1, "__": -2, "=": 0}


def key_signature(key: str) -> dict[str, int]:
    """K: value -> {letter: semitones}: 'D' -> {'F': 1, 'C': 1}, 'Ador' -> {'F': 1}, 'Bb' -> {'B': -1, 'E': -1}."""
    m = re.match(r"\s*([A-G])([#b]?)\s*([A-Za-z]*)", key or "")
    if not m:
        return {}
    mode = m.group(3).lower()
    mode = "m" if mode == "m" else mode[:3]
    fifths = _FIFTHS[m.group(1)] + {"#": 7, "b": -7, "": 0}[m.group(2)] + _MODES.get(mode, 0)
    fifths = max(-7, min(7, fifths))
    order = "FCGDAEB" if fifths > 0 else "BEADGCF"
    return {letter: 1 if fifths > 0 else -1 for letter in order[:abs(fifths)]}


@dataclass
class WrittenNote:
    pos: int     # index in the text of the note's pitch letter
    pitch: int   # MIDI number, as abc2midi plays it


def written_notes(abc: str) -> list[WrittenNote]:
    """The notes of an ABC text in written order (repeats not expanded) with their MIDI pitch."""
    out: list[WrittenNote] = []
    key: dict[str, int] = {}
    bar: dict[str, int] = {}  # accidentals set in this bar, by letter (abc2midi applies them in every octave)
    tied: int | None = None   # pitch of a note tied to the next
    offset, in_body = 0, False
    for line in abc.split("\n"):
        start, offset = offset, offset + len(line) + 1
        field = _FIELD.match(line)
        if field and (not in_body or field.group(1) in "KLMQPIVTW"):
            if field.group(1) == "K":
                key, bar, in_body = key_signature(field.group(2)), {}, True
            continue
        if not in_body:
            continue
        i = 0
        while i < len(line):
            for rx in (_SKIP, _INLINE, _BAR, _NOTE):
                m = rx.match(line, i)
                if m and m.end() > i:
                    break
            else:
                i += 1
                continue
            i = m.end()
            if rx is _INLINE:
                if m.group(1) == "K":
                    key, bar = key_signature(m.group(2)), {}
            elif rx is _BAR:
                bar = {}
            elif rx is _NOTE:
                acc, letter, octave, _, tie = m.groups()
                natural = _BASE[letter.upper()] + (12 if letter.islower() else 0) + 12 * (
                    octave.count("'") - octave.count(","))
                if acc is not None:
                    bar[letter.upper()] = _ACCIDENTAL[acc]
                pitch = natural + bar.get(letter.upper(), key.get(letter.upper(), 0))
                if tied != pitch:  # a tie to the same pitch is one longer note
                    out.append(WrittenNote(start + m.start(2), pitch))
                tied = pitch if tie else None
    return out


def align(played: list[int], written: list[int], min_run: int = MIN_RUN) -> list[int | None]:
    """For each played pitch, the index of the written note it plays, or None: the played sequence covered by
    the longest common runs with the written one, longest first, each run at least `min_run` notes."""
    match: list[int | None] = [None] * len(played)
    todo = [(0, len(played))]
    while todo:
        lo, hi = todo.pop()
        if hi - lo < min_run:
            continue
        sm = difflib.SequenceMatcher(None, played[lo:hi], written, autojunk=False)
        m = sm.find_longest_match(0, hi - lo, 0, len(written))
        if m.size < min_run:
            continue
        for k in range(m.size):
            match[lo + m.a + k] = m.b + k
        todo += [(lo, lo + m.a), (lo + m.a + m.size, hi)]
    return match


def note_confidence(abc: str, char_probs: list[float | None], notes: list[Note]) -> list[float | None]:
    """Per played note (music_abc.parse_abc's, in order): the probability the model gave its pitch letter when
    it wrote it; None for a note of the prime (char_probs None there) or one not matched to a written note."""
    written = written_notes(abc)
    match = align([n.pitch for n in notes], [w.pitch for w in written])
    return [None if j is None or written[j].pos >= len(char_probs) else char_probs[written[j].pos] for j in match]
