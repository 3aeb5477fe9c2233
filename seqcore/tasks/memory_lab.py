"""Memory lab: how far back can a vanilla RNN, an LSTM and a Transformer recall a cue, or keep a parity?

The task protocol (seqcore.tasks) over MemoryLab results, and the race that makes them. A fair race: each
contender trains with its own recipe (learning rate and warm-up from a documented sweep, memory_models.RECIPES)
on one task (seqcore.tasks.memory_data: recall or parity), once per budget (equal steps, equal wall time)
and per seed, then three measurements, all JSON-able (MemoryLab.results):
  - accuracy against distance per model on held-out sequences, per run and as mean / spread over the seeds;
  - the norm of d loss / d x_t at every time step, before and after training (seqcore.tasks.memory_bptt);
  - exploding gradients: a vanilla RNN with large recurrent weights, trained with clipping on and off.
save keeps the race's Transformer as a checkpoint, which the attention explorer opens; load gives it back.
The task's own operations: page_config, default_distances, summary, views, first_run, shipped_results,
parse_distances.
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
from seqcore.tasks.memory_data import KINDS as TASK_KINDS
from seqcore.tasks.memory_data import (
    MAX_DISTANCE,
    Task,
    datasets,
    encode,
    make_batch,
    make_task,
    parse_distances,
    task_from_dict,
)
from seqcore.tasks.memory_models import (
    ARCHS,
    RECIPES,
    ModelSpec,
    accuracy_by_distance,
    build_model,
    first_below,
    history,
    recall_loss,
)
from seqcore.train import Progress, TrainConfig, fit

__all__ = ["TASK", "Config", "tiny_config", "build", "train", "save", "load", "best_name", "evaluate",
           "attention_probe", "LabConfig", "MemoryLab", "LabProgress", "ARCHS", "KINDS", "BUDGETS", "RECIPES",
           "MAX_DISTANCE", "PAGE_CLIP_SECONDS", "RESULTS", "CHECKPOINT", "page_config", "default_distances",
           "parse_distances", "summary", "views", "first_run", "shipped_results"]

TASK = "memory"
DEFAULT_DISTANCES = (5, 10, 20, 50, 100)
EVAL_POINTS = (5, 10, 20, 50, 100, 150, 200)  # the page's held-out distances, up to the longest trained
MAX_SECONDS = 600.0
MAX_STEPS = 20_000
PAGE_WALL_LIMIT = 300.0  # seconds: no model of a page's race trains longer (a shared server)
PAGE_CLIP_SECONDS = 10.0
CHECKPOINT = "memory-transformer"      # the shipped Transformer the attention explorer can open
RESULTS = "memory_lab_default.json"    # the shipped races (recall and parity): the page's first view
BUDGETS = {"steps": "equal steps", "seconds": "equal wall time"}
KINDS = tuple(TASK_KINDS)


@dataclass
class LabConfig:
    """One race: the task, the distances, the budgets (equal steps, equal wall time), the seeds, the contenders,
    each contender's own training recipe (learning rate, warm-up) and the clipping experiment.

    Every model trains once per budget and seed: `steps` optimiser steps in the equal-steps race; in the
    equal-wall-time race, `seconds` x its measured speed in steps, the cosine schedule spanning them. On a CPU
    the speed is timed in this process's CPU time (one thread: an idle machine's wall time), so programs sharing
    the machine slow every contender's clock, not its budget.
    """

    kind: str = "recall"            # recall | parity (seqcore.tasks.memory_data)
    distances: tuple[int, ...] = DEFAULT_DISTANCES
    budgets: tuple[str, ...] = ("steps", "seconds")
    steps: int = 2000               # per model, equal-steps race
    seconds: float = 60.0           # wall time per model, equal-wall-time race
    seeds: tuple[int, ...] = (0,)
    archs: tuple[str, ...] = ARCHS
    recipes: dict[str, dict] | None = None  # arch -> {"lr", "warmup_frac"}; None: RECIPES[kind] (the sweep's)
    spec: dict[str, int] | None = None     # model sizes (memory_models.ModelSpec); None: the defaults
    n_train: int = 20_000
    n_val: int = 500
    n_eval: int = 500               # held-out examples per distance
    batch_size: int = 64
    grad_clip: float | None = 1.0
    clip_seconds: float = 15.0      # per run (on, off) of the exploding-gradient experiment; 0 skips it
    clip_gain: float = 3.0          # initial recurrent weights are scaled to this spectral radius
    clip_lr: float = 1e-2
    clip_distance: int | None = None  # None: the longest distance
    wall_limit: float = 1800.0      # no model trains longer than this (wall clock): a shared server's protection
    command: str | None = field(default=None, compare=False)  # recorded in results and card; None: command_line()

    def __post_init__(self):
        make_task(self.kind, 0)  # InputError names the known tasks
        self.distances = tuple(parse_distances(list(self.distances)))
        self.archs, self.seeds = tuple(self.archs), tuple(int(s) for s in self.seeds)
        bad = [a for a in self.archs if a not in ARCHS]
        if bad or not self.archs:
            raise InputError(f"models must be chosen from {', '.join(ARCHS)}; got {list(self.archs)}")
        if not self.budgets or any(b not in BUDGETS for b in self.budgets):
            raise InputError(f"budgets must be chosen from {', '.join(BUDGETS)}; got {list(self.budgets)}")
        self.budgets = tuple(self.budgets)
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise InputError(f"give one or more distinct seeds; got {list(self.seeds)}")
        if not 0 < self.seconds <= MAX_SECONDS:
            raise InputError(f"seconds per model must be above 0 and at most {MAX_SECONDS:.0f}; got {self.seconds}")
        if not 1 <= self.steps <= MAX_STEPS:
            raise InputError(f"steps per model must be between 1 and {MAX_STEPS:,}; got {self.steps}")
        if not 0 <= self.clip_seconds <= MAX_SECONDS:
            raise InputError(f"clipping seconds must be between 0 and {MAX_SECONDS:.0f}; got {self.clip_seconds}")
        self.recipes = {**{a: r.to_dict() for a, r in RECIPES[self.kind].items()},
                        **{a: dict(r) for a, r in (self.recipes or {}).items()}}
        self.spec = ModelSpec.from_dict(self.spec).to_dict()
        for arch, r in self.recipes.items():
            if arch not in ARCHS or set(r) != {"lr", "warmup_frac"} or not (0 < r["lr"] <= 1
                                                                           and 0 <= r["warmup_frac"] < 1):
                raise InputError(f"{arch}'s recipe needs 0 < lr <= 1 and 0 <= warmup_frac < 1; got {r}")

    @property
    def seed(self) -> int:
        """The first seed: the representative run (gradient norms, the saved Transformer, clipping)."""
        return self.seeds[0]

    def task(self) -> Task:
        return make_task(self.kind, max(self.distances))

    def command_line(self) -> str:
        """The `seqcore memory-lab` command that runs this race."""
        return shlex.join(["seqcore", "memory-lab", "--task", self.kind,
                           "--distances", ",".join(map(str, self.distances)),
                           "--budgets", ",".join(self.budgets), "--steps", str(self.steps),
                           "--seconds", f"{self.seconds:g}", "--seeds", ",".join(map(str, self.seeds)),
                           "--models", ",".join(self.archs), "--clip-seconds", f"{self.clip_seconds:g}"])

    def to_dict(self) -> dict:
        out = asdict(self)
        out.pop("command")
        return out


Config = LabConfig


def tiny_config() -> LabConfig:
    """A few seconds on a CPU: every contender, both budgets and the clipping experiment, on 256 sequences."""
    return LabConfig(distances=(2, 6), steps=8, seconds=0.3, n_train=256, n_val=64, n_eval=40, clip_seconds=0.4)


def default_distances(longest: int) -> list[int]:
    """The page's held-out distances when none are typed: EVAL_POINTS below `longest`, and `longest`."""
    return [d for d in EVAL_POINTS if d < longest] + [longest]


