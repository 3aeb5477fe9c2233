"""Meter-aware decoding: an incremental ABC note-length tracker and the mask it puts on the sampler.

`BarTracker` reads ABC one character at a time and knows, at every point, the meter (M:), the unit
length (L:, inline [M:..] / [L:..] changes included), and the running length of the current bar. It
reads the text the way `music_abc.bar_check` adds bars up (a test holds the two to the same counts on
every corpus tune): broken rhythm `>`/`<` keeps a pair's total, `(3` tuplets scale the next notes, a
chord `[...]` lasts as long as its first note, grace notes `{...}`, decorations (`~`, `.`, `!trill!`,
letters like `u`/`v`) and ties take no time, `|:`, `:|`, `::`, `[1`, `|2`, `|]`, `||` close a bar.

`tracker.allows(c)` answers "may the next character be c?" without changing the tracker: it feeds c to
a strict copy, which refuses a character that would overfill the bar, close it early (only the first
bar of a tune, a pick-up, may be short), or break the grammar: a stray `]` or `}`, a bar line inside
a chord or grace group, a stray digit or `/`, a blank line (the end of the tune) in the middle of a bar
or before `min_bars` whole bars, an M:/L: value no tune uses. A note may start only if some length
(A, A/, A//, A/4 ...) still fits; a tuplet's notes share the first one's length, so a group always
fills whole units; a bar may not be padded with more than MAX_IDLE characters in a row that take no
time (spaces, slurs, decorations), nor decorated once it is full. When a bar's length cannot be known
(free meter, or text the tracker could not read), it is permissive.

`MeterMask` turns that into the set of vocabulary ids to ban at a sampling step. Characters that always
behave alike (all note letters, all spaces and slurs, ...) are asked once per step through one member,
so a step costs about thirty strict single-character feeds, not a reparse per vocabulary entry.
Constrained decoding is then the model's distribution renormalised over the allowed continuations.
"""

from __future__ import annotations

import operator
from fractions import Fraction
from functools import lru_cache

import torch

from seqcore.tasks.music_abc import BarCheck, _tuplet_factor, _unit, parse_meter

NOTE = frozenset("ABCDEFGabcdefg")
REST = frozenset("zx")
ACC = frozenset("^_=")
OCTAVE = frozenset(",'")
DIGITS = frozenset("0123456789")
LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
SKIP_CLOSE = {"{": "}", "!": "!", '"': '"', "+": "+"}  # grace notes, decorations, annotations: no time
GRACE_CHARS = NOTE | ACC | OCTAVE | DIGITS | {"/"}
CHORD_CHARS = NOTE | ACC | OCTAVE | DIGITS | {"/", "]"}
DENOMINATORS = ("2", "4", "8", "16")  # what a strict note length may divide by

MAX_SLASHES = 4
MAX_DECORATION = 12  # letters in a !decoration!
MAX_GRACE = 8  # characters in a {grace} group
MAX_CHORD = 12  # characters in a [chord]
MIN_TUNE_BARS = 8  # the decoder does not end a tune (blank line) before it has this many bars
MAX_IDLE = 5  # characters in a row that take no time (spaces, slurs, decorations) before a note or bar line
PREFIX = frozenset(".~(") | LETTERS  # what only makes sense before a note: not once the bar is full
MAX_INLINE_FIELD = 12

_LENGTH_AFTER = NOTE | OCTAVE | DIGITS | {"/"}
_SIGNIFICANT = NOTE | REST | ACC | DIGITS | OCTAVE | frozenset("|:[]<>/}\n")  # all else takes no time

FIELD_LETTERS = frozenset("KLMQ")  # the fields a cleaned corpus tune has (strict: no other field lines)
FIELD_VALUES = {"M": ("C", "C|", "2/2", "2/4", "3/4", "4/4", "5/4", "6/4", "3/2", "3/8", "6/8", "9/8", "12/8"),
                "L": ("1/4", "1/8", "1/16")}

BODY, FIELD, HELD, BRACKET, CHORD, INFIELD = range(6)


class Violation(Exception):
    """The character would break the bar or the grammar (raised by a strict tracker only)."""


_VIOLATION = Violation()


