"""Review sentiment, many-to-one: a BiLSTM and a Transformer encoder classifier beside three baselines.

The task protocol (seqcore.tasks) over SentimentModel (seqcore.tasks.sentiment_model: predict, running
probability, explain); the baselines (majority class, VADER, TF-IDF + logistic regression) and scoring live in
seqcore.tasks.sentiment_baselines. Training uses fixed-seed splits of IMDB + Rotten Tomatoes (MR) reviews; the
default model is the checkpoint with the best held-out IMDB accuracy in its card (best_name).
"""

from __future__ import annotations

import functools
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import pandas as pd
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from seqcore.checkpoints import (
    CheckpointInfo,
    as_info,
    list_checkpoints,
    make_card,
    restore,
    save_checkpoint,
    shared_load,
    user_dir,
)
from seqcore.data.reviews import ReviewSplits, load_splits, read_labelled_csv
from seqcore.data.words import Vocab, pad_batch
from seqcore.device import device_name, pick_device
from seqcore.errors import CheckpointError, InputError, quote
from seqcore.tasks.sentiment_baselines import (
    LABELS,
    VADER,
    TfidfBaseline,
    check_texts,
    fit_tfidf,
    majority_label,
    score,
)
from seqcore.tasks.sentiment_model import (
    ARCHS,
    KINDS,
    MAX_TOKENS,
    SIZES,
    SentimentModel,
    classifier,
    default_name,
    encode,
    network,
)
from seqcore.train import TrainConfig, fit

__all__ = ["TASK", "Config", "tiny_config", "build", "train", "save", "load", "best_name", "evaluate",
           "attention_probe", "page_config", "EXAMPLES", "texts_from_csv", "review_splits", "default_name",
           "SentimentModel", "encode", "check_texts", "score", "majority_label", "VADER", "TfidfBaseline", "fit_tfidf",
           "LABELS", "MAX_TOKENS", "KINDS", "SIZES", "SOURCES"]

TASK = "sentiment"
SOURCES = ("both", "imdb", "mr")
EXAMPLE = "A quiet, moving film: the acting is superb, though the ending drags."  # the attention explorer's
EXAMPLES = {  # the Sentiment page's examples: each shows something the models do (or fail to do)
    "Mixed review": "The acting is superb and the score is lovely, but the plot is a dull, predictable mess.",
    "Positive": "One of the best films I have seen in years: funny, moving and beautifully shot.",
    "Negative": "A boring waste of two hours. The dialogue is awful and the ending makes no sense.",
    "Negation": "This movie is not good, and it is not even bad in an entertaining way.",
    "Other language + emoji": "Une très belle surprise, je recommande ! 😀",
}


@dataclass
class SentimentConfig:
    """One training run: architecture and size, data, and the optimiser's budget."""

    model: str = "lstm"               # lstm | transformer
    source: str = "both"              # both | imdb | mr
    size: str = "small"               # tiny | small | medium | large (SIZES)
    epochs: int = 3
    batch_size: int = 64
    lr: float = 3e-3
    max_tokens: int = MAX_TOKENS      # reviews are cut to their first max_tokens tokens
    vocab_size: int = 20000           # the most frequent training words; the rest become <unk>
    time_budget_s: float | None = None
    max_train: int | None = None      # a random subset of the training split (quick runs on the page and in tests)
    seed: int = 0
    eval_every: int | None = 100      # steps between validations; None = once per epoch
    vader: bool = True                # score VADER on the test split too (the model card's baseline column)
    reviews: str | None = None        # a reviews CSV (text, label, source) instead of the wheel's (tests)

    def check(self) -> None:
        if self.model not in ARCHS:
            raise InputError(f"unknown model {self.model!r}: use lstm or transformer")
        if self.size not in SIZES:
            raise InputError(f"unknown size {self.size!r}: use {', '.join(SIZES)}")
        if self.source not in SOURCES:
            raise InputError(f"unknown source {self.source!r}: use {', '.join(SOURCES)}")
        if self.epochs < 1 or self.batch_size < 1 or self.max_tokens < 8:
            raise InputError("epochs and batch size must be at least 1 and max tokens at least 8")

    def to_dict(self) -> dict:
        return asdict(self)


Config = SentimentConfig


def tiny_config() -> SentimentConfig:
    """Seconds on a CPU: a tiny Transformer on 300 MR reviews, one epoch (smoke and conformance tests)."""
    return SentimentConfig(model="transformer", source="mr", size="tiny", epochs=1, batch_size=32, max_train=300,
                           eval_every=None, vader=False)


def page_config(model: str = "lstm", **changes) -> SentimentConfig:
    """The Sentiment page's Train tab (and Retrain button): a small model on 3,000 MR reviews, 2 epochs, at most
    5 minutes on a shared server; its card leaves VADER out (the page scores VADER itself)."""
    return replace(SentimentConfig(model=model, source="mr", size="small", epochs=2, max_train=3000,
                                   time_budget_s=300, eval_every=50, vader=False), **changes)