def page_config(longest: int = 50, budgets=("steps",), steps: int = 500, seconds: float = 20, seed: int = 0,
                archs=ARCHS, extra: str = "", clip: bool = True, kind: str = "recall") -> LabConfig:
    """The page's race: one task and seed, the chosen budgets (`steps` steps, `seconds` seconds per model), trained
    up to `longest`, tested at the distances typed in `extra` (or the defaults) and at `longest`; clip: rerun the
    clipping experiment (PAGE_CLIP_SECONDS). The defaults are the page widgets' (its Retrain passes clip=False, as
    the checkbox does)."""
    if not archs:
        raise InputError("choose at least one model to train")
    if not budgets:
        raise InputError("choose at least one race: equal steps, equal wall time or both")
    distances = parse_distances(extra, max_distance=longest) if extra.strip() else default_distances(longest)
    return LabConfig(kind=kind, distances=tuple(sorted(set(distances) | {longest})),
                     budgets=tuple(b for b in BUDGETS if b in budgets), steps=int(steps), seconds=float(seconds),
                     seeds=(int(seed),), archs=tuple(archs), clip_seconds=PAGE_CLIP_SECONDS if clip else 0.0,
                     wall_limit=PAGE_WALL_LIMIT)


@dataclass
class MemoryLab:
    """The task's "model": the task, the trained contenders and what was measured.

    models: arch -> model, forward(x (B, T)) -> (B, T, n_values), from the race's first run (first budget,
    first seed); a loaded checkpoint holds the Transformer only.
    results: the race's JSON-able measurements (what the page draws, the CLI prints); None after load.
    eval_seed: the held-out sequences' seed (the models' training seed + 10,000).
    """

    task: Task
    models: dict[str, nn.Module]
    distances: tuple[int, ...]
    results: dict | None = None
    name: str = ""
    eval_seed: int = 10_000


