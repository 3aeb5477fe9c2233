"""Novelty (nearest training tune) and structure (parts, repeats) of tunes."""

from seqcore.data.music import load_corpus
from seqcore.tasks.music_novelty import CLOSE, TuneIndex, novelty, pitches, structure, training_index

TWO_PARTS = """M:6/8
L:1/8
K:D
|: A | dfa afd | gbg fed | cec ABc | d3 d2 :|
|: e | fga agf | gfe dcB | cec ABc | d3 d2 :|"""


def test_pitches_ignore_lengths_bars_and_ornaments():
    assert pitches("M:6/8\nK:D\n|: A>B {g}^c2 \"Em\"d/ !trill!e' :|") == ["A", "B", "^c", "d", "e'"]


def test_a_planted_copy_is_found_even_with_other_lengths_and_ornaments():
    index = training_index()
    planted = 1234
    tune = index.tunes[planted]
    header, _, rest = tune.partition("K:")
    key, _, notes = rest.partition("\n")
    varied = header + "K:" + key + "\n" + notes.replace("2", "").replace(">", "").replace("|", " | ~")
    found = novelty(varied, index)
    assert found.nearest == planted
    assert found.overlap > 0.9 and found.close
    assert found.shared_run >= 20
    assert found.nearest_tune == tune


def test_a_tune_from_nowhere_is_not_close():
    index = TuneIndex(["M:4/4\nL:1/8\nK:C\n" + "CDEF GABc | " * 8])
    found = novelty(TWO_PARTS, index)
    assert found.overlap < CLOSE and not found.close
    assert found.to_dict()["close"] is False


def test_two_repeated_eight_bar_parts_with_pickups():
    # a pick-up of 1/8 and a last bar of 5/8 make one bar: 7 + 1 bars per part
    s = structure(TWO_PARTS.replace("| d3 d2 :|", "| d3 d3 | dfa afd | gbg fed | cec ABc | d3 d2 :|"))
    assert s.parts == [8.0, 8.0]  # (both parts get the same four extra bars)
    assert s.balanced and s.whole


def test_second_endings_are_not_counted_and_open_repeats_are_unbalanced():
    tune = ("M:4/4\nL:1/8\nK:G\n|: GABc dedB | GABc dedB | GABc dedB |1 GABc d4 :|2 GABc g4 ||\n"
            "|: gfed cBAG | gfed cBAG | gfed cBAG | gfed g4 ||")
    s = structure(tune)
    assert s.parts == [4.0, 4.0]
    assert not s.balanced  # the second part's |: is never closed
    assert structure(tune.replace("g4 ||", "g4 :|")).balanced


def test_real_held_out_tunes_are_mostly_whole_and_balanced():
    test = load_corpus().test
    shapes = [structure(t) for t in test]
    assert sum(s.balanced for s in shapes) / len(shapes) > 0.95
    assert sum(s.whole for s in shapes) / len(shapes) > 0.9
