"""Review sentiment, many-to-one: a BiLSTM and a Transformer encoder classifier beside two baselines.

fit / predict / explain / evaluate follow the same surface as the other tasks:
  train_sentiment(...)            -> SentimentModel (+ metrics), on fixed-seed splits of the reviews
  SentimentModel.predict(texts)   -> one dict per text: label, p_positive, tokens, truncated
  running_probability(text)       -> P(positive) after each token (the model on every prefix)
  explain(text)                   -> attention-pooling weights and gradient x input saliency per token
  evaluate(predict_fn, texts, y)  -> accuracy, confusion matrix, most confident mistakes
Baselines: the majority class of the training split, the VADER lexicon (compound score >= 0), and TF-IDF
(word 1-2 grams) + logistic regression fitted on the same training split (fit_tfidf).
The default model is the checkpoint with the best held-out IMDB accuracy in its card (ranked_checkpoints).
"""

from __future__ import annotations

import copy
import functools
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from seqcore.checkpoints import (
    CheckpointError,
    CheckpointInfo,
    find_checkpoint,
    list_checkpoints,
    load_checkpoint,
    load_weights,
    make_card,
    shared_load,
)
from seqcore.data.reviews import ReviewSplits, load_splits
from seqcore.data.words import Vocab, pad_batch, tokenize
from seqcore.device import device_name, pick_device
from seqcore.errors import InputError
from seqcore.models.classifier import (
    LSTMClassifier,
    LSTMClassifierConfig,
    TransformerClassifier,
    TransformerClassifierConfig,
)
from seqcore.train import TrainConfig, fit

TASK = "sentiment"
ARCHS = {"lstm": "bilstm-attention-pool", "transformer": "transformer-encoder-classifier"}
SIZES = {
    "tiny": {"lstm": {"embed_dim": 16, "hidden_size": 16}, "transformer": {"d_model": 16, "n_heads": 2, "d_ff": 32}},
    "small": {"lstm": {"embed_dim": 32, "hidden_size": 32}, "transformer": {"d_model": 32, "n_heads": 2, "d_ff": 64}},
    "medium": {"lstm": {"embed_dim": 64, "hidden_size": 64}, "transformer": {"d_model": 64, "n_heads": 4, "d_ff": 128}},
}
MAX_TOKENS = 256         # reviews are cut to their first MAX_TOKENS tokens (the page says so)
MAX_CHARS = 20000        # longer inputs are cut before tokenising, so one paste cannot stall the server
LABELS = ("negative", "positive")


def default_name(model: str) -> str:
    return f"sentiment-{model}"


def check_texts(texts: Sequence[str]) -> list[str]:
    """The texts as strings; InputError when there are none or one is empty."""
    texts = [str(t) for t in texts]
    if not texts:
        raise InputError("no text given: type a review or give a file with one review per line")
    empty = [i for i, t in enumerate(texts) if not t.strip()]
    if empty:
        raise InputError(f"text {empty[0] + 1} is empty: give a review with at least one word")
    return texts


# ----------------------------------------------------------------------------- encoding


@dataclass
class Encoded:
    tokens: list[str]   # the tokens the model reads (after truncation)
    ids: list[int]
    truncated: bool     # True when the text had more than max_tokens tokens (or MAX_CHARS characters)
    n_tokens: int       # tokens before truncation


def encode(vocab: Vocab, text: str, max_tokens: int = MAX_TOKENS) -> Encoded:
    cut = len(text) > MAX_CHARS
    toks = tokenize(text[:MAX_CHARS])
    kept = toks[:max_tokens]
    return Encoded(kept, vocab.encode(kept), cut or len(toks) > max_tokens, len(toks))