def _seeded(arch: str, task: Task, seed: int, spec: dict | None = None) -> nn.Module:
    torch.manual_seed(seed)  # each contender starts from the same seed, whatever the order of the race
    return build_model(arch, task, ModelSpec.from_dict(spec))


def build(cfg: LabConfig) -> MemoryLab:
    """The untrained contenders (first seed)."""
    task = cfg.task()
    return MemoryLab(task, {a: _seeded(a, task, cfg.seed, cfg.spec) for a in cfg.archs}, cfg.distances,
                     eval_seed=cfg.seed + 10_000)


@dataclass
class LabProgress(Progress):
    """A training Progress tagged with the model (and the race: budget, seed) it belongs to; step counts across
    the whole run."""

    model: str = ""
    budget: str = ""
    seed: int = 0


ProgressFn = Callable[[object], None]


class _Relay:
    """Forwards fit()'s Progress as LabProgress: one step count and one clock for the whole race."""

    def __init__(self, on_progress: ProgressFn | None, total_steps: int):
        self.on_progress, self.total, self.offset, self.start = on_progress, total_steps, 0, time.perf_counter()

    def __call__(self, label: str, records: list[Progress], steps: int, **tags) -> Callable[[Progress], None]:
        """on_progress for the next run (`steps` planned), its steps numbered after the runs before it."""
        offset, self.offset = self.offset, self.offset + steps

        def report(p: Progress) -> None:
            records.append(p)
            if self.on_progress is not None:
                self.on_progress(LabProgress(**{**asdict(p), "step": p.step + offset, "total_steps": self.total,
                                                "elapsed": time.perf_counter() - self.start}, model=label, **tags))

        return report


