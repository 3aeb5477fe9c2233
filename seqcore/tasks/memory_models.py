"""The memory lab's three contenders (a vanilla RNN, an LSTM, a Transformer), their training recipes, loss
and accuracy.

Every model reads a sequence x (B, T) and answers at its last position: forward -> (B, T, n_values)
logits, of which only the query's (the last) count.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from seqcore.errors import InputError
from seqcore.models import RNNConfig, SequenceRNN, Transformer, TransformerConfig
from seqcore.tasks.memory_data import RecallTask, make_batch
from seqcore.train import Progress

ARCHS = ("rnn", "lstm", "transformer")


@dataclass
class ModelSpec:
    """Sizes of the three contenders (kept small: they train on a shared CPU).

    Four heads of 8 dimensions rather than two of 16: in `python bench/memory_lab.py --sweep` the two-head
    Transformer sat at chance on recall for 375, 425 and over 1,000 steps on three seeds, the four-head one for
    425 to 450 on each (more heads: more chances to find the previous-token pattern recall needs).
    """

    rnn_hidden: int = 64
    lstm_hidden: int = 64
    embed_dim: int = 16
    d_model: int = 32
    n_heads: int = 4
    n_layers: int = 2
    d_ff: int = 64

    @classmethod
    def from_dict(cls, d: dict | None) -> ModelSpec:
        """ModelSpec(**d); InputError names an unknown size."""
        bad = sorted(set(d or {}) - set(cls.__dataclass_fields__))
        if bad:
            raise InputError(f"unknown model sizes {bad}; known: {', '.join(cls.__dataclass_fields__)}")
        return cls(**(d or {}))

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Recipe:
    """How one contender trains: its own peak learning rate and linear warm-up (a fraction of its steps),
    then cosine decay to a tenth (seqcore.train). Chosen per model by `python bench/memory_lab.py --sweep`."""

    lr: float
    warmup_frac: float

    def to_dict(self) -> dict:
        return {"lr": self.lr, "warmup_frac": self.warmup_frac}


# The sweep's picks per task and model (BENCHMARKS.md, "Memory lab: learning-rate and warm-up sweep"): the
# best mean accuracy over the distances on validation sequences (not the held-out ones the race reports).
RECIPES = {
    "recall": {"rnn": Recipe(lr=1e-2, warmup_frac=0.1), "lstm": Recipe(lr=1e-2, warmup_frac=0.1),
               "transformer": Recipe(lr=3e-3, warmup_frac=0.1)},
    "parity": {"rnn": Recipe(lr=1e-3, warmup_frac=0.02), "lstm": Recipe(lr=1e-3, warmup_frac=0.1),
               "transformer": Recipe(lr=3e-3, warmup_frac=0.02)},
}


def build_model(arch: str, task: RecallTask, spec: ModelSpec | None = None) -> nn.Module:
    """A fresh model whose last position reads out the value: forward(x (B, T)) -> (B, T, n_values)."""
    spec = spec or ModelSpec()
    if arch in ("rnn", "lstm"):
        hidden = spec.rnn_hidden if arch == "rnn" else spec.lstm_hidden
        return SequenceRNN(RNNConfig(cell=arch, vocab_size=task.vocab_size, embed_dim=spec.embed_dim,
                                     hidden_size=hidden, out_size=task.n_values))
    if arch == "transformer":
        return Transformer(TransformerConfig(d_model=spec.d_model, n_heads=spec.n_heads, n_layers=spec.n_layers,
                                             d_ff=spec.d_ff, causal=True, max_len=task.seq_len,
                                             vocab_size=task.vocab_size, out_size=task.n_values))
    raise InputError(f"model must be one of {', '.join(ARCHS)}; got {arch!r}")


def last_logits(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """(B, T) tokens -> (B, n_values) logits at the query (last) position."""
    if isinstance(model, Transformer):
        return _transformer_last(model, x)
    return model(x)[0][:, -1]  # SequenceRNN: (y (B, T, n_values), state)


def _transformer_last(model: Transformer, x: torch.Tensor) -> torch.Tensor:
    """The Transformer's logits at the last position, its last block computed for that one query only.

    The answer is read at the last position, so the last block's other T-1 queries (their attention rows,
    MLPs and head) feed nothing: this is model(x).y[:, -1] (a test checks it) at about half the cost, as an
    RNN reads only its last state. Earlier blocks run in full: the last query attends to all their outputs.
    """
    h = model.drop(model.embed_tokens(x))  # (B, T, d_model)
    for block in model.blocks[:-1]:
        h = block(h)[0]
    last, attn = model.blocks[-1], model.blocks[-1].attn
    z = last.ln1(h)
    q, k, v = attn.split(attn.q(z[:, -1:])), attn.split(attn.k(z)), attn.split(attn.v(z))  # (B, H, 1 | T, d_head)
    y = F.scaled_dot_product_attention(q, k, v)  # the last query may see every position: no mask
    h = h[:, -1:] + attn.proj(y.transpose(1, 2).reshape(x.shape[0], 1, -1))  # (B, 1, d_model)
    h = h + last.mlp(last.ln2(h))
    return model.head(model.ln_f(h))[:, -1]


def recall_loss(model: nn.Module, batch: tuple) -> torch.Tensor:
    """Cross-entropy of the answer; batch = (x (B, T), y (B,))."""
    x, y = batch[0], batch[1]
    return F.cross_entropy(last_logits(model, x), y)


@torch.no_grad()
def accuracy_by_distance(model: nn.Module, task: RecallTask, distances: list[int], n: int = 500,
                         seed: int = 10_000, batch_size: int = 250) -> list[float]:
    """Held-out accuracy at each distance (n examples each, seed unlike training's)."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    accs = []
    for i, dist in enumerate(distances):
        x, y, _ = make_batch(task, n, dist, seed=seed + i)
        correct = 0
        for j in range(0, n, batch_size):
            pred = last_logits(model, x[j: j + batch_size].to(device)).argmax(-1).cpu()
            correct += int((pred == y[j: j + batch_size]).sum())
        accs.append(correct / n)
    model.train(was_training)
    return accs


def first_below(distances: list[int], accuracy: list[float], threshold: float = 0.9) -> int | None:
    """The shortest distance whose accuracy is under `threshold`; None when none is."""
    for d, a in zip(distances, accuracy, strict=True):
        if a < threshold:
            return d
    return None


def history(records: list[Progress]) -> list[dict]:
    """fit()'s Progress records as JSON rows (what the page's loss and gradient-norm curves draw)."""
    return [{"step": p.step, "train_loss": json_number(p.train_loss), "val_loss": json_number(p.val_loss),
             "elapsed": round(p.elapsed, 2), "grad_norm": json_number(p.grad_norm)} for p in records]


def json_number(v: float | None) -> float | None:
    """JSON has no inf/nan: those become None (the page shows them as gaps); 5 significant digits."""
    return None if v is None or not math.isfinite(v) else float(f"{v:.5g}")