class BucketedBatches(Dataset):
    """Pre-made batches of similar length (little padding), as items of a Dataset.

    Item i: (ids (B, T_i) int64, lengths (B,) int64, labels (B,) float32). The trainer's DataLoader
    uses batch_size=1 and shuffles the order of batches each epoch; the loss squeezes that extra dim.
    """

    def __init__(self, ids: list[list[int]], labels: Sequence[int], batch_size: int, seed: int = 0):
        order = sorted(range(len(ids)), key=lambda i: (len(ids[i]), i))
        self.batches = []
        for start in range(0, len(order), batch_size):
            chunk = order[start: start + batch_size]
            x, lengths = pad_batch([ids[i] for i in chunk])
            y = torch.tensor([float(labels[i]) for i in chunk])
            self.batches.append((x, lengths, y))
        random.Random(seed).shuffle(self.batches)

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, i):
        return self.batches[i]


def batch_loss(model: torch.nn.Module, batch) -> torch.Tensor:
    """Binary cross-entropy of one pre-made batch (the DataLoader's extra leading dim removed)."""
    ids, lengths, y = (b.squeeze(0) for b in batch)
    logits, _ = model(ids, lengths)
    return F.binary_cross_entropy_with_logits(logits, y)


# ----------------------------------------------------------------------------- models


def build_model(model: str, vocab_size: int, size: str = "small", max_tokens: int = MAX_TOKENS):
    if model not in ARCHS:
        raise InputError(f"unknown model {model!r}: use lstm or transformer")
    if size not in SIZES:
        raise InputError(f"unknown size {size!r}: use {', '.join(SIZES)}")
    if model == "lstm":
        return LSTMClassifier(LSTMClassifierConfig(vocab_size=vocab_size, **SIZES[size]["lstm"]))
    return TransformerClassifier(TransformerClassifierConfig(vocab_size=vocab_size, max_len=max_tokens,
                                                             **SIZES[size]["transformer"]))


def model_from_card(card: dict) -> torch.nn.Module:
    cfg = card["config"]
    if card["arch"] == ARCHS["lstm"]:
        return LSTMClassifier(LSTMClassifierConfig(**cfg))
    if card["arch"] == ARCHS["transformer"]:
        return TransformerClassifier(TransformerClassifierConfig(**cfg))
    raise CheckpointError(f"{card.get('name', 'checkpoint')} is a {card['arch']!r}, not a sentiment model")


