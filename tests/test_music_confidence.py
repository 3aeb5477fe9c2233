"""Each played note's confidence: written notes with their pitches, matched to abc2midi's played notes."""

import pytest

from seqcore.data.music import load_corpus
from seqcore.tasks.music_abc import parse_abc
from seqcore.tasks.music_confidence import align, key_signature, note_confidence, written_notes


@pytest.mark.parametrize("key, sig", [("D", {"F": 1, "C": 1}), ("Ador", {"F": 1}), ("Bb", {"B": -1, "E": -1}),
                                      ("Em", {"F": 1}), ("Gmix", {}), ("F#m", {"F": 1, "C": 1, "G": 1}),
                                      ("C", {}), ("none", {})])
def test_key_signatures_with_modes(key, sig):
    assert key_signature(key) == sig


@pytest.mark.parametrize("tune", [
    "M:4/4\nL:1/8\nK:D\nAB {d}c2 d2-d2 | f=F F^f f _B B B | [CEG]4 (3ABc d2 |",
    "M:6/8\nL:1/8\nK:Ador\nfcF f2 e | ^c'2 c' C,D,E, | c2 uA B/c/d |",
    "M:4/4\nL:1/8\nK:Bb\nBcde fgab | [K:D] Bcde fgab |",
])
def test_written_pitches_are_the_played_ones_when_nothing_repeats(tune):
    played = [n.pitch for n in parse_abc(tune).notes]
    written = written_notes(tune)
    assert [w.pitch for w in written] == played
    assert all(tune[w.pos].upper() in "ABCDEFG" for w in written)  # each points at its pitch letter


def test_repeats_and_endings_play_the_same_written_notes_again():
    tune = "M:4/4\nL:1/8\nK:G\n|: GABc dedB :|\n|: gfed cBAG |1 ABcd e4 :|2 edcB G4 |]"
    notes = parse_abc(tune).notes
    written = written_notes(tune)
    match = align([n.pitch for n in notes], [w.pitch for w in written])
    assert len(notes) == 8 * 2 + (8 + 5) + 8 + 5 and None not in match
    assert match[:8] == match[8:16] == list(range(8))  # the first part, twice
    probs = [None] * len(tune)
    for w in written:
        probs[w.pos] = w.pos / len(tune)
    conf = note_confidence(tune, probs, notes)
    assert conf[:8] == conf[8:16] and conf[0] == written[0].pos / len(tune)


def test_prime_notes_have_no_confidence_and_generated_ones_theirs():
    tune = "M:4/4\nL:1/8\nK:C\nCDEF GABc | cBAG FEDC |"
    prime = len("M:4/4\nL:1/8\nK:C\nCDEF GABc |")
    probs = [None] * prime + [0.25 + 0.5 * (i % 2) for i in range(len(tune) - prime)]
    conf = note_confidence(tune, probs, parse_abc(tune).notes)
    assert conf[:8] == [None] * 8
    assert conf[8:] == [probs[w.pos] for w in written_notes(tune)[8:]] and None not in conf[8:]


def test_almost_every_played_note_of_real_tunes_is_matched():
    """Repeats, endings, ties, grace notes, accidentals and modes of 40 held-out tunes; what is left unmatched is
    the extra notes abc2midi plays for ornaments (rolls, trills)."""
    played = matched = 0
    for tune in load_corpus().test[:40]:
        notes = parse_abc(tune).notes
        written = written_notes(tune)
        match = align([n.pitch for n in notes], [w.pitch for w in written])
        played, matched = played + len(match), matched + sum(m is not None for m in match)
        assert all(notes[i].pitch == written[j].pitch for i, j in enumerate(match) if j is not None)
    assert matched / played > 0.97