def _clock(device: torch.device) -> float:
    """This process's CPU time on a CPU device (with one thread, the wall time of an idle machine; other programs
    on a shared machine do not add to it), wall time after a sync on an accelerator."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        return time.perf_counter()
    return time.process_time()


def steps_per_second(model: nn.Module, data: TensorDataset, batch_size: int, device: torch.device,
                     steps: int = 10) -> float:
    """Optimiser steps per second (by _clock), timed on a throwaway copy, so the LR schedule can span the budget."""
    probe = copy.deepcopy(model).to(device)
    opt = torch.optim.AdamW(probe.parameters(), lr=1e-4)
    x, y = data.tensors[0][:batch_size].to(device), data.tensors[1][:batch_size].to(device)
    for i in range(steps + 2):
        if i == 2:
            start = _clock(device)  # the first steps pay one-off allocation costs
        loss = recall_loss(probe, (x, y))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return steps / max(1e-6, _clock(device) - start)


def train_one(arch: str, task: Task, cfg: LabConfig, data: tuple[TensorDataset, TensorDataset],
              planned: int, *, budget: str = "steps", seed: int | None = None, track: _Relay | None = None,
              stop: threading.Event | None = None, device: torch.device | None = None) -> tuple[nn.Module, dict]:
    """Train one contender with its recipe for `planned` steps (and at most cfg.wall_limit seconds of wall time; a
    run cut by it says stopped: time_budget); returns (model, JSON-able result)."""
    seed = cfg.seed if seed is None else seed
    model = _seeded(arch, task, seed, cfg.spec)
    recipe = cfg.recipes[arch]
    records: list[Progress] = []
    steps_per_epoch = math.ceil(len(data[0]) / cfg.batch_size)
    tc = TrainConfig(epochs=planned // steps_per_epoch + 1, max_steps=planned,
                     time_budget_s=cfg.wall_limit,
                     batch_size=cfg.batch_size, lr=recipe["lr"], warmup_frac=recipe["warmup_frac"],
                     grad_clip=cfg.grad_clip, patience=None, eval_every=max(10, planned // 40), seed=seed)
    report = track(arch, records, planned, budget=budget, seed=seed) if track is not None else records.append
    clock = _clock(device or pick_device())
    result = fit(model, recall_loss, data[0], data[1], tc, on_progress=report, stop=stop, device=device)
    clock = _clock(device or pick_device()) - clock
    acc = accuracy_by_distance(model, task, list(cfg.distances), n=cfg.n_eval, seed=seed + 10_000)
    out = {
        "arch": arch,
        "params": sum(p.numel() for p in model.parameters()),
        "config": model.config.to_dict(),
        "recipe": recipe,
        "train": {**result.to_dict(), "seconds": round(result.seconds, 2), "clock_seconds": round(clock, 2),
                  "planned_steps": planned},
        "history": history(records),
        "accuracy": acc,
        "below_90": first_below(list(cfg.distances), acc),
    }
    return model, out


def train(cfg: LabConfig, *, on_progress: ProgressFn | None = None, stop: threading.Event | None = None,
          device: torch.device | None = None) -> tuple[MemoryLab, dict]:
    """Race every contender once per budget and seed, measure, and run the clipping experiment.

    Returns (lab, card): lab.results is JSON-able (results["runs"]: one per budget and seed; results["views"]:
    mean, spread and range over the seeds per budget); lab.models the first run's contenders, whose gradient
    norms are measured; the card is that run's Transformer (what save keeps). In the wall-time race each
    model's step budget is its measured speed x cfg.seconds (so the cosine schedule ends on time), and the
    limit of cfg.seconds is enforced as well.
    """
    device = device or pick_device()
    task = cfg.task()
    started = time.perf_counter()
    data = {seed: datasets(task, cfg.n_train, cfg.n_val, seed) for seed in cfg.seeds}
    untrained = build(cfg).models
    speed = {}
    if "seconds" in cfg.budgets:
        speed = {a: steps_per_second(m, data[cfg.seed][0], cfg.batch_size, device) for a, m in untrained.items()}
    plans = {"steps": {a: cfg.steps for a in cfg.archs},
             "seconds": {a: max(10, int(v * cfg.seconds)) for a, v in speed.items()}}
    clip_steps = 0
    if cfg.clip_seconds > 0:
        clip_speed = steps_per_second(clip_start(task, cfg), data[cfg.seed][0], cfg.batch_size, device)
        clip_steps = max(10, int(clip_speed * cfg.clip_seconds / 2))
    total = sum(sum(plans[b].values()) for b in cfg.budgets) * len(cfg.seeds) + 2 * clip_steps
    relay = _Relay(on_progress, total)
    stopped = lambda: stop is not None and stop.is_set()  # noqa: E731
    runs, first, grad_norms = [], {}, {}
    for budget in cfg.budgets:
        for seed in cfg.seeds:
            models = {}
            for arch in cfg.archs:
                if stopped():
                    break
                init = grad_profile(_seeded(arch, task, seed, cfg.spec), task, cfg.seed + 3_000) if not runs else None
                model, models[arch] = train_one(arch, task, cfg, data[seed], plans[budget][arch], budget=budget,
                                                seed=seed, track=relay, stop=stop, device=device)
                if not runs:  # the representative run: gradient norms before and after training
                    first[arch] = model
                    grad_norms[arch] = {"distance": task.max_distance, "init": init,
                                        "trained": grad_profile(model, task, cfg.seed + 3_000)}
            if models:
                runs.append({"budget": budget, "seed": seed, "models": models})
    clipping = None
    if clip_steps and not stopped():
        clipping = clipping_experiment(task, cfg, clip_steps, track=relay, stop=stop, device=device)
    results = {
        "task": TASK,
        "kind": cfg.kind,
        "command": cfg.command or cfg.command_line(),
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "device": device_name(device),
        "budgets": {b: {"steps": cfg.steps} if b == "steps" else {"seconds": cfg.seconds} for b in cfg.budgets},
        "seeds": list(cfg.seeds),
        "total_seconds": round(time.perf_counter() - started, 1),
        "stopped": stopped(),
        "config": cfg.to_dict(),
        "task_config": task.to_dict(),
        "chance": task.chance,
        "distances": list(cfg.distances),
        "runs": runs,
        "views": views(runs, list(cfg.distances)),
        "grad_norms": grad_norms,
        "clipping": clipping,
        "torch": torch.__version__,
    }
    lab = MemoryLab(task, first, cfg.distances, results, eval_seed=cfg.seed + 10_000)
    return lab, _card(results)


def views(runs: list[dict], distances: list[int]) -> dict:
    """Per budget and model, over the seeds: accuracy mean, standard deviation, min and max at each distance,
    mean steps, seconds (wall) and clock_seconds (_clock: CPU time on a CPU), and where the mean first falls
    below 90%."""
    out: dict[str, dict] = {}
    for run in runs:
        for arch, m in run["models"].items():
            out.setdefault(run["budget"], {}).setdefault(arch, []).append(m)
    for per_arch in out.values():
        for arch, ms in per_arch.items():
            acc = torch.tensor([m["accuracy"] for m in ms], dtype=torch.float64)  # (seeds, distances)
            mean = acc.mean(0)
            per_arch[arch] = {
                "seeds": len(ms),
                "mean": [round(float(v), 4) for v in mean],
                "std": [round(float(v), 4) for v in (acc.std(0, correction=0))],
                "min": acc.min(0).values.tolist(), "max": acc.max(0).values.tolist(),
                "steps": round(sum(m["train"]["steps"] for m in ms) / len(ms)),
                "seconds": round(sum(m["train"]["seconds"] for m in ms) / len(ms), 1),
                "clock_seconds": round(sum(m["train"].get("clock_seconds", 0) for m in ms) / len(ms), 1),
                "params": ms[0]["params"],
                "recipe": ms[0]["recipe"],
                "below_90": first_below(distances, mean.tolist()),
            }
    return out


def first_run(results: dict, budget: str | None = None) -> dict:
    """The models of the race's first run (of `budget`, when given): {} when none trained."""
    for run in results.get("runs", []):
        if budget is None or run["budget"] == budget:
            return run["models"]
    return {}


