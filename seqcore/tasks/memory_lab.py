"""Memory lab: how far back can a vanilla RNN, an LSTM and a Transformer recall a cue?

The task protocol (seqcore.tasks) over MemoryLab results, and the race that makes them: every contender
trains for the same bounded wall time on the recall task (seqcore.tasks.memory_data), then three
measurements, all JSON-able (MemoryLab.results):
  - accuracy against distance per model, on held-out sequences (seqcore.tasks.memory_models);
  - the norm of d loss / d x_t at every time step, before and after training (seqcore.tasks.memory_bptt);
  - exploding gradients: a vanilla RNN with large recurrent weights, trained with clipping on and off.
save keeps the race's Transformer as a checkpoint, which the attention explorer opens; load gives it back.
The task's own operations: page_config, default_distances, summary, shipped_results, parse_distances.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import json
import math
import shlex
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn as nn
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
    shipped_dir,
    user_dir,
)
from seqcore.device import device_name, pick_device
from seqcore.errors import CheckpointError, InputError
from seqcore.models import Transformer, TransformerConfig
from seqcore.tasks.memory_bptt import clip_start, clipping_experiment, grad_profile
from seqcore.tasks.memory_data import MAX_DISTANCE, RecallTask, datasets, encode, make_batch, parse_distances
from seqcore.tasks.memory_models import ARCHS, accuracy_by_distance, build_model, first_below, history, recall_loss
from seqcore.train import Progress, TrainConfig, fit

__all__ = ["TASK", "Config", "tiny_config", "build", "train", "save", "load", "best_name", "evaluate",
           "attention_probe", "LabConfig", "MemoryLab", "LabProgress", "ARCHS", "MAX_DISTANCE", "PAGE_CLIP_SECONDS",
           "RESULTS", "CHECKPOINT", "page_config", "default_distances", "parse_distances", "summary",
           "shipped_results"]

TASK = "memory"
DEFAULT_DISTANCES = (5, 10, 20, 50, 100)
EVAL_POINTS = (5, 10, 20, 50, 100, 150, 200)  # the page's held-out distances, up to the longest trained
MAX_SECONDS = 600.0
PAGE_CLIP_SECONDS = 10.0
CHECKPOINT = "memory-transformer"      # the shipped Transformer the attention explorer can open
RESULTS = "memory_lab_default.json"    # the shipped default run's results: the page's first view


@dataclass
class LabConfig:
    """One race: the distances, the equal time budget, the contenders and the clipping experiment."""

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
    command: str | None = field(default=None, compare=False)  # recorded in results and card; None: command_line()

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

    def command_line(self) -> str:
        """The `seqcore memory-lab` command that runs this race."""
        return shlex.join(["seqcore", "memory-lab", "--distances", ",".join(map(str, self.distances)),
                           "--seconds", f"{self.seconds:g}", "--seed", str(self.seed), "--models", ",".join(self.archs),
                           "--clip-seconds", f"{self.clip_seconds:g}"])

    def to_dict(self) -> dict:
        out = asdict(self)
        out.pop("command")
        return out


Config = LabConfig


def tiny_config() -> LabConfig:
    """About 2 s on a CPU: every contender and the clipping experiment, on 256 sequences (tests)."""
    return LabConfig(distances=(2, 6), seconds=0.3, n_train=256, n_val=64, n_eval=40, clip_seconds=0.4)


def default_distances(longest: int) -> list[int]:
    """The page's held-out distances when none are typed: EVAL_POINTS below `longest`, and `longest`."""
    return [d for d in EVAL_POINTS if d < longest] + [longest]


def page_config(longest: int, seconds: float, seed: int, archs, extra: str = "", clip: bool = True) -> LabConfig:
    """The page's race: trained up to `longest`, tested at the distances typed in `extra` (or the defaults)
    and at `longest`; clip: rerun the clipping experiment (PAGE_CLIP_SECONDS)."""
    if not archs:
        raise InputError("choose at least one model to train")
    distances = parse_distances(extra, max_distance=longest) if extra.strip() else default_distances(longest)
    return LabConfig(distances=tuple(sorted(set(distances) | {longest})), seconds=float(seconds), seed=int(seed),
                     archs=tuple(archs), clip_seconds=PAGE_CLIP_SECONDS if clip else 0.0)


@dataclass
class MemoryLab:
    """The task's "model": the recall task, the trained contenders and what was measured.

    models: arch -> model, forward(x (B, T)) -> (B, T, n_values); a loaded checkpoint holds the Transformer only.
    results: the race's JSON-able measurements (what the page draws, the CLI prints); None after load.
    """

    task: RecallTask
    models: dict[str, nn.Module]
    distances: tuple[int, ...]
    results: dict | None = None
    name: str = ""


def _seeded(arch: str, task: RecallTask, seed: int) -> nn.Module:
    torch.manual_seed(seed)  # each contender starts from the same seed, whatever the order of the race
    return build_model(arch, task)


