"""One training loop for every task.

AdamW, gradient clipping (the lecture's cure for exploding gradients), linear warm-up then cosine
decay, validation with early stopping (best weights restored), seeds, bf16 autocast on CUDA, a
progress callback and a stop flag checked every step. Under torchrun the model is wrapped in
DistributedDataParallel and the data sharded with a DistributedSampler; callers do not change.
"""

from __future__ import annotations

import copy
import math
import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset
from torch.utils.data.distributed import DistributedSampler

from seqcore.device import autocast_dtype, pick_device
from seqcore.distributed import is_main_process

LossFn = Callable[[torch.nn.Module, tuple], torch.Tensor]


@dataclass
class TrainConfig:
    epochs: int = 10
    max_steps: int | None = None       # stop after this many optimiser steps, whatever the epochs
    time_budget_s: float | None = None  # stop after this many seconds (protects a shared server)
    batch_size: int = 32
    lr: float = 3e-3
    weight_decay: float = 0.01
    grad_clip: float | None = 1.0      # max global gradient norm; None turns clipping off
    warmup_frac: float = 0.05
    min_lr_frac: float = 0.1
    patience: int | None = 3           # evaluations without improvement before stopping
    eval_every: int | None = None      # steps between validations; None = once per epoch
    seed: int = 0
    num_workers: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Progress:
    step: int
    total_steps: int
    epoch: int
    train_loss: float
    val_loss: float | None
    elapsed: float
    grad_norm: float | None = None  # largest global gradient norm (before clipping) since the last report


@dataclass
class TrainResult:
    history: list[Progress] = field(default_factory=list)
    best_val_loss: float | None = None
    best_step: int | None = None
    steps: int = 0
    seconds: float = 0.0
    stopped: str = "finished"  # finished | early_stop | stop_flag | max_steps | time_budget

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("history")
        return d


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def lr_lambda(total_steps: int, warmup_frac: float, min_lr_frac: float) -> Callable[[int], float]:
    warmup = max(1, int(total_steps * warmup_frac))

    def f(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
        return min_lr_frac + (1 - min_lr_frac) * 0.5 * (1 + math.cos(math.pi * progress))

    return f


class _DDP(DistributedDataParallel):
    """DDP that lets loss functions read the wrapped model's attributes (model.config, ...) unchanged."""

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.module, name)


def _to(batch, device):
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to(b, device) for b in batch)
    return batch


@torch.no_grad()
def evaluate_loss(model: torch.nn.Module, loss_fn: LossFn, data: Dataset, batch_size: int,
                  device: torch.device | None = None) -> float:
    """Mean of loss_fn over `data`, weighted by batch size, in eval mode."""
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    total, n = 0.0, 0
    for batch in DataLoader(data, batch_size=None if getattr(data, "batched", False) else batch_size, shuffle=False):
        batch = _to(batch, device)
        size = len(batch[0]) if isinstance(batch, (list, tuple)) else len(batch)
        total += float(loss_fn(model, batch)) * size
        n += size
    model.train(was_training)
    return total / max(1, n)


