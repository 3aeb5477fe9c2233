"""ABC text -> notes, the bar-length honesty check, and MIDI bytes.

Notes come from abcMIDI's `abc2midi` (the binary bundled in the symusic wheel), read back with
symusic: a maintained parser that expands repeats correctly. We run the binary ourselves so its
warnings never reach our stdout and a pathological text cannot hang us (timeout).

Generated text is often broken. `parse_abc` never raises: it keeps the longest prefix of body
lines that parses and reports how much of the text was usable.

`bar_check` is not a parser for playing notes; it only adds up note lengths between bar lines to
count the bars whose length matches the meter, the honest test of a generated tune ("it parses"
is weak, since abc2midi accepts almost anything).
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

MAX_SECONDS = 300.0  # longer "tunes" are cut: a runaway repeat must not become an hour of audio


@dataclass
class Note:
    pitch: int        # MIDI number, 60 = middle C
    start: float      # seconds
    duration: float   # seconds
    velocity: int = 90


@dataclass
class ParsedTune:
    notes: list[Note]
    usable_chars: int       # length of the prefix that parsed
    total_chars: int
    message: str = ""       # what was dropped or why nothing was usable
    midi: bytes = b""

    @property
    def usable_share(self) -> float:
        return self.usable_chars / max(1, self.total_chars)

    @property
    def seconds(self) -> float:
        return max((n.start + n.duration for n in self.notes), default=0.0)

    def summary(self) -> dict:
        return {"notes": len(self.notes), "seconds": round(self.seconds, 2),
                "usable_share": round(self.usable_share, 3), "message": self.message}


def _abc2midi_path() -> Path:
    import symusic

    return Path(symusic.__file__).parent / "bin" / ("abc2midi.exe" if os.name == "nt" else "abc2midi")


def with_header(abc: str) -> str:
    """Add the X: (and a default K:C) that abc2midi needs when a generated text lacks them."""
    text = abc.strip("\n")
    if not re.search(r"^K:", text, re.M):
        text = "K:C\n" + text
    if not text.startswith("X:"):
        text = "X:1\n" + text
    return text + "\n"


def _abc_to_midi(abc: str, timeout: float = 10.0) -> bytes | None:
    """MIDI bytes from abc2midi, or None when it writes no file (nothing it could read)."""
    with tempfile.TemporaryDirectory(prefix="seqcore-abc-") as tmp:
        src, out = Path(tmp) / "tune.abc", Path(tmp) / "tune.mid"
        src.write_text(abc, encoding="utf-8", errors="replace")  # a lone surrogate (from argv) becomes "?"
        try:
            subprocess.run([str(_abc2midi_path()), str(src), "-o", str(out), "-silent"],
                           capture_output=True, timeout=timeout, check=False)
        except (subprocess.TimeoutExpired, OSError):
            return None
        return out.read_bytes() if out.exists() and out.stat().st_size > 0 else None


def _notes_from_midi(midi: bytes) -> list[Note]:
    import symusic

    score = symusic.Score.from_midi(midi).to("second")
    notes = [Note(int(n.pitch), float(n.time), float(n.duration), int(n.velocity))
             for track in score.tracks for n in track.notes if not track.is_drum and n.duration > 0]
    notes.sort(key=lambda n: (n.start, n.pitch))
    return [n for n in notes if n.start < MAX_SECONDS]


def _try(abc: str) -> tuple[list[Note], bytes]:
    midi = _abc_to_midi(with_header(abc))
    if midi is None:
        return [], b""
    try:
        return _notes_from_midi(midi), midi
    except Exception:  # a MIDI file symusic cannot read counts as "nothing usable"
        return [], b""


def parse_abc(abc: str) -> ParsedTune:
    """Notes of an ABC tune, keeping the longest prefix of lines that gives notes; never raises."""
    text = abc if isinstance(abc, str) else ""
    total = len(text)
    if not text.strip():
        return ParsedTune([], 0, total, "the text is empty")
    notes, midi = _try(text)
    if notes:
        return ParsedTune(notes, total, total, "", midi)
    text, in_c = _key_or_c(text)
    if in_c:
        notes, midi = _try(text)
        if notes:
            return ParsedTune(notes, total, total, in_c, midi)
        in_c += "; "
    lines = text.rstrip("\n").split("\n")
    # Drop trailing lines, halving the step: a broken ending usually spoils only the last lines.
    keep = len(lines) - 1
    while keep > 0:
        prefix = "\n".join(lines[:keep])
        notes, midi = _try(prefix)
        if notes:
            dropped = len(lines) - keep
            return ParsedTune(notes, min(len(prefix), total), total,
                              f"{in_c}dropped the last {dropped} line(s), which did not parse", midi)
        keep -= max(1, keep // 4)
    return ParsedTune([], 0, total, "no playable notes: this does not read as ABC notation")


def _key_or_c(text: str) -> tuple[str, str]:
    """(text, "") or, when abc2midi cannot read the key of its first K: field, (the text with that key replaced by
    C, a note saying so). abc2midi reads nothing of a tune whose first K: names no key, however good the notes after
    it: the default LSTM wrote "K:^G" for seed 18000 (found by bench/soak.py: the music page played nothing)."""
    key = re.search(r"^K:(.*)$", text, re.M)
    if key is None or key.group(1).strip() == "C" or _try(text[:key.end()] + "\nC|\n")[0]:
        return text, ""
    return text[:key.start(1)] + "C" + text[key.end(1):], f"K:{key.group(1).strip()} is not a key: played in C"


# ---- the bar-length check ----------------------------------------------------------------

_NOTE = re.compile(r"(?:\^{1,2}|_{1,2}|=)?[A-Ga-g][,']*(\d*)(/*)(\d*)")
_REST = re.compile(r"[zx](\d*)(/*)(\d*)")
_CHORD = re.compile(r"\[([^\]\[|:]*)\](\d*)(/*)(\d*)")
_TUPLET = re.compile(r"\((\d)(?::(\d*))?(?::(\d*))?")
_BAR = re.compile(r"(?:\[\||:*\|+[\]:]*|::)(?:\[?\d+(?:[,-]\d+)*)?|\[\d+")
_FIELDLINE = re.compile(r"^([MLKQ]):\s*(.*)$")
_INLINE_FIELD = re.compile(r"\[[A-Za-z]:[^\]]*\]")
_SKIP = re.compile(r'"[^"]*"|![^!]*!|\+[^+\s]*\+|\{[^}]*\}')


def _length(num: str, slashes: str, den: str) -> Fraction:
    n = Fraction(int(num)) if num else Fraction(1)
    if slashes:
        d = int(den) if den else 2 ** len(slashes)
        n /= max(1, d)
    return n


def parse_meter(m: str) -> Fraction | None:
    """'6/8' -> 3/4 of a whole note; C = 4/4, C| = 2/2; None for free meter."""
    m = m.strip()
    if m == "C":
        return Fraction(1)
    if m == "C|":
        return Fraction(1)
    parts = re.match(r"^\(?([\d+]+)\)?/(\d+)$", m)
    if not parts:
        return None
    num = sum(int(x) for x in parts.group(1).split("+") if x)
    return Fraction(num, int(parts.group(2))) if num and int(parts.group(2)) else None


def _unit(l_field: str | None, meter: Fraction | None) -> Fraction:
    if l_field:
        try:
            f = Fraction(l_field.strip())
            if f > 0:
                return f
        except (ValueError, ZeroDivisionError):
            pass
    # ABC standard: without L:, the unit is 1/16 below a meter of 3/4, else 1/8.
    return Fraction(1, 16) if meter is not None and meter < Fraction(3, 4) else Fraction(1, 8)


def _tuplet_factor(p: int, q: str | None, meter: Fraction | None, compound: bool) -> Fraction:
    if q:
        return Fraction(int(q), p)
    default_q = {2: 3, 3: 2, 4: 3, 6: 2, 8: 3}.get(p, 3 if compound else 2)
    return Fraction(default_q, p)


@dataclass
class BarCheck:
    bars: int = 0            # bars that hold at least one note or rest
    matching: int = 0        # of those, bars whose length equals the meter
    lengths: list[str] = field(default_factory=list)  # each bar's length in units of L, e.g. '6' or '7/2'
    matches: list[bool] = field(default_factory=list)  # per bar: does its length equal the meter?

    @property
    def share(self) -> float:
        return self.matching / self.bars if self.bars else 0.0

    def to_dict(self) -> dict:
        return {"bars": self.bars, "matching_bars": self.matching, "share": round(self.share, 3)}


def bar_check(abc: str) -> BarCheck:
    """Count bars whose summed note lengths equal the meter (M: and L: lines and inline [M:..] / [L:..]).

    Broken rhythm (a>b) keeps a pair's total, so it is ignored; grace notes, chord symbols and
    decorations take no time; a chord lasts as long as its first note; (3abc tuplets scale.
    The first and last bar of a tune with a pick-up do not match: the corpus itself scores ~0.9.
    """
    meter: Fraction | None = Fraction(1)
    l_field: str | None = None
    out = BarCheck()
    bar = Fraction(0)
    has_notes = False
    tuplet_left, tuplet_factor = 0, Fraction(1)

    def close_bar():
        nonlocal bar, has_notes
        if has_notes and meter is not None:
            unit = _unit(l_field, meter)
            out.bars += 1
            out.lengths.append(str(bar))
            out.matches.append(bar * unit == meter)
            if bar * unit == meter:
                out.matching += 1
        bar, has_notes = Fraction(0), False

    for line in (abc or "").splitlines():
        f = _FIELDLINE.match(line.strip())
        if f:
            if f.group(1) == "M":
                meter = parse_meter(f.group(2))
            elif f.group(1) == "L":
                l_field = f.group(2)
            continue
        if re.match(r"^[A-Za-z]:", line):
            continue
        s = _SKIP.sub("", line)
        i = 0
        while i < len(s):
            for kind, rx in (("field", _INLINE_FIELD), ("bar", _BAR), ("chord", _CHORD), ("tuplet", _TUPLET),  # noqa: B007 (read after the break)
                             ("note", _NOTE), ("rest", _REST)):
                m = rx.match(s, i)
                if m and m.end() > i:
                    break
            else:
                i += 1  # decorations, slurs, ties, spaces, broken-rhythm marks take no time
                continue
            i = m.end()
            if kind == "field":  # [M:3/4] or [L:1/16] changes the meter from here on; [K:..] does not count
                name, value = m.group(0)[1], m.group(0)[3:-1]
                if name == "M":
                    meter = parse_meter(value)
                elif name == "L":
                    l_field = value.strip()
                continue
            if kind == "bar":
                close_bar()
                continue
            if kind == "tuplet":
                p = int(m.group(1))
                if p >= 2:
                    compound = meter is not None and meter.denominator == 8 and meter.numerator % 3 == 0
                    tuplet_factor = _tuplet_factor(p, m.group(2), meter, compound)
                    tuplet_left = int(m.group(3)) if m.group(3) else p
                continue
            if kind == "chord":
                first = _NOTE.search(m.group(1))
                if first is None:
                    continue
                d = _length(*first.groups()) * _length(m.group(2), m.group(3), m.group(4))
            else:
                d = _length(m.group(1), m.group(2), m.group(3))
            if tuplet_left > 0:
                d *= tuplet_factor
                tuplet_left -= 1
            bar += d
            has_notes = True
    close_bar()
    return out