def build(cfg: LabConfig) -> MemoryLab:
    """The untrained contenders."""
    task = cfg.task()
    return MemoryLab(task, {a: _seeded(a, task, cfg.seed) for a in cfg.archs}, cfg.distances)


@dataclass
class LabProgress(Progress):
    """A training Progress tagged with the model it belongs to; step counts across the whole run."""

    model: str = ""


ProgressFn = Callable[[object], None]


class _Relay:
    """Forwards fit()'s Progress as LabProgress: one step count and one clock for the whole race."""

    def __init__(self, on_progress: ProgressFn | None, total_steps: int):
        self.on_progress, self.total, self.offset, self.start = on_progress, total_steps, 0, time.perf_counter()

    def __call__(self, label: str, records: list[Progress], steps: int) -> Callable[[Progress], None]:
        """on_progress for the next run (`steps` planned), its steps numbered after the runs before it."""
        offset, self.offset = self.offset, self.offset + steps

        def report(p: Progress) -> None:
            records.append(p)
            if self.on_progress is not None:
                self.on_progress(LabProgress(**{**asdict(p), "step": p.step + offset, "total_steps": self.total,
                                                "elapsed": time.perf_counter() - self.start}, model=label))

        return report


def steps_per_second(model: nn.Module, data: TensorDataset, batch_size: int, device: torch.device) -> float:
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