def fit(
    model: torch.nn.Module,
    loss_fn: LossFn,
    train_data: Dataset,
    val_data: Dataset | None = None,
    config: TrainConfig | None = None,
    *,
    on_progress: Callable[[Progress], None] | None = None,
    stop: threading.Event | None = None,
    device: torch.device | None = None,
) -> TrainResult:
    """Train `model` in place; returns the history. loss_fn(model, batch) -> scalar loss.

    With val_data, the weights with the lowest validation loss are restored at the end.
    `stop.set()` from another thread ends training within one step (best weights still restored).
    A dataset with `batched = True` yields whole batches (for example length-bucketed ones): its items are
    used as they are and config.batch_size only sets the validation batch.
    """
    cfg = config or TrainConfig()
    device = device or pick_device()
    seed_everything(cfg.seed)
    model.to(device)
    # One sampler for both cases: with world size 1 it is a seeded shuffle, and under torchrun each
    # rank takes every world-th index of the same permutation, so a global batch is the same set of
    # examples whatever the number of processes (batch_size is the global batch).
    world, rank = (dist.get_world_size(), dist.get_rank()) if dist.is_initialized() else (1, 0)
    if cfg.batch_size % world:
        raise ValueError(f"batch_size {cfg.batch_size} must be divisible by the {world} processes")
    net = model
    if world > 1:
        net = _DDP(model, device_ids=[device.index] if device.type == "cuda" else None)
    sampler = DistributedSampler(train_data, num_replicas=world, rank=rank, shuffle=True, seed=cfg.seed)
    batched = getattr(train_data, "batched", False)
    loader = DataLoader(train_data, batch_size=None if batched else cfg.batch_size // world, sampler=sampler,
                        num_workers=cfg.num_workers, drop_last=False)
    steps_per_epoch = max(1, len(loader))
    total = cfg.epochs * steps_per_epoch
    if cfg.max_steps is not None:
        total = min(total, cfg.max_steps)
    eval_every = cfg.eval_every or steps_per_epoch
    # The fused kernel updates every tensor in one pass: about 10x less optimizer time than the per-tensor
    # loop on CPU (bench/training.py); torch 2.11 has it for CPU and CUDA floating-point parameters.
    params = [p for p in model.parameters() if p.requires_grad]
    fused = all(p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in params)
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=fused)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(total, cfg.warmup_frac, cfg.min_lr_frac))
    amp = autocast_dtype(device)

    result = TrainResult()
    best_state, bad_evals = None, 0
    start = time.perf_counter()
    step, running, running_n, grad_norm = 0, 0.0, 0, 0.0
    model.train()

    def validate_and_report(epoch: int) -> bool:
        """Record progress; returns True when early stopping says stop."""
        nonlocal best_state, bad_evals, running, running_n, grad_norm
        val = evaluate_loss(model, loss_fn, val_data, cfg.batch_size, device) if val_data is not None else None
        p = Progress(step, total, epoch, running / max(1, running_n), val, time.perf_counter() - start, grad_norm)
        running, running_n, grad_norm = 0.0, 0, 0.0
        result.history.append(p)
        if on_progress is not None and is_main_process():
            on_progress(p)
        if val is None:
            return False
        if result.best_val_loss is None or val < result.best_val_loss:
            result.best_val_loss, result.best_step, bad_evals = val, step, 0
            best_state = copy.deepcopy(model.state_dict())
            return False
        bad_evals += 1
        return cfg.patience is not None and bad_evals >= cfg.patience

    epoch = 0
    while step < total and result.stopped == "finished":
        sampler.set_epoch(epoch)
        for batch in loader:
            if stop is not None and stop.is_set():
                result.stopped = "stop_flag"
                break
            batch = _to(batch, device)
            with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
                loss = loss_fn(net, batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            # With clipping off the norm is still measured (max_norm=inf), so exploding gradients show.
            max_norm = cfg.grad_clip if cfg.grad_clip is not None else float("inf")
            grad_norm = max(grad_norm, float(torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)))
            opt.step()
            sched.step()
            step += 1
            running += float(loss.detach())
            running_n += 1
            if (step % eval_every == 0 or step == total) and validate_and_report(epoch):
                result.stopped = "early_stop"
                break
            if step >= total:
                break
            if cfg.time_budget_s is not None and time.perf_counter() - start > cfg.time_budget_s:
                result.stopped = "time_budget"
                break
        epoch += 1
    if result.stopped == "finished" and total < cfg.epochs * steps_per_epoch:
        result.stopped = "max_steps"
    if running_n:  # report the partial stretch since the last evaluation
        validate_and_report(epoch)
    if best_state is not None:
        model.load_state_dict(best_state)
    opt.zero_grad(set_to_none=True)  # a trained model should not carry the last batch's gradients around
    model.eval()
    result.steps = step
    result.seconds = time.perf_counter() - start
    return result


def world_info() -> dict:
    """Rank and world size under torchrun (1 process otherwise)."""
    if dist.is_initialized():
        return {"rank": dist.get_rank(), "world_size": dist.get_world_size()}
    return {"rank": int(os.environ.get("RANK", 0)), "world_size": int(os.environ.get("WORLD_SIZE", 1))}