class SentimentModel:
    """A trained classifier with its vocabulary. Read-only after construction: safe to share."""

    def __init__(self, net: torch.nn.Module, vocab: Vocab, card: dict, max_tokens: int = MAX_TOKENS):
        self.net = net.eval()
        self.vocab = vocab
        self.card = card
        self.max_tokens = max_tokens
        self.kind = "lstm" if isinstance(net, LSTMClassifier) else "transformer"

    @property
    def name(self) -> str:
        return self.card.get("name", default_name(self.kind))

    def copy(self) -> SentimentModel:
        return SentimentModel(copy.deepcopy(self.net), self.vocab, dict(self.card), self.max_tokens)

    def _device(self) -> torch.device:
        return next(self.net.parameters()).device

    def probabilities(self, encoded: list[Encoded], batch_size: int = 64) -> np.ndarray:
        """P(positive) for already-encoded texts, (N,), batched by length."""
        out = np.zeros(len(encoded))
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i].ids))
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                chunk = order[start: start + batch_size]
                ids, lengths = pad_batch([encoded[i].ids for i in chunk])
                logits, _ = self.net(ids.to(self._device()), lengths.to(self._device()))
                out[chunk] = torch.sigmoid(logits.float()).cpu().numpy()
        return out

    def predict(self, texts: Sequence[str], batch_size: int = 64) -> list[dict]:
        """One dict per text: label, p_positive, n_tokens, truncated. Empty texts raise InputError."""
        texts = check_texts(texts)
        encoded = [encode(self.vocab, t, self.max_tokens) for t in texts]
        probs = self.probabilities(encoded, batch_size)
        return [{"text": t, "label": LABELS[int(p >= 0.5)], "p_positive": round(float(p), 4),
                 "n_tokens": e.n_tokens, "truncated": e.truncated, "unknown_tokens": e.ids.count(1)}
                for t, e, p in zip(texts, encoded, probs, strict=True)]

    def running_probability(self, text: str, chunk: int = 64) -> tuple[list[str], np.ndarray]:
        """(tokens, p (T,)): P(positive) of the model reading only tokens[: t + 1], for each t.

        For the BiLSTM this is its state after token t through the pooling and head (the backward
        direction rerun on the prefix); for the Transformer, its prediction on each prefix. The last
        value is the model's prediction on the whole (truncated) text.
        """
        e = encode(self.vocab, text, self.max_tokens)
        if not e.ids:
            raise InputError("the text has no words to read: type a review")
        t = len(e.ids)
        ids = torch.tensor(e.ids).unsqueeze(0).expand(t, t)  # row i holds the text; length i + 1
        lengths = torch.arange(1, t + 1)
        probs = []
        with torch.inference_mode():
            for s in range(0, t, chunk):
                n = lengths[s: s + chunk]
                logits, _ = self.net(ids[s: s + chunk, : int(n.max())].to(self._device()), n.to(self._device()))
                probs.append(torch.sigmoid(logits.float()).cpu())
        return e.tokens, torch.cat(probs).numpy()

    def explain(self, text: str) -> dict:
        """Per token: attention-pooling weight (sums to 1) and gradient x input saliency.

        Saliency is (d logit / d embedding) . embedding, summed over the embedding; positive values
        push towards "positive". Both are descriptive: neither is a causal explanation.
        """
        e = encode(self.vocab, text, self.max_tokens)
        if not e.ids:
            raise InputError("the text has no words to read: type a review")
        ids = torch.tensor([e.ids], device=self._device())
        lengths = torch.tensor([len(e.ids)], device=self._device())
        # A private copy: gradients must not touch the shared, cached model.
        net = copy.deepcopy(self.net).eval()
        for p in net.parameters():
            p.requires_grad_(False)
        with torch.enable_grad():
            emb = net.embed(ids).detach().requires_grad_(True)  # (1, T, E)
            logit, weights = net.forward_embedded(emb, lengths)
            logit.sum().backward()
        saliency = (emb.grad * emb).sum(-1)[0]
        return {"tokens": e.tokens, "attention": weights[0].detach().cpu().numpy(),
                "saliency": saliency.detach().cpu().numpy(), "p_positive": float(torch.sigmoid(logit).item()),
                "truncated": e.truncated}


# ----------------------------------------------------------------------------- baselines


@functools.cache
def _vader():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def vader_predict(texts: Sequence[str]) -> list[dict]:
    """VADER's compound score in [-1, 1]; positive when >= 0; p_positive = (compound + 1) / 2."""
    out = []
    for t in texts:
        if not str(t).strip():
            raise InputError("empty text: give a review with at least one word")
        c = _vader().polarity_scores(str(t)[:MAX_CHARS])["compound"]
        out.append({"text": t, "label": LABELS[int(c >= 0)], "p_positive": round((c + 1) / 2, 4)})
    return out


# TF-IDF + logistic regression: C picked on the validation split from {2, 4, 8, 16} (mean of IMDB and MR val
# accuracy: 0.857, 0.865, 0.867, 0.866); min_df=2 drops n-grams seen once, sublinear tf damps repeated words.
TFIDF = {"ngram_range": (1, 2), "min_df": 2, "max_df": 0.9, "sublinear_tf": True}
TFIDF_C = 8.0


class TfidfBaseline:
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

    def predict(self, texts: Sequence[str]) -> list[dict]:
        """One dict per text: text, label, p_positive (as SentimentModel.predict). Empty texts raise InputError."""
        texts = check_texts(texts)
        return [{"text": t, "label": LABELS[int(p >= 0.5)], "p_positive": round(float(p), 4)}
                for t, p in zip(texts, self.probabilities(texts), strict=True)]

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


def majority_label(labels: Sequence[int]) -> int:
    """The most common training label (ties -> positive)."""
    labels = np.asarray(labels)
    return int(labels.mean() >= 0.5)


# ----------------------------------------------------------------------------- evaluation