def train_one(arch: str, task: RecallTask, cfg: LabConfig, data: tuple[TensorDataset, TensorDataset],
              planned: int, *, track: _Relay | None = None, stop: threading.Event | None = None,
              device: torch.device | None = None) -> tuple[nn.Module, dict]:
    """Train one contender for at most cfg.seconds (and `planned` steps); returns (model, JSON-able result)."""
    model = _seeded(arch, task, cfg.seed)
    init_profile = grad_profile(model, task, cfg.seed + 3_000)
    records: list[Progress] = []
    steps_per_epoch = math.ceil(len(data[0]) / cfg.batch_size)
    tc = TrainConfig(epochs=planned // steps_per_epoch + 1, max_steps=planned, time_budget_s=cfg.seconds,
                     batch_size=cfg.batch_size, lr=cfg.lr, grad_clip=cfg.grad_clip, patience=None,
                     eval_every=max(10, planned // 40), warmup_frac=0.02, seed=cfg.seed)
    report = track(arch, records, planned) if track is not None else records.append
    result = fit(model, recall_loss, data[0], data[1], tc, on_progress=report, stop=stop, device=device)
    acc = accuracy_by_distance(model, task, list(cfg.distances), n=cfg.n_eval, seed=cfg.seed + 10_000)
    out = {
        "arch": arch,
        "params": sum(p.numel() for p in model.parameters()),
        "config": model.config.to_dict(),
        "train": {**result.to_dict(), "planned_steps": planned},
        "history": history(records),
        "accuracy": acc,
        "below_90": first_below(list(cfg.distances), acc),
        "grad_norms": {"distance": task.max_distance, "init": init_profile,
                       "trained": grad_profile(model, task, cfg.seed + 3_000)},
    }
    return model, out


def train(cfg: LabConfig, *, on_progress: ProgressFn | None = None, stop: threading.Event | None = None,
          device: torch.device | None = None) -> tuple[MemoryLab, dict]:
    """Race every contender for cfg.seconds, measure, and run the clipping experiment.

    Returns (lab, card): lab.results is JSON-able, lab.models the contenders that trained; the card is the
    Transformer's (what save keeps). Each model's step budget is its measured speed x cfg.seconds (so the
    cosine schedule ends on time); the wall-time limit of cfg.seconds is enforced as well.
    """
    device = device or pick_device()
    task = cfg.task()
    data = datasets(task, cfg.n_train, cfg.n_val, cfg.seed)
    started = time.perf_counter()
    plans = {a: max(10, int(steps_per_second(m, data[0], cfg.batch_size, device) * cfg.seconds))
             for a, m in build(cfg).models.items()}
    clip_steps = 0
    if cfg.clip_seconds > 0:
        speed = steps_per_second(clip_start(task, cfg), data[0], cfg.batch_size, device)
        clip_steps = max(10, int(speed * cfg.clip_seconds / 2))
    relay = _Relay(on_progress, sum(plans.values()) + 2 * clip_steps)
    models, per_model = {}, {}
    for arch in cfg.archs:
        if stop is not None and stop.is_set():
            break
        models[arch], per_model[arch] = train_one(arch, task, cfg, data, plans[arch], track=relay, stop=stop,
                                                  device=device)
    clipping = None
    if clip_steps and not (stop is not None and stop.is_set()):
        clipping = clipping_experiment(task, cfg, clip_steps, track=relay, stop=stop, device=device)
    results = {
        "task": TASK,
        "command": cfg.command or cfg.command_line(),
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
    return MemoryLab(task, models, cfg.distances, results), _card(results)


def _card(results: dict) -> dict:
    """The model card of the race's Transformer (config {} when the race trained none: nothing to save)."""
    m = results["models"].get("transformer")
    metrics = {"chance": results["chance"]}
    if m:
        metrics |= {"accuracy": dict(zip(map(str, results["distances"]), m["accuracy"], strict=True)),
                    "mean_accuracy": round(sum(m["accuracy"]) / len(m["accuracy"]), 4)}
    return make_card(TASK, "transformer", m["config"] if m else {},
                     data={"task": results["task_config"],
                           "train": f"synthetic recall, seed {results['config']['seed']}",
                           "held_out": "another seed, per distance"},
                     metrics=metrics, train_seconds=m["train"]["seconds"] if m else None, device=results["device"],
                     command=results["command"], training=results["config"])


def summary(results: dict) -> list[dict]:
    """One row per model: accuracy at each distance and where it first falls below 90%."""
    rows = []
    for arch, m in results["models"].items():
        row = {"model": arch, "params": m["params"], "steps": m["train"]["steps"]}
        row.update({f"d={d}": round(a, 3) for d, a in zip(results["distances"], m["accuracy"], strict=True)})
        row["below 90% at"] = m["below_90"]
        rows.append(row)
    return rows


def save(lab: MemoryLab, card: dict, name: str | None = None, out: str | Path | None = None) -> Path:
    """The race's Transformer as OUT/NAME.safetensors + NAME.json (default: the user dir, CHECKPOINT)."""
    if "transformer" not in lab.models:
        raise InputError(f"this run trained no Transformer (models: {', '.join(lab.models) or 'none'}): there is "
                         "nothing to save; include transformer in the models")
    return save_checkpoint(lab.models["transformer"], card, Path(out or user_dir()) / check_name(name or CHECKPOINT))


def _rebuild(card: dict) -> Transformer:
    return Transformer(TransformerConfig(**card["config"]))


def load(name_or_info: str | CheckpointInfo | None = None) -> tuple[MemoryLab, dict]:
    """The lab of a saved Transformer (its task and distances from the card): a name, an entry, or None (the best)."""
    info = as_info(name_or_info if name_or_info is not None else best_name(), TASK)
    model, _, card = restore(info, _rebuild)
    try:
        task = RecallTask.from_dict(card["data"]["task"])
        distances = tuple(sorted(int(d) for d in card["metrics"]["accuracy"]))
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise CheckpointError(f"model card {info.name}.json cannot rebuild its recall task ({e}); retrain or "
                              "restore it") from None
    return MemoryLab(task, {"transformer": model}, distances, name=info.name), card


def best_name() -> str:
    """The memory Transformer with the highest mean held-out accuracy over its distances."""
    return best_checkpoint(TASK, "mean_accuracy").name


def evaluate(lab: MemoryLab, *, limit: int | None = None, distances: list[int] | None = None,
             seed: int = 10_000) -> dict:
    """Held-out accuracy by distance for each of the lab's models (`limit` sequences per distance, default 500)."""
    distances = list(distances or lab.distances)
    n = limit or 500
    acc = {arch: accuracy_by_distance(m, lab.task, distances, n=n, seed=seed) for arch, m in lab.models.items()}
    return {"accuracy": {arch: dict(zip(map(str, distances), a, strict=True)) for arch, a in acc.items()},
            "mean_accuracy": {arch: round(sum(a) / len(a), 4) for arch, a in acc.items()},
            "chance": lab.task.chance, "n_per_distance": n}


def attention_probe(info: CheckpointInfo, text: str | None = None):
    """The attention explorer's view of the memory Transformer (see seqcore.tasks.probe)."""
    from seqcore.tasks.probe import AttentionProbe

    lab, _ = shared_load(load, info)  # loaded once per file version: a new text costs no reload
    task = lab.task
    if text is None:
        x = make_batch(task, 1, min(20, task.max_distance), seed=7)[0][0]
        x = x[-(2 * task.n_pairs + min(20, task.max_distance) + 2):]  # drop the front filler
    else:
        x = encode(task, text)
    labels = task.tokens()
    note = "the last token is the query key; the answer is the value that followed it"
    return AttentionProbe(model=lab.models["transformer"], x=x[None], tokens=[labels[int(i)] for i in x], note=note)


def shipped_results() -> dict | None:
    """The shipped default race's results (checkpoints/RESULTS), None when there is none; CheckpointError when
    the file cannot be read. Read once per file version."""
    path = shipped_dir() / RESULTS
    if not path.exists():
        return None
    return _read_results(str(path), path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=2)
def _read_results(path: str, mtime_ns: int) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise CheckpointError(f"the shipped results file {RESULTS} is unreadable ({e}); rebuild it with "
                              f"`seqcore memory-lab --out checkpoints/{RESULTS}`") from None