@lru_cache(maxsize=4096)
def note_length(num: str, slashes: int, den: str) -> Fraction:
    """'3', 1, '2' (A3/2) -> 3/2 units of L; the same arithmetic as music_abc._length."""
    n = Fraction(int(num)) if num else Fraction(1)
    if slashes:
        n /= max(1, int(den) if den else 2 ** slashes)
    return n


class BarTracker:
    """Running note-length state of an ABC text fed one character at a time.

    feed(text) / push(c): read more text (never raises unless strict). allows(c): would c keep the bar
    and the grammar right? result(): the bar check of everything read so far (as music_abc.bar_check).
    """

    __slots__ = (
        "strict", "record", "min_bars", "meter", "l_field", "target", "mode", "line_empty",
        "bar", "has_notes", "unknown",
        "bars", "matching", "lengths", "matches", "counted", "tune_full",
        "tok", "pnum", "pslash", "pden", "pphase", "pbase", "broken", "idle",
        "tphase", "tp", "tq", "tr", "tleft", "tfactor", "tlen",
        "buf", "skip", "skip_buf", "held", "fletter", "ftext",
        "cstate", "cnum", "cslash", "cden", "cphase", "cfirst",
    )

    def __init__(self, text: str = "", *, strict: bool = False, min_bars: int = 0):
        self.strict, self.record, self.min_bars = strict, True, min_bars
        self.meter: Fraction | None = Fraction(1)  # bar_check's defaults: 4/4, L from the meter
        self.l_field: str | None = None
        self._set_target()
        self.mode, self.line_empty = BODY, True
        self.bar, self.has_notes, self.unknown = Fraction(0), False, False
        self.bars = self.matching = self.counted = self.tune_full = 0
        self.lengths: list[str] = []
        self.matches: list[bool] = []
        self.tok: str | None = None  # token in progress: len, acc, tup, colon, bar, ending, Z, broken
        self.pnum, self.pslash, self.pden, self.pphase, self.pbase = "", 0, "", 0, Fraction(1)
        self.broken, self.idle = False, 0
        self.tphase, self.tp, self.tq, self.tr = 0, "", "", ""
        self.tleft, self.tfactor, self.tlen = 0, Fraction(1), None
        self.buf, self.skip, self.skip_buf, self.held, self.fletter, self.ftext = "", "", "", "", "", ""
        self.cstate, self.cnum, self.cslash, self.cden, self.cphase, self.cfirst = "search", "", 0, "", 0, None
        if text:
            self.feed(text)

    # ---- public surface ------------------------------------------------------------------

    @property
    def room(self) -> Fraction | None:
        """Units of L left in the current bar (committed notes only), None when the meter is unknown."""
        return None if self.target is None else self.target - self.bar

    @property
    def pickup_allowed(self) -> bool:
        """True until the tune's first bar with notes has closed: that bar may be short."""
        return self.counted == 0

    def feed(self, text: str) -> BarTracker:
        for c in text:
            self.push(c)
        return self

    def copy(self, strict: bool | None = None) -> BarTracker:
        t = object.__new__(BarTracker)
        _copy_fields(self, t)
        if strict is not None:
            t.strict = strict
        t.record = False  # a copy shares the per-bar lists; it must not append to them
        return t

    def allows(self, c: str) -> bool:
        t = self.copy(strict=True)
        try:
            t.push(c)
        except Violation:
            # Every raise of the one shared instance prepends its frames to the instance's __traceback__: without
            # this the chain, and the tracker copies its frames hold, grew by every character a meter-aware
            # generation rejected (~2,000 frames a tune) for the life of the server (found by bench/soak.py)
            _VIOLATION.__traceback__ = None
            return False
        return True

    def result(self) -> BarCheck:
        """The bar check of the text so far: the open bar is closed as the end of the text closes it."""
        t = self.copy(strict=False)
        t.record = True
        t.lengths, t.matches = list(self.lengths), list(self.matches)
        t._finish()
        return BarCheck(t.bars, t.matching, t.lengths, t.matches)

    # ---- the state machine ---------------------------------------------------------------

    def _set_target(self):
        self.target = None if self.meter is None else self.meter / _unit(self.l_field, self.meter)

    def push(self, c: str) -> None:
        if self.skip:
            return self._skip_char(c)
        mode = self.mode
        if mode == FIELD:
            if self.strict:
                self._check_field_char(c, "\n")
            if c == "\n":
                self._apply_field(self.fletter, self.ftext)
                self.mode, self.line_empty = BODY, True
            else:
                self.ftext += c
            return
        if mode == HELD:  # a letter at the start of a line: a field line if ':' follows, else body text
            held, self.mode, self.held = self.held, BODY, ""
            if c == ":":
                if self.strict and (held not in FIELD_LETTERS or (held in "ML" and self.has_notes)):
                    raise _VIOLATION  # only K L M Q fields, and the meter or unit changes only between bars
                self._end_tok()
                self.mode, self.fletter, self.ftext = FIELD, held, ""
                return
            self._body(held)
            return self.push(c)
        if c in SKIP_CLOSE and mode in (BODY, BRACKET, CHORD):
            if self.strict:
                if c in "+\"" or mode != BODY or self.idle >= MAX_IDLE:
                    raise _VIOLATION
                if self.target is not None and not self.unknown:
                    pending = self._pending_length() if self.tok == "len" else 0
                    if self.bar + pending >= self.target:
                        raise _VIOLATION  # grace notes and decorations lead to a note: none fits
            self.skip, self.skip_buf, self.line_empty = SKIP_CLOSE[c], "", False
            self.idle += 1
            return
        if mode == BRACKET:
            return self._bracket(c)
        if mode == CHORD:
            return self._chord(c)
        if mode == INFIELD:
            return self._infield(c)
        self._body(c)

    def _skip_char(self, c: str) -> None:
        close = self.skip
        if c == close:
            if self.strict and not self.skip_buf:
                raise _VIOLATION
            self.skip = ""
            return
        if c == "\n" or (close == "+" and c in " \t"):  # unclosed on its line: bar_check reads it as text
            if self.strict:
                raise _VIOLATION
            text, self.skip, self.skip_buf = self.skip_buf, "", ""
            self.unknown = True
            self.push(" ")  # the opener itself takes no time but ends the token before it
            self.feed(text)
            self.push(c)
            return
        if self.strict:
            if close == "}" and (c not in GRACE_CHARS or len(self.skip_buf) >= MAX_GRACE):
                raise _VIOLATION
            if close == "!" and (c not in LETTERS or len(self.skip_buf) >= MAX_DECORATION):
                raise _VIOLATION
        self.skip_buf += c

    def _replay(self, c: str) -> None:
        """A bracket that turned out not to be a chord or inline field: bar_check skips the '[' and reads on."""
        if self.strict:
            raise _VIOLATION
        text, self.buf, self.mode = self.buf, "", BODY
        self.unknown = True
        self._body(" ")
        self.feed(text)
        self.push(c)

    def _bracket(self, c: str) -> None:
        if c == "|" or c in DIGITS:  # [| or [1: a bar line (an ending)
            self.mode = BODY
            if self.strict and c == "0":
                raise _VIOLATION
            self._close()
            self.tok = "bar" if c == "|" else "ending"
            return
        if c == "]":  # [] : an empty chord, no time
            if self.strict:
                raise _VIOLATION
            self.mode = BODY
            return
        if c == "\n":
            self.buf = ""
            return self._replay(c)
        if self.strict and ((c not in NOTE and c not in ACC and c not in FIELD_LETTERS)
                            or (c in "ML" and self.has_notes)):
            raise _VIOLATION
        self.mode, self.buf = CHORD, ""
        self.cstate, self.cfirst = "search", None
        self._chord(c)

    def _chord(self, c: str) -> None:
        if c == "]":
            if self.cstate == "note":
                self.cfirst = note_length(self.cnum, self.cslash, self.cden)
            self.mode, self.buf = BODY, ""
            if self.cfirst is None:
                if self.strict:
                    raise _VIOLATION
                return
            self._start_len(self.cfirst, phase=1)
            return
        if c == ":" and len(self.buf) == 1 and self.buf in LETTERS:  # [M:6/8] and the like (strict: K L M Q)
            if self.strict and self.buf in "ML" and self.has_notes:
                raise _VIOLATION  # a new meter or unit mid-bar would measure one bar in two units
            self.mode, self.fletter, self.ftext = INFIELD, self.buf, ""
            self.buf += c
            return
        if c in "[|:\n":
            return self._replay(c)
        strict = self.strict
        if strict:
            if not self.buf:
                ok = c in NOTE or c in ACC or c in FIELD_LETTERS  # [A (a chord) or [M (an inline field)
            else:
                ok = c in CHORD_CHARS and (self.buf[0] in NOTE or self.buf[0] in ACC) and len(self.buf) < MAX_CHORD
            if not ok:
                raise _VIOLATION
        self.buf += c
        state = self.cstate
        if state == "search":
            if strict and (c in NOTE or c in ACC):
                self.pbase = Fraction(1)
                self._check_reach(FRESH)
            if c in NOTE:
                self.cstate, self.cnum, self.cslash, self.cden, self.cphase = "note", "", 0, "", 0
            return
        if state == "note":
            ok = self._len_step(c, "c")
            if ok:
                if strict and c in DIGITS and self.cphase == 1:
                    self._check_interim(note_length(self.cnum, self.cslash, self.cden))
                return
            self.cfirst = note_length(self.cnum, self.cslash, self.cden)
            self.cstate = "done"
        if strict and (c in DIGITS or c == "/") and self.buf[-2:-1] not in _LENGTH_AFTER:
            raise _VIOLATION  # a length needs a note before it

    def _check_field_char(self, c: str, end: str) -> None:
        """Strict: an M: or L: value must stay the start of one the corpus uses (an unreadable meter
        would switch the bar check off for the rest of the tune)."""
        values = FIELD_VALUES.get(self.fletter)
        if values is None:
            return
        text = self.ftext
        if c == end:
            if text not in values:
                raise _VIOLATION
        elif not any(v.startswith(text + c) for v in values):
            raise _VIOLATION

    def _infield(self, c: str) -> None:
        if self.strict:
            self._check_field_char(c, "]")
        if c == "]":
            self._apply_field(self.fletter, self.ftext)
            self.mode, self.buf = BODY, ""
            return
        if c == "\n":
            return self._replay(c)
        if self.strict and (c in "[|" or len(self.ftext) >= MAX_INLINE_FIELD):
            raise _VIOLATION
        self.ftext += c
        self.buf += c

    def _apply_field(self, letter: str, value: str) -> None:
        if letter == "M":
            self.meter = parse_meter(value.strip())
        elif letter == "L":
            self.l_field = value.strip()
        else:
            return
        self._set_target()

    # ---- body text -------------------------------------------------------------------------

    def _len_step(self, c: str, which: str) -> bool:
        """Does c continue a note length? which='p' (the pending note) or 'c' (a chord's first note)."""
        phase = getattr(self, which + "phase")
        strict = self.strict
        if c in DIGITS:
            if phase <= 1:
                num = getattr(self, which + "num")
                if strict and ((c == "0" and not num) or len(num) >= 2):
                    raise _VIOLATION
                setattr(self, which + "num", num + c)
                setattr(self, which + "phase", 1)
                return True
            den = getattr(self, which + "den") + c
            if strict and not any(d.startswith(den) for d in DENOMINATORS):
                raise _VIOLATION
            setattr(self, which + "den", den)
            setattr(self, which + "phase", 3)
            return True
        if c == "/" and phase <= 2:
            slashes = getattr(self, which + "slash") + 1
            if strict and slashes > MAX_SLASHES:
                raise _VIOLATION
            setattr(self, which + "slash", slashes)
            setattr(self, which + "phase", 2)
            return True
        return c in OCTAVE and phase == 0

    def _start_len(self, base: Fraction, phase: int) -> None:
        self.broken = False
        self.tok, self.pnum, self.pslash, self.pden, self.pphase, self.pbase = "len", "", 0, "", phase, base

    def _pending_length(self) -> Fraction:
        return note_length(self.pnum, self.pslash, self.pden) * self.pbase

    def _check_reach(self, lengths: tuple) -> None:
        """Strict: at least one of the lengths the pending note can still end with must fit (see _fits)."""
        if self.target is None or self.unknown:
            return
        base = self.pbase
        for d in lengths:
            if self._fits(d * base):
                return
        raise _VIOLATION

    def _fits(self, d: Fraction) -> bool:
        if self.tleft > 0:
            if self.tlen is not None and d != self.tlen:
                return False
            d = d * self.tfactor * self.tleft
        return self.bar + d <= self.target

    def _check_interim(self, d: Fraction, exact: bool = False) -> None:
        """Strict: a note of length d (units of L) must fit in the bar; in a tuplet, the rest of the group too.

        A strict tuplet's notes all have the first one's length, so the group always adds up to whole units.
        """
        if self.target is None or self.unknown:
            return
        if self.tleft > 0:
            if self.tlen is not None:
                if d > self.tlen or (exact and d != self.tlen):
                    raise _VIOLATION
                d = self.tlen
            d = d * self.tfactor * self.tleft
        if self.bar + d > self.target:
            raise _VIOLATION

    def _commit(self) -> None:
        """The pending note, rest or chord is complete: add its length to the bar."""
        d = self._pending_length()
        self.tok = None
        if self.strict:
            self._check_interim(d, exact=True)
        if self.tleft > 0:
            if self.tlen is None:
                self.tlen = d
            d *= self.tfactor
            self.tleft -= 1
            if self.tleft == 0:
                self.tlen = None
        self.bar += d
        self.has_notes = True

    def _apply_tuplet(self) -> None:
        self.tok = None
        if self.tphase >= 2:
            p = int(self.tp)
            if p >= 2:
                meter = self.meter
                compound = meter is not None and meter.denominator == 8 and meter.numerator % 3 == 0
                self.tfactor = _tuplet_factor(p, self.tq or None, meter, compound)
                self.tleft = int(self.tr) if self.tr else p
                self.tlen = None

    def _check_close(self) -> None:
        """Strict: may the current bar close here?"""
        if self.broken or self.tleft > 0:
            raise _VIOLATION
        if (self.has_notes and self.target is not None and not self.unknown and self.bar < self.target
                and self.counted > 0):
            raise _VIOLATION

    def _close(self) -> None:
        if self.strict:
            self._check_close()
        if self.has_notes and self.meter is not None:
            ok = self.bar == self.target
            self.bars += 1
            self.matching += ok
            self.tune_full += ok
            self.counted += 1
            if self.record:
                self.lengths.append(str(self.bar))
                self.matches.append(ok)
        self.bar, self.has_notes, self.unknown = Fraction(0), False, False

    def _end_tok(self) -> None:
        tok = self.tok
        if tok == "len":
            self._commit()
        elif tok == "tup":
            self._apply_tuplet()
        elif tok == "colon":
            if self.strict:
                raise _VIOLATION
            self.tok = None
        elif tok is not None:
            if tok == "acc" and self.strict:
                raise _VIOLATION
            self.tok = None

    def _body(self, c: str) -> None:
        tok, strict = self.tok, self.strict
        # 1. characters that continue the token in progress
        if tok is not None:
            if tok == "len":
                if self._len_step(c, "p"):
                    if strict and c not in OCTAVE:
                        if c in DIGITS and self.pphase == 1 and self.tleft == 0:
                            self._check_interim(self._pending_length())  # a numerator must fit as written
                        self._check_reach(reachable(self.pnum, self.pslash, self.pden, self.pphase))
                    return
                self._commit()
            elif tok == "acc":
                if c in ACC:
                    return
                if c in NOTE:
                    self.tok = None
                else:
                    self._end_tok()
            elif tok == "tup":
                if self._tup_step(c):
                    return
                self._apply_tuplet()
            elif tok == "colon":
                if c == "|" or c == ":":
                    self._close()
                    self.tok = "bar"
                    return
                self._end_tok()
            elif tok == "bar" or tok == "ending":
                if c in "|:]" and not (tok == "ending" and c in ":]"):
                    if c == "|":
                        self._close()
                    self.tok = "bar"
                    return
                if c in DIGITS:
                    if strict and (tok == "ending" or c == "0"):
                        raise _VIOLATION
                    self.tok = "ending"
                    return
                if c == "," and tok == "ending":
                    return
                self.tok = None
            elif tok == "Z":
                if c in DIGITS:
                    return
                self.tok = None
            elif tok == "broken":
                if c in "<>":
                    return
                self.tok = None
        after_note = tok == "len"  # c has just completed a note, rest or chord
        # 2. the start of something new
        if c == "\n":
            if strict and (self.broken or self.tleft > 0):
                raise _VIOLATION
            if self.line_empty:  # a blank line: the tune ends
                if strict and self.has_notes and self.bar != self.target and self.target is not None \
                        and not self.unknown:
                    raise _VIOLATION  # the tune may end only where a bar is complete
                if strict and self.tune_full + (self.has_notes and self.bar == self.target) < self.min_bars:
                    raise _VIOLATION  # ... and not before it has min_bars whole bars
                if self.has_notes:
                    self._close()
                self.counted, self.tune_full, self.tleft, self.broken = 0, 0, 0, False
            if strict and self.idle >= MAX_IDLE:
                raise _VIOLATION
            self.line_empty = True
            self.idle += 1
            return
        at_line_start, self.line_empty = self.line_empty, False
        if at_line_start and c in LETTERS:  # a field line (M:3/4) or a note: the next character says
            if strict and (c not in FIELD_LETTERS or (c in "ML" and self.has_notes)):
                self.copy(strict=True)._body(c)  # it cannot start a field line here, so it must fit as body text
            self.mode, self.held = HELD, c
            return
        full = self.target is not None and not self.unknown and self.bar >= self.target
        if c in NOTE or c in REST:
            if strict:
                self.pbase = Fraction(1)
                self._check_reach(FRESH)
            self._start_len(Fraction(1), 0 if c in NOTE else 1)
            self.idle = 0
            return
        if c in PREFIX or c not in _SIGNIFICANT:  # no time: spaces, ties, slurs, decorations
            if strict and (self.idle >= MAX_IDLE or (full and c in PREFIX)):
                raise _VIOLATION
            self.idle += 1
            if c == "(":
                self.tok, self.tphase, self.tp, self.tq, self.tr = "tup", 1, "", "", ""
            elif c == "Z":
                self.tok = "Z"
            return
        self.idle = 0
        if c in ACC:
            if strict:
                self.pbase = Fraction(1)
                self._check_reach(FRESH)
            self.tok = "acc"
        elif c == "|":
            self._close()
            self.tok = "bar"
        elif c == ":":
            if strict:
                self._check_close()
            self.tok = "colon"
        elif c == "[":
            self.mode, self.buf = BRACKET, ""
        elif c in "<>":
            if strict and not (after_note or tok == "broken" or self.has_notes):
                raise _VIOLATION  # a>b pairs two notes: it cannot start a bar
            if strict and self.target is not None and not self.unknown and self.bar >= self.target:
                raise _VIOLATION
            self.broken, self.tok = True, "broken"
        elif strict:
            raise _VIOLATION  # a length with no note, a stray bracket or brace, a stray octave mark

    def _tup_step(self, c: str) -> bool:
        phase = self.tphase
        if phase == 1:
            if c in DIGITS:
                if self.strict and (c in "01" or self.tleft > 0 or (self.target is not None and not self.unknown
                                                                     and self.bar >= self.target)):
                    raise _VIOLATION  # no tuplet inside an unfinished one, none in a full bar
                self.tp, self.tphase = c, 2
                return True
            self.tphase = 0  # '(' was a slur
            return False
        if c == ":" and phase in (2, 3):
            if self.strict:
                raise _VIOLATION
            self.tphase = phase + 1
            return True
        if c in DIGITS and phase in (3, 4):
            if phase == 3:
                self.tq += c
            else:
                self.tr += c
            return True
        return False

    def _finish(self) -> None:
        """End of text: resolve what is open, then close the last bar (bar_check's final close_bar)."""
        if self.skip:
            self._skip_char("\n")
        if self.mode == FIELD:
            self._apply_field(self.fletter, self.ftext)
            self.mode = BODY
        elif self.mode == HELD:
            held, self.mode, self.held = self.held, BODY, ""
            self._body(held)
        elif self.mode in (BRACKET, CHORD, INFIELD):
            if self.mode == BRACKET:
                self.buf = ""
            self._replay(" ")
        self._end_tok()
        self._close()


