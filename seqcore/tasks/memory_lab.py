"""Memory lab: how far back can a vanilla RNN, an LSTM and a Transformer recall a cue?

The recall task (many-to-one): a few key/value pairs, then `distance` distractor tokens, then a
query marker and one of the keys; the model must answer that key's value.

    filler ... k1 v1 [k2 v2 ...]  d_1 d_2 ... d_distance  ?  k_q   ->  v_q

Distractors are drawn from the value tokens as well as from their own tokens, so a model cannot
just keep "the value it saw": it must keep the one that followed the key, and not overwrite it.

Every sequence of a task has the same length (filler distractors pad the front), so models see one
shape and the Transformer one position range. Held-out sets use a different seed from training.

Three measurements, all JSON-able (`run_lab` returns them):
  - accuracy against distance per model after an equal, bounded wall time of training each;
  - the norm of d loss / d x_t for the input embedding x_t at every time step (backpropagation
    through time): how much the answer's loss can still move each input;
  - exploding gradients: a vanilla RNN whose recurrent weights start large, trained with the
    gradient norm clipped to 1.0 and with clipping off, from the same start on the same batches.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from seqcore.device import device_name, pick_device
from seqcore.errors import InputError
from seqcore.models import RNNConfig, SequenceRNN, Transformer, TransformerConfig
from seqcore.train import Progress, TrainConfig, fit

TASK = "memory"
ARCHS = ("rnn", "lstm", "transformer")
DEFAULT_DISTANCES = (5, 10, 20, 50, 100)
MAX_DISTANCE = 200
MAX_SECONDS = 600.0
CHECKPOINT = "memory-transformer"  # the shipped Transformer the attention explorer can open


@dataclass(frozen=True)
class RecallTask:
    """Vocabulary and shape of the recall task. Token ids: keys, then values, then distractors, then '?'."""

    max_distance: int = 100
    n_pairs: int = 1
    n_keys: int = 8
    n_values: int = 8
    n_distractors: int = 8
    values_in_noise: bool = True  # distractors are drawn from the values too, so "the one value seen" is no shortcut

    def __post_init__(self):
        if not 1 <= self.n_pairs <= self.n_keys:
            raise InputError(f"n_pairs must be between 1 and n_keys ({self.n_keys}), got {self.n_pairs}")
        if not 0 <= self.max_distance <= MAX_DISTANCE:
            raise InputError(f"the longest distance must be between 0 and {MAX_DISTANCE}, got {self.max_distance}")
        if self.n_keys > 26 or self.n_values > 10 or self.n_distractors > 26:
            raise InputError("at most 26 keys, 10 values and 26 distractors (one character each)")

    @property
    def seq_len(self) -> int:
        return 2 * self.n_pairs + self.max_distance + 2

    @property
    def vocab_size(self) -> int:
        return self.n_keys + self.n_values + self.n_distractors + 1

    @property
    def query_id(self) -> int:
        return self.vocab_size - 1

    @property
    def chance(self) -> float:
        """Accuracy of guessing a value uniformly: the baseline every curve is drawn against."""
        return 1.0 / self.n_values

    def tokens(self) -> list[str]:
        """Labels per token id: keys 'A'.., values '0'.., distractors 'a'.., then '?'."""
        return ([chr(ord("A") + i) for i in range(self.n_keys)] + [str(i) for i in range(self.n_values)]
                + [chr(ord("a") + i) for i in range(self.n_distractors)] + ["?"])

    def to_dict(self) -> dict:
        return {**asdict(self), "seq_len": self.seq_len, "vocab_size": self.vocab_size, "chance": self.chance}


def parse_distances(text: str | list | tuple, max_distance: int = MAX_DISTANCE) -> list[int]:
    """'5,10,20' -> [5, 10, 20] (sorted, unique); InputError saying what to change otherwise."""
    items = text.replace(";", ",").split(",") if isinstance(text, str) else list(text)
    out = []
    for item in items:
        s = str(item).strip()
        if not s:
            continue
        try:
            d = int(s)
        except ValueError:
            shown = repr(s) if len(s) <= 30 else repr(s[:30]) + f"... ({len(s):,} characters)"
            raise InputError(f"distances must be whole numbers separated by commas, e.g. 5,10,20; "
                             f"got {shown}") from None
        if not 0 <= d <= max_distance:
            raise InputError(f"each distance must be between 0 and {max_distance}; got {d}")
        out.append(d)
    if not out:
        raise InputError("give at least one distance, e.g. 5,10,20,50,100")
    return sorted(set(out))


def make_batch(task: RecallTask, n: int, distances: int | list[int] | None = None,
               seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """n examples: x (n, seq_len) int64 tokens, y (n,) value index in [0, n_values), d (n,) distance.

    distances: one int, a list to draw from uniformly, or None for 0..max_distance drawn
    log-uniformly (as many examples in 1..10 as in 10..100), so short recalls, which teach the
    mechanism, are common while every longer distance is still seen in training.
    """
    g = torch.Generator().manual_seed(seed)
    t, p = task.seq_len, task.n_pairs
    if distances is None:
        u = torch.rand(n, generator=g) * math.log(task.max_distance + 2)
        d = (torch.exp(u).floor().long() - 1).clamp(0, task.max_distance)
    else:
        choices = torch.tensor([distances] if isinstance(distances, int) else list(distances))
        if choices.numel() == 0 or choices.min() < 0 or choices.max() > task.max_distance:
            raise InputError(f"distances must lie in 0..{task.max_distance} for this task")
        d = choices[torch.randint(0, len(choices), (n,), generator=g)]
    low = task.n_keys if task.values_in_noise else task.n_keys + task.n_values
    x = torch.randint(low, task.n_keys + task.n_values + task.n_distractors, (n, t), generator=g)
    keys = torch.rand(n, task.n_keys, generator=g).argsort(dim=1)[:, :p]  # distinct keys per example
    values = torch.randint(0, task.n_values, (n, p), generator=g)
    start = t - 2 - d - 2 * p  # the pairs end `d` tokens before the query marker
    rows = torch.arange(n)[:, None]
    x[rows, start[:, None] + 2 * torch.arange(p)] = keys
    x[rows, start[:, None] + 2 * torch.arange(p) + 1] = task.n_keys + values
    q = torch.randint(0, p, (n,), generator=g)
    x[:, t - 2] = task.query_id
    x[:, t - 1] = keys[torch.arange(n), q]
    y = values[torch.arange(n), q]
    return x, y, d


def decode(task: RecallTask, x: torch.Tensor) -> str:
    """(T,) token ids -> 'a c A 3 b ... ? A'."""
    labels = task.tokens()
    return " ".join(labels[int(i)] for i in x)


# ---------------------------------------------------------------- models


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


def model_config(model: nn.Module) -> dict:
    return model.config.to_dict()


def last_logits(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """(B, T) tokens -> (B, n_values) logits at the query (last) position."""
    out = model(x)
    y = out[0] if isinstance(out, tuple) else out.y  # SequenceRNN: (y, state); Transformer: TransformerOutput
    return y[:, -1]


def recall_loss(model: nn.Module, batch: tuple) -> torch.Tensor:
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


# ---------------------------------------------------------------- gradients through time


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


# ---------------------------------------------------------------- training


@dataclass
class LabConfig:
    distances: tuple[int, ...] = DEFAULT_DISTANCES
    seconds: float = 60.0           # wall time per model (the equal, bounded budget)
    seed: int = 0
    archs: tuple[str, ...] = ARCHS
    n_pairs: int = 1
    n_train: int = 20_000
    n_val: int = 1_000
    n_eval: int = 500               # held-out examples per distance
    batch_size: int = 64
    lr: float = 3e-3
    grad_clip: float | None = 1.0
    clip_seconds: float = 15.0      # per run (on, off) of the exploding-gradient experiment; 0 skips it
    clip_gain: float = 3.0          # initial recurrent weights are scaled to this spectral radius
    clip_lr: float = 1e-2
    clip_distance: int | None = None  # None: the longest distance

    def __post_init__(self):
        self.distances = tuple(parse_distances(list(self.distances)))
        bad = [a for a in self.archs if a not in ARCHS]
        if bad or not self.archs:
            raise InputError(f"models must be chosen from {', '.join(ARCHS)}; got {list(self.archs)}")
        if not 0 < self.seconds <= MAX_SECONDS:
            raise InputError(f"seconds per model must be above 0 and at most {MAX_SECONDS:.0f}; got {self.seconds}")
        if not 0 <= self.clip_seconds <= MAX_SECONDS:
            raise InputError(f"clipping seconds must be between 0 and {MAX_SECONDS:.0f}; got {self.clip_seconds}")

    def task(self) -> RecallTask:
        return RecallTask(max_distance=max(self.distances), n_pairs=self.n_pairs)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class LabProgress(Progress):
    """A training Progress tagged with the model it belongs to; step counts across the whole run."""

    model: str = ""


ProgressFn = Callable[[object], None]


def _datasets(task: RecallTask, cfg: LabConfig) -> tuple[TensorDataset, TensorDataset]:
    x, y, _ = make_batch(task, cfg.n_train, None, seed=cfg.seed)
    xv, yv, _ = make_batch(task, cfg.n_val, None, seed=cfg.seed + 1_000)  # held out: another seed
    return TensorDataset(x, y), TensorDataset(xv, yv)


def _steps_per_second(model: nn.Module, data: TensorDataset, batch_size: int, device: torch.device) -> float:
    """Optimiser steps per second, timed on a throwaway copy, so the LR schedule can span the budget."""
    probe = copy.deepcopy(model).to(device)
    opt = torch.optim.AdamW(probe.parameters(), lr=1e-4)
    x, y = data.tensors[0][:batch_size].to(device), data.tensors[1][:batch_size].to(device)
    for i in range(4):
        if i == 1:
            start = time.perf_counter()  # the first step pays one-off allocation costs
        loss = recall_loss(probe, (x, y))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return 3 / max(1e-6, time.perf_counter() - start)


def _history(records: list[Progress]) -> list[dict]:
    return [{"step": p.step, "train_loss": _num(p.train_loss), "val_loss": _num(p.val_loss),
             "elapsed": round(p.elapsed, 2), "grad_norm": _num(p.grad_norm)} for p in records]


def _num(v: float | None) -> float | None:
    """JSON has no inf/nan: those become None (the page shows them as gaps)."""
    return None if v is None or not math.isfinite(v) else float(f"{v:.5g}")


def _grad_profile(model: nn.Module, task: RecallTask, seed: int, n: int = 64) -> list[float]:
    device = next(model.parameters()).device
    x, y, _ = make_batch(task, n, task.max_distance, seed=seed)
    return [float(f"{v:.4g}") for v in input_grad_norms(model, x.to(device), y.to(device))]


class _Relay:
    """Forwards fit()'s Progress as LabProgress: one step count and one clock for the whole run."""

    def __init__(self, on_progress: ProgressFn | None, total_steps: int):
        self.on_progress, self.total, self.offset, self.start = on_progress, total_steps, 0, time.perf_counter()

    def __call__(self, label: str, records: list[Progress]) -> Callable[[Progress], None]:
        offset = self.offset

        def report(p: Progress) -> None:
            records.append(p)
            if self.on_progress is not None:
                self.on_progress(LabProgress(**{**asdict(p), "step": p.step + offset, "total_steps": self.total,
                                                "elapsed": time.perf_counter() - self.start}, model=label))

        return report