@functools.lru_cache(maxsize=4)
def review_splits(source: str = "both", reviews: str | None = None) -> ReviewSplits:
    """The fixed-seed train / val / test splits, read once per process (read-only DataFrames: never modify)."""
    return load_splits(source, path=reviews)


def texts_from_csv(file, column: str = "text") -> list[str]:
    """The non-blank texts of a CSV's `column` (a path or an upload); InputError saying what to change."""
    texts = [t for t in read_labelled_csv(file, column, None)["text"] if t.strip()]
    if not texts:
        raise InputError(f"every row of the {quote(column)} column is blank, so there are no reviews to predict; fill "
                         "it or pick another text column")
    return texts


def _training_rows(cfg: SentimentConfig) -> pd.DataFrame:
    train = review_splits(cfg.source, cfg.reviews).train
    if cfg.max_train is not None and cfg.max_train < len(train):
        train = train.sample(n=cfg.max_train, random_state=cfg.seed).reset_index(drop=True)
    return train


def build(cfg: SentimentConfig) -> SentimentModel:
    """An untrained model, its vocabulary built from the run's training texts only."""
    cfg.check()
    vocab = Vocab.build(_training_rows(cfg)["text"], max_size=cfg.vocab_size)
    torch.manual_seed(cfg.seed)
    return SentimentModel(classifier(cfg.model, len(vocab), cfg.size, cfg.max_tokens), vocab,
                          max_tokens=cfg.max_tokens)


class BucketedBatches(Dataset):
    """Pre-made batches of similar length (little padding): item i is (ids (B, T_i) int64, lengths (B,) int64,
    labels (B,) float32). `batched = True` tells seqcore.train.fit to use the items as batches (and to shuffle
    their order each epoch)."""

    batched = True

    def __init__(self, ids: list[list[int]], labels: Sequence[int], batch_size: int, seed: int = 0):
        order = sorted(range(len(ids)), key=lambda i: (len(ids[i]), i))
        self.batches = []
        for start in range(0, len(order), batch_size):
            chunk = order[start: start + batch_size]
            x, lengths = pad_batch([ids[i] for i in chunk])
            self.batches.append((x, lengths, torch.tensor([float(labels[i]) for i in chunk])))
        random.Random(seed).shuffle(self.batches)

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, i):
        return self.batches[i]


def batch_loss(model: torch.nn.Module, batch) -> torch.Tensor:
    """Binary cross-entropy of one pre-made batch."""
    ids, lengths, y = batch
    logits, _ = model(ids, lengths)
    return F.binary_cross_entropy_with_logits(logits, y)


def train(cfg: SentimentConfig, *, on_progress=None, stop=None, device=None) -> tuple[SentimentModel, dict]:
    """Train one classifier on the fixed-seed splits; its card holds the held-out test metrics.

    Validation loss picks the weights (seqcore.train.fit restores the best); card["stopped"] says why it ended.
    """
    cfg.check()
    splits = review_splits(cfg.source, cfg.reviews)
    rows = _training_rows(cfg)
    sm = build(cfg)

    def dataset(df: pd.DataFrame) -> BucketedBatches:
        enc = [sm.encode(t).ids or [1] for t in df["text"]]
        return BucketedBatches(enc, df["label"].tolist(), cfg.batch_size, cfg.seed)

    tcfg = TrainConfig(epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, time_budget_s=cfg.time_budget_s,
                       patience=None, eval_every=cfg.eval_every, seed=cfg.seed, weight_decay=0.01)
    device = device or pick_device()
    result = fit(sm.net, batch_loss, dataset(rows), dataset(splits.val), tcfg, on_progress=on_progress, stop=stop,
                 device=device)
    sm.net.cpu().eval().zero_grad(set_to_none=True)  # the finished model is read-only: no gradient buffers
    majority = majority_label(rows["label"])
    sm.card = card = make_card(
        TASK, ARCHS[cfg.model], sm.net.config.to_dict(),
        data={**splits.describe(), "train_rows_used": int(len(rows)), "vocab_size": len(sm.vocab),
              "max_tokens": cfg.max_tokens, "tokenizer": "seqcore.data.words.tokenize (lower-cased words + symbols)"},
        hyper={**cfg.to_dict(), "optimizer": "AdamW, warm-up + cosine"},
        train_seconds=round(result.seconds, 1), device=device_name(device),
        training={**result.to_dict(), "train_config": tcfg.to_dict()}, stopped=result.stopped,
        metrics=evaluate(sm, data=splits, vader=cfg.vader, majority=majority),
        vocab=sm.vocab.itos, majority_label=majority,
        baselines={"majority": "most common training label", "vader": "vaderSentiment compound >= 0"},
    )
    return sm, card


