"""The memory lab's three contenders (a vanilla RNN, an LSTM, a Transformer), their loss and accuracy.

Every model reads a recall sequence x (B, T) and answers at its last position: forward -> (B, T, n_values)
logits, of which only the query's (the last) count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

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
    """Sizes of the three contenders (kept small: they train on a shared CPU)."""

    rnn_hidden: int = 64
    lstm_hidden: int = 64
    embed_dim: int = 16
    d_model: int = 32
    n_heads: int = 2
    n_layers: int = 2
    d_ff: int = 64


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
    out = model(x)
    y = out[0] if isinstance(out, tuple) else out.y  # SequenceRNN: (y, state); Transformer: TransformerOutput
    return y[:, -1]


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
