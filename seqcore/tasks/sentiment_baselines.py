"""What every sentiment predictor shares (labels, input checks, the predict rows, scoring) and the baselines.

Baselines: the majority class of the training split, the VADER lexicon (compound score >= 0), and TF-IDF
(word 1-2 grams) + logistic regression fitted on the same training split (fit_tfidf). Each predictor has
probabilities(texts) -> P(positive) (N,) and predict(texts) -> one dict per text, as SentimentModel does.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence

import numpy as np

from seqcore.data.reviews import ReviewSplits, load_splits
from seqcore.errors import InputError

LABELS = ("negative", "positive")
MAX_CHARS = 20000        # longer inputs are cut before tokenising, so one paste cannot stall the server


def check_texts(texts: Sequence[str]) -> list[str]:
    """The texts as strings; InputError when there are none or one is empty."""
    texts = [str(t) for t in texts]
    if not texts:
        raise InputError("no text given: type a review or give a file with one review per line")
    empty = [i for i, t in enumerate(texts) if not t.strip()]
    if empty:
        raise InputError(f"text {empty[0] + 1} is empty: give a review with at least one word")
    return texts


def row(text: str, p: float) -> dict:
    """One prediction: text, label (positive when P(positive) >= 0.5), p_positive."""
    return {"text": text, "label": LABELS[int(p >= 0.5)], "p_positive": round(float(p), 4)}


def score(p_positive: Sequence[float], labels: Sequence[int], texts: Sequence[str] | None = None,
          n_mistakes: int = 5) -> dict:
    """accuracy, n, confusion [[TN, FP], [FN, TP]] (rows = true label), and the most confident mistakes."""
    p = np.asarray(p_positive, dtype=float)
    y = np.asarray(labels, dtype=int)
    if len(p) != len(y) or len(y) == 0:
        raise InputError("nothing to evaluate: give at least one labelled text")
    pred = (p >= 0.5).astype(int)
    confusion = [[int(((y == a) & (pred == b)).sum()) for b in (0, 1)] for a in (0, 1)]
    result = {"accuracy": round(float((pred == y).mean()), 4), "n": int(len(y)), "confusion": confusion}
    if texts is not None:
        wrong = np.flatnonzero(pred != y)
        conf = np.abs(p[wrong] - 0.5)
        top = wrong[np.argsort(-conf)][:n_mistakes]
        result["mistakes"] = [{"text": texts[i], "label": LABELS[y[i]], "p_positive": round(float(p[i]), 4)}
                              for i in top]
    return result


def majority_label(labels: Sequence[int]) -> int:
    """The most common training label (ties -> positive)."""
    labels = np.asarray(labels)
    return int(labels.mean() >= 0.5)


class Baseline:
    """predict() from probabilities(): subclasses say how they score a text."""

    name = "baseline"

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        raise NotImplementedError

    def predict(self, texts: Sequence[str]) -> list[dict]:
        """One dict per text: text, label, p_positive (as SentimentModel.predict). Empty texts raise InputError."""
        texts = check_texts(texts)
        return [row(t, p) for t, p in zip(texts, self.probabilities(texts), strict=True)]


class Vader(Baseline):
    """The VADER lexicon: compound score c in [-1, 1] (rules for negation and emphasis); P(positive) = (c + 1) / 2."""

    name = "vader"

    @functools.cached_property
    def analyzer(self):
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        return SentimentIntensityAnalyzer()

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        return np.array([(self.analyzer.polarity_scores(str(t)[:MAX_CHARS])["compound"] + 1) / 2 for t in texts])


VADER = Vader()  # stateless after its lexicon is read: one for everyone


# TF-IDF + logistic regression: C picked on the validation split from {2, 4, 8, 16} (mean of IMDB and MR val
# accuracy: 0.857, 0.865, 0.867, 0.866); min_df=2 drops n-grams seen once, sublinear tf damps repeated words.
TFIDF = {"ngram_range": (1, 2), "min_df": 2, "max_df": 0.9, "sublinear_tf": True}
TFIDF_C = 8.0


class TfidfBaseline(Baseline):
    """TF-IDF of word 1-2 grams + logistic regression (scikit-learn), the classic bag-of-words baseline.

    Read-only after fit_tfidf: safe to share. Word order beyond pairs of words is invisible to it.
    """

    name = "tfidf"

    def __init__(self, vectorizer, classifier, fit_seconds: float, train_rows: int):
        self.vectorizer, self.classifier = vectorizer, classifier
        self.fit_seconds, self.train_rows = fit_seconds, train_rows
        self.features = np.asarray(vectorizer.get_feature_names_out())
        self.weights = classifier.coef_[0]  # (n_features,): > 0 pushes towards positive

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """P(positive), (N,)."""
        return self.classifier.predict_proba(self.vectorizer.transform([str(t)[:MAX_CHARS] for t in texts]))[:, 1]

    def top_ngrams(self, k: int = 15) -> dict[str, list[tuple[str, float]]]:
        """The k n-grams with the largest positive and the k with the most negative weights."""
        order = np.argsort(self.weights)
        return {"positive": [(str(self.features[i]), round(float(self.weights[i]), 3)) for i in order[::-1][:k]],
                "negative": [(str(self.features[i]), round(float(self.weights[i]), 3)) for i in order[:k]]}

    def explain(self, text: str, k: int = 10) -> list[tuple[str, float]]:
        """The text's n-grams with the largest |tf-idf x weight| (their share of the logit), largest first."""
        x = self.vectorizer.transform([str(text)[:MAX_CHARS]]).tocoo()
        parts = [(str(self.features[j]), float(v * self.weights[j])) for j, v in zip(x.col, x.data, strict=True)]
        return [(g, round(c, 3)) for g, c in sorted(parts, key=lambda p: -abs(p[1]))[:k]]


def fit_tfidf(splits: ReviewSplits | None = None, source: str = "both") -> TfidfBaseline:
    """Fit the TF-IDF + logistic regression baseline on the training split the sequence models use.

    About 20 s on one CPU core for IMDB + MR (the vectoriser's bigrams take most of it).
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    splits = splits or load_splits(source)
    start = time.perf_counter()
    vectorizer = TfidfVectorizer(**TFIDF)
    x = vectorizer.fit_transform(splits.train["text"].str.slice(0, MAX_CHARS))
    classifier = LogisticRegression(C=TFIDF_C, solver="liblinear", max_iter=2000)
    classifier.fit(x, splits.train["label"].to_numpy())
    return TfidfBaseline(vectorizer, classifier, time.perf_counter() - start, len(splits.train))