def save(model: SentimentModel, card: dict, name: str | None = None, out: str | Path | None = None, *,
         half: bool = True) -> Path:
    """NAME.safetensors (fp16 unless half=False) + NAME.json in `out` (default: the user checkpoint dir)."""
    folder = Path(out) if out else user_dir()
    try:
        return save_checkpoint(model.net, card, folder / (name or default_name(model.kind)), half=half)
    except OSError as e:  # a read-only or full folder: say which and what to do (the model itself is fine)
        raise CheckpointError(f"Could not save to {folder} ({e.strerror or e}): free some space or set "
                              "SEQCORE_HOME to a writable folder") from None


def load(name_or_info: str | CheckpointInfo | None = None) -> tuple[SentimentModel, dict]:
    """A model from a checkpoint name, `lstm`/`transformer` (that kind's default), a registry entry, or None
    (the best, best_name), on the CPU and read-only."""
    if name_or_info is None:
        name_or_info = best_name()
    elif name_or_info in KINDS:
        name_or_info = default_name(name_or_info)
    info = as_info(name_or_info, TASK)

    def rebuild(card: dict) -> torch.nn.Module:
        if "vocab" not in card:
            raise CheckpointError(f"{info.name}: model card has no vocabulary; retrain it with "
                                  "`seqcore train sentiment`")
        return network(card["arch"], card["config"])

    net, _, card = restore(info, rebuild)
    max_tokens = card.get("data", {}).get("max_tokens", MAX_TOKENS)
    return SentimentModel(net.requires_grad_(False), Vocab(list(card["vocab"])), card, max_tokens), card


def best_name() -> str:
    """The default model: the checkpoint with the best held-out IMDB accuracy in its card (metrics.imdb_test_accuracy).

    Only cards scored on the largest test set any card reports (the full held-out split) compete: one measured
    on fewer reviews (a quick run on a small file) is not comparable. Ties go to the first in registry order
    (user-trained first). The default model of `seqcore sentiment` and of the Sentiment page.
    """
    found = list_checkpoints(TASK)
    if not found:
        raise InputError("no sentiment model found: train one with `seqcore train sentiment --model transformer`")

    def metric(info: CheckpointInfo, key: str) -> float:
        value = info.card.get("metrics", {}).get(key)
        return float(value) if isinstance(value, (int, float)) else -1.0

    full = max(metric(c, "imdb_test_n") for c in found)
    return max(found, key=lambda c: (metric(c, "imdb_test_n") == full, metric(c, "imdb_test_accuracy"))).name


def evaluate(model: SentimentModel | TfidfBaseline | None, *, limit: int | None = None, part: str = "test",
             data: ReviewSplits | None = None, vader: bool = False, majority: int | None = None) -> dict:
    """Accuracy on each source's `part` split (first `limit` reviews of each): {imdb,mr}_{part}_accuracy and _n,
    the keys a model card's metrics use. `model` is anything with probabilities(texts) (None: baselines only);
    vader adds VADER's accuracy, majority (a label) the majority class's, on the same reviews."""
    data = data or review_splits("both")
    df = getattr(data, part)
    out = {}
    for source in data.sources:
        sub = df[df["source"] == source]
        sub = sub.head(limit) if limit else sub
        key = "imdb" if source == "imdb" else "mr"
        texts, y = sub["text"].tolist(), sub["label"].to_numpy()
        if model is not None:
            out[f"{key}_{part}_accuracy"] = score(model.probabilities(texts), y)["accuracy"]
        if majority is not None:
            out[f"{key}_{part}_majority_accuracy"] = round(float((y == majority).mean()), 4)
        if vader:
            out[f"{key}_{part}_vader_accuracy"] = score(VADER.probabilities(texts), y)["accuracy"]
        out[f"{key}_{part}_n"] = int(len(y))
    return out


def attention_probe(info: CheckpointInfo, text: str | None):
    """The explorer's view of a sentiment Transformer: its encoder and one review as token ids."""
    from seqcore.tasks.probe import AttentionProbe

    sm, _ = shared_load(load, info)  # loaded once per file version: a new text costs no reload
    if sm.kind != "transformer":
        raise InputError(f"{info.name} is a BiLSTM; pick a Transformer checkpoint")
    e = sm.encode(text if text and text.strip() else EXAMPLE)
    if not e.ids:
        raise InputError("the text has no words to read: type a review")
    note = f"cut to the first {sm.max_tokens} of {e.n_tokens} tokens" if e.truncated else ""
    return AttentionProbe(model=sm.net.encoder, x=torch.tensor([e.ids]), tokens=e.tokens,
                          special=[i == 1 for i in e.ids], note=note)
