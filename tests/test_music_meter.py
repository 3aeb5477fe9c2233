"""Meter-aware decoding: the incremental note-length tracker, its mask, and tunes that keep time."""

import json

import pytest

from seqcore.data.music import load_corpus
from seqcore.tasks.music_abc import bar_check
from seqcore.tasks.music_meter import BarTracker, MeterMask, reachable, track

JIG = "M:6/8\nL:1/8\nK:D\n"
REEL = "M:C|\nL:1/8\nK:G\n"


@pytest.fixture(scope="module")
def corpus():
    return load_corpus()


# ---- the tracker reads bars as bar_check does ----------------------------------------------

def test_tracker_agrees_with_bar_check_on_every_test_tune(corpus):
    for tune in corpus.test:
        a, b = bar_check(tune), track(tune)
        assert (b.bars, b.matching, b.lengths, b.matches) == (a.bars, a.matching, a.lengths, a.matches), tune


@pytest.mark.parametrize("abc,lengths", [
    (JIG + "A|:dfa agf|1 gfe fed:|2 gfe d2|]", ["1", "6", "6", "5"]),    # pick-up, repeats, endings
    (JIG + "A>B c<d e>>f|(3ABc d2 e2|", ["6", "6"]),                            # broken rhythm, triplet
    ("M:3/4\nL:1/8\nK:G\n[GB]2 [Ac]2 [B2d2]|[ceg]6|[DF]/[EG]/ A4z|", ["6", "6", "6"]),  # chord = first note
    (JIG + "{g}A2B {ag}c2d|~A2.B !trill!c2 vd|", ["6", "6"]),                  # grace notes, decorations
    (JIG + "A2-A BAG|", ["6"]),                                                 # tie
    ("M:C\nL:1/8\nK:D\nA2 A/ A/2 A3/2 A// z x|", ["27/4"]),                   # length forms, rests
    ("M:2/4\nL:1/8\nK:D\nABcd|[M:3/4]ABcdef|\nM:2/4\nL:1/16\nA4B4::c8|]", ["4", "6", "8", "8"]),  # meter changes
    ("M:2/4\nL:1/16\nK:D\n(3:2:3 A2B2c2 d4|[1 e8:|[2 f8||", ["8", "8", "8"]),  # tuplet spec, [1 [2 endings
    (REEL + "ABcd efga|\\\nbagf edcB|", ["8", "8"]),                          # a bar line after a continuation
])
def test_tricky_abc(abc, lengths):
    a, b = bar_check(abc), track(abc)
    assert a.lengths == b.lengths == lengths
    assert a.matches == b.matches


def test_incremental_state():
    t = BarTracker(JIG + "|:A|dfa ag")
    assert t.target == 6 and t.bar == 4 and t.room == 2 and not t.pickup_allowed
    t.feed("f|")
    assert t.bar == 0 and t.matching == 1 and t.bars == 2
    t.feed("[M:3/4]")
    assert t.target == 6 and t.meter == pytest.approx(0.75)
    t.feed("[L:1/16]")
    assert t.target == 12
    assert BarTracker("M:none\nK:D\nABC").target is None  # free meter: nothing is refused for length


# ---- what a strict step refuses ---------------------------------------------------------------

def allowed(prefix: str, chars: str, **kw) -> str:
    t = BarTracker(prefix, **kw)
    return "".join(c for c in chars if t.allows(c))


@pytest.mark.parametrize("prefix,chars,expected", [
    (JIG + "|:A|dfa ag", "f|:]", "f"),                 # bar at 5 of 6: one more note, no bar line yet
    (JIG + "|:A|dfa agf", "ab|: ", "|: "),            # full bar: no note, a bar line or space
    (JIG + "|:A|dfa agf", "2", ""),                    # f2 would overfill
    (JIG + "|:A|dfa ag", "/", "/"),                    # g/ is shorter: allowed
    (JIG + "A", "|", "|"),                             # a pick-up bar may be short ...
    (JIG + "A|dfa ag", "|:", ""),                      # ... the bars after it may not
    (JIG + "A|dfa agf|", "]|:1", "]|:1"),              # |] || |: |1 after a bar line
    (JIG + "A|d", "]}", ""),                           # stray bracket or brace
    (JIG + "A|[df", "|:\n[", ""),                      # inside a chord: no bar line, no newline
    (JIG + "A|[df", "]a2", "]a2"),
    (JIG + "A|[", "]", ""),                            # an empty chord
    (JIG + "A|{g", "|\n}a", "}a"),                     # a grace group must close first
    (JIG + "A|d>", "|\n", ""),                         # a broken-rhythm pair cannot be split
    (JIG + "A|(3", "a", "a"),
    (JIG + "A|dfa (3ab", "c", "c"),                    # the triplet fills the bar ...
    (JIG + "A|dfa (3ab", "|", ""),                     # ... and cannot be cut by a bar line
    (JIG + "A|d ", "3/", ""),                          # a length with no note
    ("M:6/", "8", "8"),
    ("M:6/", "7\n", ""),                               # only meters the corpus uses
    (JIG + "A|d\nT", ":", ""),                         # only the fields a corpus tune has (K L M Q)
    (JIG + "A|dfa agf|\nM", ":", ":"),
    (JIG + "A|dfa agf|[", "zTMK", "MK"),               # [M:3/4] yes, [z:..] [T:..] no
    (JIG + "A|dfa agf\n", "aKL|", "K|"),               # a full bar: a line may start K:, not a note or L:
    (JIG + "A|dfa\nL", ":", ""),                       # no new unit (or meter) in the middle of a bar
    (JIG + "A|dfa agf|\nL", ":", ":"),
    (JIG + "A|dfa [", "MK", "K"),
    (JIG + "A|(3ab", "(", "("),                        # a slur, yes ...
    (JIG + "A|(3ab(", "3", ""),                        # ... a tuplet inside a tuplet, no
])
def test_strict_steps(prefix, chars, expected):
    assert allowed(prefix, chars) == expected