def _card(results: dict) -> dict:
    """The model card of the race's first Transformer (config {} when the race trained none: nothing to save)."""
    m = first_run(results).get("transformer")
    metrics = {"chance": results["chance"]}
    if m:
        metrics |= {"accuracy": dict(zip(map(str, results["distances"]), m["accuracy"], strict=True)),
                    "mean_accuracy": round(sum(m["accuracy"]) / len(m["accuracy"]), 4)}
    seed = results["config"]["seeds"][0]
    return make_card(TASK, "transformer", m["config"] if m else {},
                     data={"task": results["task_config"], "train": f"synthetic {results['kind']}, seed {seed}",
                           "held_out": "another seed, per distance", "held_out_seed": seed + 10_000},
                     metrics=metrics, train_seconds=m["train"]["seconds"] if m else None, device=results["device"],
                     command=results["command"], training=results["config"])


def summary(results: dict) -> list[dict]:
    """One row per budget and model: mean held-out accuracy over the seeds at each distance, its spread
    (max - min over the seeds, the widest at any distance), mean steps and seconds (by _clock: CPU time on a
    CPU), and where the mean first falls below 90%."""
    rows = []
    for budget, per_arch in results["views"].items():
        for arch, v in per_arch.items():
            row = {"race": BUDGETS[budget], "model": arch, "params": v["params"], "steps": v["steps"],
                   "seconds": v["clock_seconds"]}
            row.update({f"d={d}": round(a, 3) for d, a in zip(results["distances"], v["mean"], strict=True)})
            row["spread"] = round(max(hi - lo for hi, lo in zip(v["max"], v["min"], strict=True)), 3)
            row["below 90% at"] = v["below_90"]
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
        task = task_from_dict(card["data"]["task"])
        distances = tuple(sorted(int(d) for d in card["metrics"]["accuracy"]))
        eval_seed = int(card["data"].get("held_out_seed", 10_000))
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise CheckpointError(f"model card {info.name}.json cannot rebuild its task ({e}); retrain or "
                              "restore it") from None
    return MemoryLab(task, {"transformer": model}, distances, name=info.name, eval_seed=eval_seed), card