@lru_cache(maxsize=1024)
def reachable(num: str, slashes: int, den: str, phase: int) -> tuple:
    """Lengths (units of L, before a chord's base) a strict note can end with from this partial length.

    A numerator only grows, so it is not followed; slashes and a denominator (2, 4, 8, 16) can still shrink it.
    """
    n = Fraction(int(num)) if num else Fraction(1)
    out = {note_length(num, slashes, den)}
    if phase <= 2:
        out.update(n / 2 ** k for k in range(max(1, slashes), MAX_SLASHES + 1))
        out.update(n / int(d) for d in DENOMINATORS)
    elif den == "1":
        out.add(n / 16)
    return tuple(sorted(out))


FRESH = reachable("", 0, "", 0)  # a note letter just written: A, A/, A//, A/4, ...

_SLOTS = BarTracker.__slots__
_get_fields = operator.attrgetter(*_SLOTS)  # one C call reads every slot: allows() copies a lot


def _copy_fields(a: BarTracker, b: BarTracker) -> None:
    for name, value in zip(_SLOTS, _get_fields(a), strict=True):
        setattr(b, name, value)


def _signature(t: BarTracker) -> tuple:
    """What a one-character strict step can depend on, and nothing else (so that states recur): the room
    left in the bar rather than the bar and the meter, the parts of the state the open token uses, the
    pick-up reduced to "still allowed or not", the tune's whole bars counted up to min_bars."""
    tok, mode = t.tok, t.mode
    sig = (mode, tok, t.line_empty, t.has_notes, t.unknown, t.broken, t.idle >= MAX_IDLE,
           None if t.target is None else t.target - t.bar, t.tleft, t.tleft and t.tfactor, t.tlen,
           t.counted == 0, min(t.tune_full, t.min_bars), t.skip, t.skip and t.skip_buf)
    if tok == "len":
        sig += (t.pnum, t.pslash, t.pden, t.pphase, t.pbase)
    elif tok == "tup":
        sig += (t.tphase, t.tp, t.tq, t.tr, t.meter)
    if mode == CHORD:
        sig += (t.buf, t.cstate, t.cnum, t.cslash, t.cden, t.cphase)
    elif mode in (FIELD, INFIELD, HELD):
        sig += (t.fletter, t.ftext, t.held)
    return sig


