"""`seqcore memory-lab`: RNN vs LSTM vs Transformer accuracy against distance, as JSON.

    seqcore memory-lab [--task recall|parity] [--distances 5,10,20,50,100] [--budgets steps,seconds]
                       [--steps N] [--seconds S] [--seeds 0,1,2] [--models ...] [--out FILE]

A fair race: each model trains with its own learning rate and warm-up (the sweep's, memory_models.RECIPES),
once per budget (equal steps: --steps each; equal wall time: --seconds each) and per seed. stdout gets a
compact summary (mean accuracy over the seeds per budget, model and distance, its range, chance level, where
each model first falls below 90%); --out writes the full results (curves, gradient norms, clipping runs) that
the memory lab page draws. --save-transformer DIR also keeps the first run's Transformer as a checkpoint
(DIR/memory-transformer) so the attention explorer can open it.

`seqcore train memory [--out DIR]` makes the shipped races: recall and parity, three seeds, both budgets, in
DIR/memory_lab_default.json (with the recall Transformer as DIR/memory-transformer).
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

from seqcore.errors import InputError

TRAIN_TASK = "memory"
# `seqcore rebuild-defaults` (make models): the shipped results file and Transformer checkpoint.
SHIPPED = [[]]
SHIPPED_TASKS = ("recall", "parity")


def _add_options(p, *, steps: int, seconds: float, seeds: str, clip_seconds: float) -> None:
    p.add_argument("--distances", default="5,10,20,50,100", help="comma-separated cue-to-query distances")
    p.add_argument("--budgets", default="steps,seconds",
                   help="races to run: steps (equal optimiser steps), seconds (equal wall time), or both")
    p.add_argument("--steps", type=int, default=steps, help=f"optimiser steps per model, equal-steps race "
                   f"(default {steps})")
    p.add_argument("--seconds", type=float, default=seconds,
                   help=f"training wall time per model, equal-wall-time race (default {seconds:g})")
    p.add_argument("--seeds", "--seed", dest="seeds", default=seeds,
                   help=f"comma-separated seeds; each race runs once per seed (default {seeds})")
    p.add_argument("--models", default="rnn,lstm,transformer", help="comma-separated subset of rnn,lstm,transformer")
    p.add_argument("--clip-seconds", type=float, default=clip_seconds,
                   help="seconds for the clipping on/off experiment (both runs together); 0 skips it")


def register(sub) -> None:
    p = sub.add_parser("memory-lab", help="recall or parity accuracy vs distance for a vanilla RNN, an LSTM and "
                       "a Transformer, at equal steps and equal wall time")
    p.add_argument("--task", default="recall", help="recall (a key's value, `distance` tokens back) or parity "
                   "(of a stream of `distance` bits)")
    _add_options(p, steps=2000, seconds=60.0, seeds="0", clip_seconds=20.0)
    p.add_argument("--out", help="write the full results JSON here")
    p.add_argument("--save-transformer", metavar="DIR", help="save the trained Transformer as DIR/memory-transformer")
    p.set_defaults(func=cmd_memory_lab)


def add_train_args(p) -> None:
    """`seqcore train memory [--out DIR]`: the shipped races (recall and parity, three seeds, both budgets), written
    as DIR/memory_lab_default.json plus the recall race's DIR/memory-transformer checkpoint (DIR defaults to the
    shipped checkpoints folder)."""
    _add_options(p, steps=2000, seconds=60.0, seeds="0,1,2", clip_seconds=30.0)
    p.add_argument("--tasks", default=",".join(SHIPPED_TASKS), help="the tasks to race, one after the other")
    p.add_argument("--out-dir", "--out", dest="out_dir", help="folder for the results and checkpoint")
    p.set_defaults(func=cmd_train_memory)


def _config(args, kind: str, command: str, clip_seconds: float):
    from seqcore.tasks import memory_lab as lab

    archs = tuple(a.strip() for a in args.models.split(",") if a.strip())
    budgets = tuple(b.strip() for b in args.budgets.split(",") if b.strip())
    try:
        seeds = tuple(int(s) for s in args.seeds.split(",") if s.strip())
    except ValueError:
        raise InputError(f"seeds must be whole numbers separated by commas, e.g. 0,1,2; got {args.seeds!r}") from None
    return lab.Config(kind=kind, distances=tuple(lab.parse_distances(args.distances)), budgets=budgets,
                      steps=args.steps, seconds=args.seconds, seeds=seeds, archs=archs, clip_seconds=clip_seconds,
                      command=command)


def cmd_train_memory(args) -> dict:
    from seqcore.checkpoints import shipped_dir
    from seqcore.tasks import memory_lab as lab

    folder = Path(args.out_dir) if args.out_dir else shipped_dir()
    if folder.exists() and not folder.is_dir():
        raise InputError(f"--out must be a folder; {folder} is a file")
    kinds = [k.strip() for k in args.tasks.split(",") if k.strip()]
    if not kinds or any(k not in lab.KINDS for k in kinds):
        raise InputError(f"--tasks must be chosen from {', '.join(lab.KINDS)}; got {args.tasks!r}")
    command = _train_command(args)
    # the recall race keeps the clipping experiment; the same for parity would repeat it
    configs = [_config(args, k, command, args.clip_seconds if i == 0 else 0.0) for i, k in enumerate(kinds)]
    folder.mkdir(parents=True, exist_ok=True)
    races, out = {}, {"out": str(folder / lab.RESULTS)}
    for cfg in configs:
        result, card = lab.train(cfg, on_progress=_print_progress)
        races[cfg.kind] = result.results
        out[cfg.kind] = _summary(result.results)
        if "checkpoint" not in out and "transformer" in result.models:
            out["checkpoint"] = str(lab.save(result, card, out=folder))
    (folder / lab.RESULTS).write_text(json.dumps(races, separators=(",", ":")))  # compact: it is in git history
    return out


def cmd_memory_lab(args) -> dict:
    from seqcore.tasks import memory_lab as lab

    if args.out:
        out = Path(args.out)
        if out.is_dir() or not out.parent.exists():
            raise InputError(f"--out must be a file in an existing folder; got {args.out}")
    cfg = _config(args, args.task, _command(args), args.clip_seconds)
    result, card = lab.train(cfg, on_progress=_print_progress)
    results = result.results
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1))
    summary = _summary(results)
    if args.save_transformer and "transformer" in result.models:
        summary["checkpoint"] = str(lab.save(result, card, out=args.save_transformer))
    if args.out:
        summary["out"] = args.out
    return summary


def _summary(results: dict) -> dict:
    """Per budget and model: mean accuracy per distance over the seeds, its min-max, steps and seconds."""
    out = {k: results[k] for k in ("task", "kind", "device", "budgets", "seeds", "chance", "distances")}
    for budget, per_arch in results["views"].items():
        out[budget] = {arch: {"accuracy": dict(zip(map(str, results["distances"]), v["mean"], strict=True)),
                              "range": [[lo, hi] for lo, hi in zip(v["min"], v["max"], strict=True)],
                              "below_90": v["below_90"], "steps": v["steps"], "seconds": v["seconds"],
                              "recipe": v["recipe"]}
                       for arch, v in per_arch.items()}
    if results["clipping"]:
        out["clipping"] = {name: {"accuracy": r["accuracy"], "max_grad_norm": r["max_grad_norm"]}
                           for name, r in results["clipping"]["runs"].items()}
    return out


def _common(args) -> list[str]:
    return ["--distances", args.distances, "--budgets", args.budgets, "--steps", str(args.steps),
            "--seconds", f"{args.seconds:g}", "--seeds", args.seeds, "--models", args.models,
            "--clip-seconds", f"{args.clip_seconds:g}"]


def _command(args) -> str:
    """The command line that reproduces this run, every default spelled out."""
    parts = ["seqcore", "memory-lab", "--task", args.task, *_common(args)]
    if args.out:
        parts += ["--out", args.out]
    if args.save_transformer:
        parts += ["--save-transformer", args.save_transformer]
    return shlex.join(parts)


def _train_command(args) -> str:
    parts = ["seqcore", "train", "memory", "--tasks", args.tasks, *_common(args)]
    if args.out_dir:
        parts += ["--out", args.out_dir]
    return shlex.join(parts)


def _print_progress(p) -> None:
    if p.val_loss is not None or p.step % 50 == 0:
        val = f" val {p.val_loss:.3f}" if p.val_loss is not None else ""
        print(f"{p.model} ({p.budget}, seed {p.seed}): step {p.step} loss {p.train_loss:.3f}{val} ({p.elapsed:.0f}s)",
              file=sys.stderr)
