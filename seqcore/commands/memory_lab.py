"""`seqcore memory-lab`: RNN vs LSTM vs Transformer recall accuracy against distance, as JSON.

    seqcore memory-lab [--distances 5,10,20,50,100] [--seconds S] [--seed S] [--out FILE]

stdout gets a compact summary (accuracy per model and distance, chance level, where each model
first falls below 90%); --out writes the full results (curves, gradient norms, clipping runs) that
the memory lab page draws. --save-transformer DIR also keeps the trained Transformer as a checkpoint
(DIR/memory-transformer) so the attention explorer can open it.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

from seqcore.errors import InputError

TRAIN_TASK = "memory"
# `seqcore rebuild-defaults` (make models): the shipped results file and Transformer checkpoint.
SHIPPED = [["--seconds", "90", "--clip-seconds", "30"]]


def _add_options(p, *, seconds: float, clip_seconds: float) -> None:
    p.add_argument("--distances", default="5,10,20,50,100", help="comma-separated cue-to-query distances")
    p.add_argument("--seconds", type=float, default=seconds, help=f"training wall time per model (default {seconds:g})")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--models", default="rnn,lstm,transformer", help="comma-separated subset of rnn,lstm,transformer")
    p.add_argument("--clip-seconds", type=float, default=clip_seconds,
                   help="seconds for the clipping on/off experiment (both runs together); 0 skips it")


def register(sub) -> None:
    p = sub.add_parser("memory-lab", help="recall accuracy vs distance for a vanilla RNN, an LSTM and a Transformer")
    _add_options(p, seconds=60.0, clip_seconds=20.0)
    p.add_argument("--out", help="write the full results JSON here")
    p.add_argument("--save-transformer", metavar="DIR", help="save the trained Transformer as DIR/memory-transformer")
    p.set_defaults(func=cmd_memory_lab)


def add_train_args(p) -> None:
    """`seqcore train memory [--out DIR]`: the memory lab's default run, written as DIR/memory_lab_default.json
    plus the DIR/memory-transformer checkpoint (DIR defaults to the shipped checkpoints folder)."""
    _add_options(p, seconds=90.0, clip_seconds=30.0)
    p.add_argument("--out-dir", "--out", dest="out_dir", help="folder for the results and checkpoint")
    p.set_defaults(func=cmd_train_memory)


def cmd_train_memory(args) -> dict:
    from seqcore.checkpoints import shipped_dir
    from seqcore.tasks.memory_lab import RESULTS

    folder = Path(args.out_dir) if args.out_dir else shipped_dir()
    if folder.exists() and not folder.is_dir():
        raise InputError(f"--out must be a folder; {folder} is a file")
    folder.mkdir(parents=True, exist_ok=True)
    args.out, args.save_transformer = str(folder / RESULTS), str(folder)
    return cmd_memory_lab(args)


def cmd_memory_lab(args) -> dict:
    from seqcore.tasks import memory_lab as lab

    archs = tuple(a.strip() for a in args.models.split(",") if a.strip())
    if args.out:
        out = Path(args.out)
        if out.is_dir() or not out.parent.exists():
            raise InputError(f"--out must be a file in an existing folder; got {args.out}")
    cfg = lab.Config(distances=tuple(lab.parse_distances(args.distances)), seconds=args.seconds, seed=args.seed,
                     archs=archs, clip_seconds=args.clip_seconds, command=_command(args))
    result, card = lab.train(cfg, on_progress=_print_progress)
    results = result.results
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1))
    summary = {k: results[k] for k in ("task", "device", "seconds_per_model", "chance", "distances")}
    summary["accuracy"] = {arch: dict(zip(map(str, results["distances"]), m["accuracy"], strict=True))
                           for arch, m in results["models"].items()}
    summary["below_90"] = {arch: m["below_90"] for arch, m in results["models"].items()}
    summary["train_steps"] = {arch: m["train"]["steps"] for arch, m in results["models"].items()}
    if results["clipping"]:
        summary["clipping"] = {name: {"accuracy": r["accuracy"], "max_grad_norm": r["max_grad_norm"]}
                               for name, r in results["clipping"]["runs"].items()}
    if args.save_transformer and "transformer" in result.models:
        summary["checkpoint"] = str(lab.save(result, card, out=args.save_transformer))
    if args.out:
        summary["out"] = args.out
    return summary


def _command(args) -> str:
    """The command line that reproduces this run, every default spelled out."""
    parts = ["seqcore", "memory-lab", "--distances", args.distances, "--seconds", f"{args.seconds:g}",
             "--seed", str(args.seed), "--models", args.models, "--clip-seconds", f"{args.clip_seconds:g}"]
    if args.out:
        parts += ["--out", args.out]
    if args.save_transformer:
        parts += ["--save-transformer", args.save_transformer]
    return shlex.join(parts)


def _print_progress(p) -> None:
    if p.val_loss is not None or p.step % 50 == 0:
        val = f" val {p.val_loss:.3f}" if p.val_loss is not None else ""
        print(f"{p.model}: step {p.step} loss {p.train_loss:.3f}{val} ({p.elapsed:.0f}s)", file=sys.stderr)