# ---- the sampler's mask ---------------------------------------------------------------------

def _char_class(c: str) -> str:
    """Characters of one class behave identically in every tracker state."""
    if c == "C":
        return "C"  # a note, and also a meter (M:C, M:C|)
    if c in NOTE:
        return "note"
    if c in REST:
        return "rest"
    if c in ACC:
        return "acc"
    if c in OCTAVE:
        return "octave"
    if c in "<>":
        return "broken"
    if c in ".~":
        return "dot"
    if c in DIGITS or c in "|:[](){}!+\"/\nZ":
        return c
    if c in FIELD_LETTERS:  # K L M Q start a field line or an inline field; M and L only between bars
        return "ML" if c in "ML" else "KQ"
    if c in LETTERS:
        return "letter"
    return "neutral"  # spaces, ties, slurs' close, dots, tildes, backslashes: no time, no grammar


class MeterMask:
    """Vocabulary ids a meter-aware sampler must not pick next, given a BarTracker."""

    def __init__(self, vocab: list[str]):
        groups: dict[str, list[int]] = {}
        reps: dict[str, str] = {}
        for i, c in enumerate(vocab):
            k = _char_class(c)
            groups.setdefault(k, []).append(i)
            reps.setdefault(k, c)
        self.keys = list(groups)
        self.reps = [reps[k] for k in self.keys]
        self.groups = [groups[k] for k in self.keys]
        self._by_flags: dict[tuple, torch.Tensor | None] = {}
        self._by_state: dict[tuple, torch.Tensor | None] = {}  # tracker states recur: bar positions, tokens
        self.lookups = self.misses = 0

    def banned(self, tracker: BarTracker) -> torch.Tensor | None:
        """Ids to mask (a LongTensor), or None when every character is allowed, or when none is (the
        fallback: sampling never gets stuck)."""
        self.lookups += 1
        sig = _signature(tracker)
        hit = self._by_state.get(sig, False)
        if hit is not False:
            return hit
        self.misses += 1
        flags = tuple(tracker.allows(c) for c in self.reps)
        hit = self._by_flags.get(flags, False)
        if hit is False:
            if all(flags) or not any(flags):
                hit = None
            else:
                hit = torch.tensor([i for ok, ids in zip(flags, self.groups, strict=True) if not ok for i in ids])
            self._by_flags[flags] = hit
        if len(self._by_state) > 50_000:
            self._by_state.clear()
        self._by_state[sig] = hit
        return hit


@lru_cache(maxsize=8)
def mask_for(vocab: str) -> MeterMask:
    """One MeterMask per vocabulary, shared by every generation (its state cache warms up across tunes)."""
    return MeterMask(list(vocab))


def track(abc: str) -> BarCheck:
    """bar_check computed by the incremental tracker (for tests and for a tune the decoder wrote)."""
    return BarTracker(abc).result()
