"""Backpropagation through time, measured: gradient norms per input position, and exploding gradients.

  - input_grad_norms: the norm of d loss / d x_t for the input embedding x_t at every time step, by autograd,
    for any contender: how much the answer's loss can still move each input;
  - rnn_bptt_grad_norms: the same norms by hand for a vanilla RNN, the lecture's product of Jacobians;
  - clipping_experiment: a vanilla RNN whose recurrent weights start large, trained with the gradient norm
    clipped to 1.0 and with clipping off, from the same start on the same batches.
"""

from __future__ import annotations

import copy
import math
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from seqcore.models import SequenceRNN
from seqcore.tasks.memory_data import Task, make_batch
from seqcore.tasks.memory_models import (
    ModelSpec,
    accuracy_by_distance,
    build_model,
    history,
    json_number,
    last_logits,
    recall_loss,
)
from seqcore.train import Progress, TrainConfig, fit

if TYPE_CHECKING:
    from seqcore.tasks.memory_lab import LabConfig

# track(label, records, steps) -> fit's on_progress for one run of `steps` steps (memory_lab's relay)
Track = Callable[[str, list, int], Callable[[Progress], None]]


def input_grad_norms(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(T,) mean over the batch of ||d loss_i / d e_{i,t}||_2, e = the input embeddings (B, T, E).

    loss_i is example i's cross-entropy at the query, so each example's gradient is its own (a
    batch-mean loss would shrink every norm by 1/B). The embedding output is captured with a
    forward hook, so RNNs and Transformers are measured the same way without being modified.
    """
    captured = {}

    def keep(_module, _inputs, output):
        captured["e"] = output

    handle = model.embed.register_forward_hook(keep)
    was_training = model.training
    model.train()  # cuDNN RNN backward needs train mode; these models have no dropout, so outputs are unchanged
    try:
        with torch.enable_grad():
            loss = F.cross_entropy(last_logits(model, x), y, reduction="sum")
            (grad,) = torch.autograd.grad(loss, captured["e"])  # (B, T, E)
    finally:
        handle.remove()
        model.train(was_training)
    return grad.norm(dim=-1).mean(dim=0).detach().cpu()


def rnn_bptt_grad_norms(model: SequenceRNN, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The same (T,) norms as input_grad_norms, by hand, for a one-layer vanilla (tanh) RNN.

    h_t = tanh(W_hh h_{t-1} + W_xh x_t + b). With a_t = 1 - h_t^2 and g_t = d loss / d h_t:
        g_{T-1} = W_out^T (softmax - onehot),   g_{t-1} = W_hh^T (a_t * g_t),   d loss / d x_t = W_xh^T (a_t * g_t)
    so the signal from the answer to step t is multiplied by (T-1-t) factors W_hh^T diag(a): the
    product that vanishes (or explodes) with distance.
    """
    rnn = model.rnn
    if model.config.cell != "rnn" or rnn.num_layers != 1 or rnn.bidirectional:
        raise ValueError("rnn_bptt_grad_norms handles a one-layer, one-direction vanilla RNN")
    with torch.no_grad():
        e = model.embed(x)  # (B, T, E)
        b, t, _ = e.shape
        w_xh, w_hh = rnn.weight_ih_l0, rnn.weight_hh_l0  # (H, E), (H, H)
        bias = rnn.bias_ih_l0 + rnn.bias_hh_l0
        h = torch.zeros(b, w_hh.shape[0])
        hs = []
        for i in range(t):
            h = torch.tanh(e[:, i] @ w_xh.T + h @ w_hh.T + bias)
            hs.append(h)
        probs = torch.softmax(model.head(hs[-1]), dim=-1)
        g = (probs - F.one_hot(y, probs.shape[-1]).to(probs.dtype)) @ model.head.weight  # (B, H)
        norms = torch.zeros(b, t)
        for i in range(t - 1, -1, -1):
            delta = (1 - hs[i] ** 2) * g  # d loss / d pre-activation at step i
            norms[:, i] = (delta @ w_xh).norm(dim=-1)
            g = delta @ w_hh
    return norms.mean(dim=0)


def grad_profile(model: nn.Module, task: Task, seed: int, n: int = 64) -> list[float]:
    """input_grad_norms over n held-out sequences at the longest distance, 4 significant digits (JSON)."""
    device = next(model.parameters()).device
    x, y, _ = make_batch(task, n, task.max_distance, seed=seed)
    return [float(f"{v:.4g}") for v in input_grad_norms(model, x.to(device), y.to(device))]


def scale_recurrent(model: SequenceRNN, radius: float) -> None:
    """Rescale W_hh to the given spectral radius: above 1, products of Jacobians can grow with time."""
    with torch.no_grad():
        w = model.rnn.weight_hh_l0
        w.mul_(radius / torch.linalg.eigvals(w).abs().max().clamp_min(1e-6))


def clip_start(task: Task, cfg: LabConfig) -> SequenceRNN:
    """The clipping experiment's vanilla RNN: seeded weights, W_hh scaled to cfg.clip_gain."""
    torch.manual_seed(cfg.seed)
    model = build_model("rnn", task, ModelSpec.from_dict(cfg.spec))
    scale_recurrent(model, cfg.clip_gain)
    return model


def clipping_experiment(task: Task, cfg: LabConfig, steps: int, *, track: Track | None = None,
                        stop: threading.Event | None = None, device: torch.device | None = None) -> dict:
    """A vanilla RNN from one large-weight start, trained with clipping at 1.0 and with clipping off.

    'Off' passes max norm = infinity: fit() then still records the global gradient norm but the
    scale factor min(1, inf / norm) is 1, so the gradients are used unclipped.
    Both runs take the same steps on the same batches from the same weights: only clipping differs.
    """
    distance = cfg.clip_distance if cfg.clip_distance is not None else task.max_distance
    start_model = clip_start(task, cfg)
    x, y, _ = make_batch(task, cfg.n_train // 4, distance, seed=cfg.seed + 5_000)
    runs = {}
    for name, clip in (("on", 1.0), ("off", float("inf"))):
        model = copy.deepcopy(start_model)
        records: list[Progress] = []
        report = track(f"rnn, clipping {name}", records, steps) if track is not None else records.append
        tc = TrainConfig(epochs=steps + 1, max_steps=steps, time_budget_s=cfg.clip_seconds / 2,
                         batch_size=cfg.batch_size, lr=cfg.clip_lr, grad_clip=clip, patience=None,
                         eval_every=max(1, steps // 60), warmup_frac=0.0, min_lr_frac=1.0, seed=cfg.seed)
        result = fit(model, recall_loss, TensorDataset(x, y), None, tc, on_progress=report, stop=stop, device=device)
        acc = accuracy_by_distance(model, task, [distance], n=cfg.n_eval, seed=cfg.seed + 10_000)[0]
        norms = [p.grad_norm for p in records if p.grad_norm is not None]
        runs[name] = {"grad_clip": clip if math.isfinite(clip) else None, "train": result.to_dict(),
                      "history": history(records), "accuracy": acc,
                      "max_grad_norm": json_number(max(norms)) if norms else None,
                      "nonfinite_loss": any(not math.isfinite(p.train_loss) for p in records)}
    return {"model": "rnn", "distance": distance, "spectral_radius": cfg.clip_gain, "lr": cfg.clip_lr,
            "steps": steps, "runs": runs}
