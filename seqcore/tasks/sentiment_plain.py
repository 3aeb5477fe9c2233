"""Plain sentences: short, unambiguous reviews that any sentiment model worth defaulting to must get right.

Held-out accuracy on IMDB and MR says how a model does on average; a learner types "I hated it." and judges it on
that. These 24 reviews (12 positive, 12 negative; written for this check, none from the training data) lean on
what a bag of words gets wrong: negation ("not good at all", "I was not disappointed") and contrast ("I expected to
hate it, but I loved it"). bench/sentiment.py reports every model's count; tests/test_sentiment_plain.py holds
the default model to the count it reaches (issue 17 asks for all of them).
"""

from __future__ import annotations

from seqcore.tasks.sentiment_baselines import score

POSITIVE = (
    "I loved it.",
    "A wonderful film.",
    "Not bad at all, I enjoyed it.",
    "I expected to hate it, but I loved it.",
    "I was not disappointed.",
    "Despite a slow start, it turned out to be excellent.",
    "Nothing about it was boring.",
    "The best movie I have seen this year.",
    "Great acting and a clever story.",
    "I would happily watch it again.",
    "It never fails to make me laugh.",
    "Funny, warm and beautifully made.",
)
NEGATIVE = (
    "I hated it.",
    "I hated it and want my money back.",
    "Not good at all.",
    "A boring waste of time.",
    "The plot made no sense and the acting was awful.",
    "I expected to love it, but it was dull.",
    "It was not worth watching.",
    "The worst film I have seen in years.",
    "Despite a great cast, the movie is a mess.",
    "I would not recommend it to anyone.",
    "Nothing in it worked.",
    "Two hours of my life I will never get back.",
)
REVIEWS: tuple[tuple[str, int], ...] = tuple((t, 1) for t in POSITIVE) + tuple((t, 0) for t in NEGATIVE)


def plain_check(model) -> dict:
    """How `model` (anything with probabilities(texts) -> P(positive)) does on the plain sentences:
    {"right": int, "n": 24, "wrong": score()'s mistakes, most confident first: [{text, label, p_positive}, ...]}."""
    texts = [t for t, _ in REVIEWS]
    wrong = score(model.probabilities(texts), [y for _, y in REVIEWS], texts, n_mistakes=len(REVIEWS))["mistakes"]
    return {"right": len(REVIEWS) - len(wrong), "n": len(REVIEWS), "wrong": wrong}