def best_name() -> str:
    """The memory Transformer with the highest mean held-out accuracy over its distances."""
    return best_checkpoint(TASK, "mean_accuracy").name


def evaluate(lab: MemoryLab, *, limit: int | None = None, distances: list[int] | None = None,
             seed: int | None = None) -> dict:
    """Held-out accuracy by distance for each of the lab's models (`limit` sequences per distance, default 500;
    seed: the held-out sequences', default the lab's own, as its card was scored)."""
    distances = list(distances or lab.distances)
    n = limit or 500
    seed = lab.eval_seed if seed is None else seed
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
        x = x[-(task.seq_len - task.max_distance + min(20, task.max_distance)):]  # drop the front filler
    else:
        x = encode(task, text)
    labels = task.tokens()
    note = ("the last token is the query key; the answer is the value that followed it" if task.kind == "recall"
            else "the answer at '?' is the parity of the bits before it")
    return AttentionProbe(model=lab.models["transformer"], x=x[None], tokens=[labels[int(i)] for i in x], note=note)


def shipped_results() -> dict | None:
    """The shipped races, {kind: results} (checkpoints/RESULTS: recall and parity), None when there is none;
    CheckpointError when the file cannot be read. Read once per file version."""
    path = shipped_dir() / RESULTS
    if not path.exists():
        return None
    return _read_results(str(path), path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=2)
def _read_results(path: str, mtime_ns: int) -> dict:
    try:
        races = json.loads(Path(path).read_text())
        if not isinstance(races, dict) or not races or any(k not in KINDS or "views" not in r
                                                            for k, r in races.items()):
            raise ValueError("expected {task: results} for the tasks " + ", ".join(KINDS))
        return races
    except (OSError, ValueError) as e:
        raise CheckpointError(f"the shipped results file {RESULTS} is unreadable ({e}); rebuild it with "
                              "`seqcore train memory`") from None