def test_tune_end_only_after_whole_bars():
    body = "A|" + "dfa agf|" * 8
    assert allowed(JIG + body + "\n", "\n", min_bars=8) == "\n"
    assert allowed(JIG + body + "dfa\n", "\n", min_bars=8) == ""          # mid-bar
    assert allowed(JIG + "A|dfa agf|\n", "\n", min_bars=8) == ""           # too short a tune
    assert allowed(JIG + "A|dfa agf|\n", "\n") == "\n"                     # min_bars=0: any whole bar


def test_reachable_lengths():
    assert reachable("", 0, "", 0)[0] == pytest.approx(1 / 16) and 1 in reachable("", 0, "", 0)
    assert reachable("3", 1, "2", 3) == (pytest.approx(1.5),)
    assert 3 not in reachable("3", 1, "", 2)


def test_mask_classes_match_single_character_checks(corpus):
    """Characters are asked once per class: the answer must be the same for every member, in every state."""
    from seqcore.tasks import music

    vocab = list(music.load("lstm")[0].vocab)
    mask = MeterMask(vocab)
    texts = corpus.test[:4] + [JIG + "A|[^f,2d]2 {g}a>b (3:2:3c/d/e/ !trill!f|[M:3/4]\nL:1/16\nK:G\n~g4 Z2|",
                               JIG + "A|dfa \nM:3/4\n[L:1/4]agf\nK:G\n[K:D]|\nL:1/8\n|abc (3def|"]
    checked = 0
    for text in texts:
        t = BarTracker(min_bars=8)
        for i, c in enumerate(text):
            banned = mask.banned(t)
            want = {j for j, v in enumerate(vocab) if not t.allows(v)}
            if len(want) in (0, len(vocab)):
                assert banned is None
            else:
                assert set(banned.tolist()) == want, (text[:i], c)
            checked += 1
            t.push(c)
    assert checked > 300


def test_rejected_characters_leave_nothing_behind():
    """allows() rejects by raising one shared Violation; its traceback chain (frames holding tracker copies)
    must not grow with every rejection, or a server generating tunes grows without bound (bench/soak.py)."""
    import gc

    from seqcore.tasks import music_meter

    t = BarTracker(JIG + "A|dfa a")  # mid-bar: a bar line does not fit
    rejected = [c for c in "|]:" * 400 if not t.allows(c)]
    assert len(rejected) > 1000
    assert music_meter._VIOLATION.__traceback__ is None
    gc.collect()
    assert sum(isinstance(o, BarTracker) for o in gc.get_objects()) < 10


# ---- constrained decoding with the shipped default model ---------------------------------------

def _wrong_inner_bars(abc: str) -> list[int]:
    m = bar_check(abc).matches
    return [i for i, ok in enumerate(m[1:-1], start=1) if not ok]


def test_constrained_decoding_keeps_time_on_seeded_samples():
    from seqcore.device import set_threads
    from seqcore.tasks import music

    set_threads()
    lm, _ = music.load("lstm")
    n, bars, matching, good = 50, 0, 0, 0
    for seed in range(n):
        g = music.generate(lm, "", length=350, temperature=music.DEFAULT_TEMPERATURE, seed=seed)
        assert g.constrained and _wrong_inner_bars(g.abc) == [], (seed, g.abc, bar_check(g.abc).lengths)
        b = bar_check(g.abc)
        assert (g.bars_matching, g.bars_total) == (b.matching, b.bars)
        bars, matching, good = bars + b.bars, matching + b.matching, good + (b.matching >= 8)
    assert matching / bars > 0.9 and good / n >= 0.9


@pytest.mark.parametrize("prime", [JIG + "|:A|dfa agf|gfe [fe", REEL + "ABcd efga|b", "M:3/4\nL:1/8\nK:C\nA8|"])
def test_constrained_continues_any_prime_and_raw_is_the_model(prime):
    from seqcore.tasks import music

    lm, _ = music.load("lstm")
    g = music.generate(lm, prime, length=150, seed=4, stop_at_end=False)
    assert g.abc.startswith(prime) and g.n_new == 150  # a prime with an overfull bar does not get stuck
    raw = music.generate(lm, prime, length=150, seed=4, stop_at_end=False, constrain=False)
    assert not raw.constrained and raw.abc.startswith(prime)


def test_transformer_is_constrained_too():
    from seqcore.tasks import music

    g = music.generate(music.load("transformer")[0], JIG, length=300, seed=1, stop_at_end=False)
    tunes = [t for t in g.abc.split("\n\n") if t.strip()]  # past the end, a new tune (and its pick-up) may start
    assert tunes and all(_wrong_inner_bars(t) == [] for t in tunes), [bar_check(t).lengths for t in tunes]


def test_cli_reports_bars_and_switches_the_constraint_off(capsys):
    from seqcore.cli import main

    assert main(["music", "generate", "--length", "200", "--seed", "3"]) == 0
    on = json.loads(capsys.readouterr().out)
    assert on["constrained"] is True and 0 <= on["bars_matching"] <= on["bars_total"]
    assert on["bars"]["matching_bars"] == on["bars_matching"]
    assert main(["music", "generate", "--length", "200", "--seed", "3", "--no-constrain"]) == 0
    off = json.loads(capsys.readouterr().out)
    assert off["constrained"] is False and off["abc"] != on["abc"]