def evaluate(p_positive: Sequence[float], labels: Sequence[int], texts: Sequence[str] | None = None,
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


def held_out_metrics(model: SentimentModel | None, splits: ReviewSplits, *, vader: bool = True,
                     majority: int | None = None, part: str = "test", tfidf: TfidfBaseline | None = None) -> dict:
    """Accuracy on each source's `part` split for the model, the majority class, VADER and TF-IDF + LR."""
    df = getattr(splits, part)
    out = {}
    for source in splits.sources:
        sub = df[df["source"] == source]
        key = "imdb" if source == "imdb" else "mr"
        texts, y = sub["text"].tolist(), sub["label"].to_numpy()
        if model is not None:
            p = model.probabilities([encode(model.vocab, t, model.max_tokens) for t in texts])
            out[f"{key}_{part}_accuracy"] = evaluate(p, y)["accuracy"]
        if majority is not None:
            out[f"{key}_{part}_majority_accuracy"] = round(float((y == majority).mean()), 4)
        if vader:
            p = [r["p_positive"] for r in vader_predict(texts)]
            out[f"{key}_{part}_vader_accuracy"] = evaluate(p, y)["accuracy"]
        if tfidf is not None:
            out[f"{key}_{part}_tfidf_accuracy"] = evaluate(tfidf.probabilities(texts), y)["accuracy"]
        out[f"{key}_{part}_n"] = int(len(y))
    return out


# ----------------------------------------------------------------------------- training


@dataclass
class TrainOutcome:
    model: SentimentModel
    metrics: dict
    train_seconds: float
    stopped: str


def train_sentiment(
    model: str = "lstm",
    *,
    source: str = "both",
    size: str = "small",
    epochs: int = 3,
    batch_size: int = 64,
    lr: float = 3e-3,
    max_tokens: int = MAX_TOKENS,
    vocab_size: int = 20000,
    time_budget_s: float | None = None,
    max_train: int | None = None,
    seed: int = 0,
    eval_every: int | None = 100,
    splits: ReviewSplits | None = None,
    vader: bool = True,
    on_progress: Callable | None = None,
    stop=None,
    command: str | None = None,
) -> TrainOutcome:
    """Train one classifier on the fixed-seed splits and measure it on the held-out test split.

    max_train keeps a random subset of the training split (quick runs on the page and in tests).
    The vocabulary is built from the training texts only.
    """
    splits = splits or load_splits(source)
    train = splits.train
    if max_train is not None and max_train < len(train):
        train = train.sample(n=max_train, random_state=seed).reset_index(drop=True)
    vocab = Vocab.build(train["text"], max_size=vocab_size)
    torch.manual_seed(seed)
    net = build_model(model, len(vocab), size, max_tokens)

    def dataset(df):
        enc = [encode(vocab, t, max_tokens).ids or [1] for t in df["text"]]
        return BucketedBatches(enc, df["label"].tolist(), batch_size, seed)

    cfg = TrainConfig(epochs=epochs, batch_size=1, lr=lr, time_budget_s=time_budget_s, patience=None,
                      eval_every=eval_every, seed=seed, weight_decay=0.01)
    device = pick_device()
    result = fit(net, batch_loss, dataset(train), dataset(splits.val), cfg, on_progress=on_progress, stop=stop,
                 device=device)
    net = net.cpu().eval()
    net.zero_grad(set_to_none=True)  # the finished model is read-only; keep no gradient buffers around
    majority = majority_label(train["label"])
    card = make_card(
        TASK, ARCHS[model], net.config.to_dict(),
        data={**splits.describe(), "train_rows_used": int(len(train)), "vocab_size": len(vocab),
              "max_tokens": max_tokens, "tokenizer": "seqcore.data.words.tokenize (lower-cased words + symbols)"},
        hyper={"size": size, "epochs": epochs, "batch_size": batch_size, "lr": lr, "seed": seed,
               "time_budget_s": time_budget_s, "eval_every": eval_every, "optimizer": "AdamW, warm-up + cosine"},
        train_seconds=round(result.seconds, 1), device=device_name(device),
        training={**result.to_dict(), "best_val_loss": result.best_val_loss},
        **({"command": command} if command else {}),
    )
    card["vocab"] = vocab.itos
    card["majority_label"] = majority
    sm = SentimentModel(net, vocab, card, max_tokens)
    metrics = held_out_metrics(sm, splits, vader=vader, majority=majority)
    card["metrics"] = metrics
    card["baselines"] = {"majority": "most common training label", "vader": "vaderSentiment compound >= 0"}
    return TrainOutcome(sm, metrics, result.seconds, result.stopped)


# ----------------------------------------------------------------------------- loading


def sentiment_checkpoints() -> list[CheckpointInfo]:
    return list_checkpoints(TASK)


def load_model(name: str) -> SentimentModel:
    """A registry checkpoint (shipped or user-trained) as a read-only SentimentModel on CPU."""
    info = find_checkpoint(name, TASK)
    return load_from_info(info)


def load_from_info(info: CheckpointInfo) -> SentimentModel:
    state, card = load_checkpoint(info.stem)
    if "vocab" not in card:
        raise CheckpointError(f"{info.name}: model card has no vocabulary; retrain it with `seqcore train sentiment`")
    net = model_from_card(card)
    load_weights(net, state, info.name)
    net.float().eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return SentimentModel(net, Vocab(list(card["vocab"])), card, card.get("data", {}).get("max_tokens", MAX_TOKENS))


def ranked_checkpoints(checkpoints: list[CheckpointInfo] | None = None) -> list[CheckpointInfo]:
    """Sentiment checkpoints, best first by the held-out IMDB accuracy in their model card
    (metrics.imdb_test_accuracy). Only scores on the largest test set any card reports (the full held-out split)
    compete: a card measured on fewer reviews (a quick run on a small file) comes after them, and a card
    without the score last; ties keep registry order. The first is the default model of `seqcore sentiment`
    and of the Sentiment page."""
    checkpoints = sentiment_checkpoints() if checkpoints is None else checkpoints

    def metric(info: CheckpointInfo, key: str) -> float:
        value = info.card.get("metrics", {}).get(key)
        return float(value) if isinstance(value, (int, float)) else -1.0

    full = max((metric(c, "imdb_test_n") for c in checkpoints), default=-1.0)
    return sorted(checkpoints, reverse=True,
                  key=lambda c: (metric(c, "imdb_test_n") == full, metric(c, "imdb_test_accuracy")))


def best_name() -> str:
    """The default model: the sentiment checkpoint with the best held-out IMDB accuracy in its card."""
    ranked = ranked_checkpoints()
    if not ranked:
        raise InputError("no sentiment model found: train one with `seqcore train sentiment --model transformer`")
    return ranked[0].name


def resolve_model(name: str | None = None) -> SentimentModel:
    """None: the best checkpoint (best_name); 'lstm' / 'transformer': the default checkpoint of that kind;
    anything else is a checkpoint name."""
    if name is None:
        name = best_name()
    if name in ARCHS:
        name = default_name(name)
    try:
        return load_model(name)
    except CheckpointError as e:
        raise InputError(f"{e}. Train one with `seqcore train sentiment --model lstm`") from None


# ----------------------------------------------------------------------------- attention explorer


def attention_probe(info: CheckpointInfo, text: str | None):
    """The explorer's view of a sentiment Transformer: its encoder and one review as token ids."""
    from seqcore.tasks.probe import AttentionProbe

    sm = shared_load(load_from_info, info)  # loaded once per file version: a new text costs no reload
    if sm.kind != "transformer":
        raise InputError(f"{info.name} is a BiLSTM; pick a Transformer checkpoint")
    text = text if text and text.strip() else "A quiet, moving film: the acting is superb, though the ending drags."
    e = encode(sm.vocab, text, sm.max_tokens)
    if not e.ids:
        raise InputError("the text has no words to read: type a review")
    note = f"cut to the first {sm.max_tokens} of {e.n_tokens} tokens" if e.truncated else ""
    return AttentionProbe(model=sm.net.encoder, x=torch.tensor([e.ids]), tokens=e.tokens,
                          special=[i == 1 for i in e.ids], note=note)
