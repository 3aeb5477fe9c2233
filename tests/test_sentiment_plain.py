"""The plain-sentences check (issue 17, item 4): short, unambiguous reviews of seqcore/tasks/sentiment_plain.py,
negation and contrast included, read by the default sentiment model.

Issue 17 asks for all 24; the shipped default (the large BiLSTM, 88.9% on held-out IMDB) gets 19 and misses
"I was not disappointed.", "Nothing about it was boring.", "It never fails to make me laugh.", "I hated it and want
my money back." and "Two hours of my life I will never get back." (BENCHMARKS.md, sentiment). Until a model gets
them all, the test holds the default to what it reaches, so a worse default cannot ship unnoticed.
"""

from seqcore.tasks import sentiment as S
from seqcore.tasks.sentiment_plain import NEGATIVE, POSITIVE, REVIEWS, plain_check

DEFAULT_REACHES = 19  # of 24: raise it with the model, to 24 when issue 17's check is met


def test_the_set_is_balanced_and_has_negation_and_contrast():
    assert len(REVIEWS) >= 20 and len(POSITIVE) == len(NEGATIVE)
    assert len({t for t, _ in REVIEWS}) == len(REVIEWS)
    for words in ("not ", "nothing", " but ", "despite"):
        assert any(words in t.lower() for t in POSITIVE) and any(words in t.lower() for t in NEGATIVE), words


def test_the_default_model_reads_plain_sentences(home):  # no user models: the shipped default
    model, card = S.load(None)  # the model `seqcore sentiment` and the page use
    got = plain_check(model)
    assert got["right"] >= DEFAULT_REACHES, f"{card['name']} got {got['n'] - got['right']} wrong: {got['wrong']}"
    assert "I hated it." not in {m["text"] for m in got["wrong"]}  # the first example


def test_plain_check_reports_the_wrong_ones():
    class Always:
        def probabilities(self, texts):
            return [0.9] * len(texts)

    got = plain_check(Always())
    assert got["right"] == len(POSITIVE) and {m["text"] for m in got["wrong"]} == set(NEGATIVE)
    assert all(m["label"] == "negative" and m["p_positive"] == 0.9 for m in got["wrong"])