def train_one(arch: str, task: RecallTask, cfg: LabConfig, data: tuple[TensorDataset, TensorDataset],
              planned: int, *, relay: _Relay | None = None, stop: threading.Event | None = None,
              device: torch.device | None = None) -> tuple[nn.Module, dict]:
    """Train one contender for at most cfg.seconds (and `planned` steps); returns (model, JSON-able result)."""
    device = device or pick_device()
    torch.manual_seed(cfg.seed)
    model = build_model(arch, task)
    init_profile = _grad_profile(model, task, cfg.seed + 3_000)
    records: list[Progress] = []
    steps_per_epoch = math.ceil(len(data[0]) / cfg.batch_size)
    tc = TrainConfig(epochs=planned // steps_per_epoch + 1, max_steps=planned, time_budget_s=cfg.seconds,
                     batch_size=cfg.batch_size, lr=cfg.lr, grad_clip=cfg.grad_clip, patience=None,
                     eval_every=max(10, planned // 40), warmup_frac=0.02, seed=cfg.seed)
    report = relay(arch, records) if relay is not None else records.append
    result = fit(model, recall_loss, data[0], data[1], tc, on_progress=report, stop=stop, device=device)
    acc = accuracy_by_distance(model, task, list(cfg.distances), n=cfg.n_eval, seed=cfg.seed + 10_000)
    out = {
        "arch": arch,
        "params": sum(p.numel() for p in model.parameters()),
        "config": model_config(model),
        "train": {**result.to_dict(), "planned_steps": planned},
        "history": _history(records),
        "accuracy": acc,
        "below_90": first_below(list(cfg.distances), acc),
        "grad_norms": {"distance": task.max_distance, "init": init_profile,
                       "trained": _grad_profile(model, task, cfg.seed + 3_000)},
    }
    return model, out


def _scale_recurrent(model: SequenceRNN, radius: float) -> None:
    """Rescale W_hh to the given spectral radius: above 1, products of Jacobians can grow with time."""
    with torch.no_grad():
        w = model.rnn.weight_hh_l0
        w.mul_(radius / torch.linalg.eigvals(w).abs().max().clamp_min(1e-6))


def _clip_start(task: RecallTask, cfg: LabConfig) -> SequenceRNN:
    torch.manual_seed(cfg.seed)
    model = build_model("rnn", task)
    _scale_recurrent(model, cfg.clip_gain)
    return model


def clipping_experiment(task: RecallTask, cfg: LabConfig, steps: int, *, relay: _Relay | None = None,
                        stop: threading.Event | None = None, device: torch.device | None = None) -> dict:
    """A vanilla RNN from one large-weight start, trained with clipping at 1.0 and with clipping off.

    'Off' passes max norm = infinity: fit() then still records the global gradient norm but the
    scale factor min(1, inf / norm) is 1, so the gradients are used unclipped.
    Both runs take the same steps on the same batches from the same weights: only clipping differs.
    """
    device = device or pick_device()
    distance = cfg.clip_distance if cfg.clip_distance is not None else task.max_distance
    start_model = _clip_start(task, cfg)
    x, y, _ = make_batch(task, cfg.n_train // 4, distance, seed=cfg.seed + 5_000)
    runs = {}
    for name, clip in (("on", 1.0), ("off", float("inf"))):
        model = copy.deepcopy(start_model)
        records: list[Progress] = []
        report = relay(f"rnn, clipping {name}", records) if relay is not None else records.append
        tc = TrainConfig(epochs=steps + 1, max_steps=steps, time_budget_s=cfg.clip_seconds / 2,
                         batch_size=cfg.batch_size, lr=cfg.clip_lr, grad_clip=clip, patience=None,
                         eval_every=max(1, steps // 60), warmup_frac=0.0, min_lr_frac=1.0, seed=cfg.seed)
        result = fit(model, recall_loss, TensorDataset(x, y), None, tc, on_progress=report, stop=stop, device=device)
        acc = accuracy_by_distance(model, task, [distance], n=cfg.n_eval, seed=cfg.seed + 10_000)[0]
        norms = [p.grad_norm for p in records if p.grad_norm is not None]
        runs[name] = {"grad_clip": clip if math.isfinite(clip) else None, "train": result.to_dict(),
                      "history": _history(records), "accuracy": acc,
                      "max_grad_norm": _num(max(norms)) if norms else None,
                      "nonfinite_loss": any(not math.isfinite(p.train_loss) for p in records)}
        if relay is not None:
            relay.offset += steps
    return {"model": "rnn", "distance": distance, "spectral_radius": cfg.clip_gain, "lr": cfg.clip_lr,
            "steps": steps, "runs": runs}


def run_lab(cfg: LabConfig, *, on_progress: ProgressFn | None = None, stop: threading.Event | None = None,
            command: str | None = None) -> tuple[dict, dict[str, nn.Module]]:
    """Train every contender for cfg.seconds, measure, and run the clipping experiment.

    Returns (results, models): results is JSON-able (what the page draws and the CLI prints).
    Each model's step budget is its measured speed x cfg.seconds (so the cosine schedule ends on
    time); the wall-time limit of cfg.seconds is enforced as well.
    """
    device = pick_device()
    task = cfg.task()
    data = _datasets(task, cfg)
    started = time.perf_counter()
    plans = {a: max(10, int(_steps_per_second(build_model(a, task), data[0], cfg.batch_size, device) * cfg.seconds))
             for a in cfg.archs}
    clip_steps = 0
    if cfg.clip_seconds > 0:
        speed = _steps_per_second(_clip_start(task, cfg), data[0], cfg.batch_size, device)
        clip_steps = max(10, int(speed * cfg.clip_seconds / 2))
    relay = _Relay(on_progress, sum(plans.values()) + 2 * clip_steps)
    models, per_model = {}, {}
    for arch in cfg.archs:
        if stop is not None and stop.is_set():
            break
        models[arch], per_model[arch] = train_one(arch, task, cfg, data, plans[arch], relay=relay, stop=stop,
                                                  device=device)
        relay.offset += plans[arch]
    clipping = None
    if clip_steps and not (stop is not None and stop.is_set()):
        clipping = clipping_experiment(task, cfg, clip_steps, relay=relay, stop=stop, device=device)
    results = {
        "task": TASK,
        "command": command,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "device": device_name(device),
        "seconds_per_model": cfg.seconds,
        "total_seconds": round(time.perf_counter() - started, 1),
        "stopped": bool(stop is not None and stop.is_set()),
        "config": cfg.to_dict(),
        "task_config": task.to_dict(),
        "chance": task.chance,
        "distances": list(cfg.distances),
        "models": per_model,
        "clipping": clipping,
        "torch": torch.__version__,
    }
    return results, models


def summary(results: dict) -> list[dict]:
    """One row per model: accuracy at each distance and where it first falls below 90%."""
    rows = []
    for arch, m in results["models"].items():
        row = {"model": arch, "params": m["params"], "steps": m["train"]["steps"]}
        row.update({f"d={d}": round(a, 3) for d, a in zip(results["distances"], m["accuracy"], strict=True)})
        row["below 90% at"] = m["below_90"]
        rows.append(row)
    return rows


# ---------------------------------------------------------------- checkpoint + attention explorer


def save_transformer(model: Transformer, results: dict, folder: Path) -> Path:
    """Keep the lab's trained Transformer as FOLDER/memory-transformer (+ model card); returns the weights path."""
    from seqcore.checkpoints import make_card, save_checkpoint

    m = results["models"]["transformer"]
    card = make_card(TASK, "transformer", m["config"],
                     data={"task": results["task_config"], "train": "synthetic recall, seed "
                           f"{results['config']['seed']}", "held_out": "another seed, per distance"},
                     metrics={"accuracy": dict(zip(map(str, results["distances"]), m["accuracy"], strict=True)),
                              "chance": results["chance"]},
                     train_seconds=m["train"]["seconds"], device=results["device"], command=results["command"])
    return save_checkpoint(model, card, Path(folder) / CHECKPOINT)


def load_transformer(stem: Path | str) -> tuple[Transformer, RecallTask]:
    """(model in eval mode, its task) from a checkpoint saved by save_transformer."""
    from seqcore.checkpoints import load_checkpoint, load_weights

    state, card = load_checkpoint(stem)
    task_fields = {k: v for k, v in card["data"]["task"].items() if k in RecallTask.__dataclass_fields__}
    task = RecallTask(**task_fields)
    model = Transformer(TransformerConfig(**card["config"]))
    load_weights(model, {k: v.float() for k, v in state.items()}, card.get("name", "checkpoint"))
    return model.eval(), task


def _load_info(info) -> tuple[Transformer, RecallTask]:
    return load_transformer(info.stem)


def encode(task: RecallTask, text: str) -> torch.Tensor:
    """'A 3 a b c ? A' (space-separated, or one character per token) -> (T,) ids; InputError if unknown."""
    labels = {s: i for i, s in enumerate(task.tokens())}
    parts = text.split() if " " in text.strip() else list(text.strip())
    bad = sorted({p for p in parts if p not in labels})
    if bad or not parts:
        raise InputError(f"unknown tokens {bad[:5]}: use keys A-{task.tokens()[task.n_keys - 1]}, values 0-"
                         f"{task.n_values - 1}, distractors a-{task.tokens()[-2]} and '?'")
    if len(parts) > task.seq_len:
        raise InputError(f"at most {task.seq_len} tokens for this model; got {len(parts)}")
    return torch.tensor([labels[p] for p in parts])


def attention_probe(info, text: str | None = None):
    """The attention explorer's view of the memory Transformer (see seqcore.tasks.probe)."""
    from seqcore.checkpoints import shared_load
    from seqcore.tasks.probe import AttentionProbe

    model, task = shared_load(_load_info, info)  # loaded once per file version: a new text costs no reload
    if text is None:
        x = make_batch(task, 1, min(20, task.max_distance), seed=7)[0][0]
        x = x[-(2 * task.n_pairs + min(20, task.max_distance) + 2):]  # drop the front filler
    else:
        x = encode(task, text)
    labels = task.tokens()
    note = "the last token is the query key; the answer is the value that followed it"
    return AttentionProbe(model=model, x=x[None], tokens=[labels[int(i)] for i in x], note=note)
