"""Memory lab benchmark: the shipped fair race, and the sweep that chose each model's recipe.

    python bench/memory_lab.py [--from FILE]
    python bench/memory_lab.py --sweep [--sweep-steps 1000] [--tasks recall,parity] [--json FILE]

Default: tabulates the shipped races (checkpoints/memory_lab_default.json, made by `seqcore train memory`), or
--from FILE (that, or a `seqcore memory-lab --out` file), into the `memory` section of BENCHMARKS.md: per task,
budget (equal steps, equal wall time) and model, held-out accuracy at each distance as the mean over the seeds
with its min-max range, beside chance; where the mean first falls below 90%; steps and seconds taken.

--sweep trains every model on each task for --sweep-steps steps (seed 0) at each learning rate and warm-up of
the grid below, scores mean accuracy over the distances on validation sequences (seed 20,000: neither the
training nor the held-out test sequences), and writes the `memory-sweep` section: the grid, each model's pick
(what seqcore.tasks.memory_models.RECIPES must hold; tests/test_memory_lab_task.py checks it) and, for the
Transformer on recall, how long two and four heads sit at chance (the steps until validation loss < 1.0,
chance being ln 8 = 2.08) over three seeds.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._report import markdown_table, write_section  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "checkpoints" / "memory_lab_default.json"
LRS = (1e-3, 3e-3, 1e-2)
WARMUPS = (0.02, 0.1)
VAL_SEED = 20_000
PLATEAU_LOSS = 1.0
NAMES = {"rnn": "vanilla RNN", "lstm": "LSTM", "transformer": "Transformer"}


def _cell(v: dict, i: int) -> str:
    lo, hi = v["min"][i], v["max"][i]
    return f"{v['mean'][i]:.3f}" + (f" ({lo:.3f}–{hi:.3f})" if v["seeds"] > 1 and lo != hi else "")


def race_table(results: dict, budget: str) -> str:
    """One row per model: recipe, steps, CPU seconds, mean (min–max) per distance, and each seed's accuracy at
    the longest distance."""
    rows = []
    longest = f"d={results['distances'][-1]} by seed"
    for arch, v in results["views"][budget].items():
        row = {"model": NAMES[arch], "lr / warm-up": f"{v['recipe']['lr']:g} / {v['recipe']['warmup_frac']:g}",
               "steps": v["steps"], "CPU s": f"{v['clock_seconds']:.0f}"}
        row.update({f"d={d}": _cell(v, i) for i, d in enumerate(results["distances"])})
        row[longest] = " / ".join(f"{run['models'][arch]['accuracy'][-1]:.3f}" for run in results["runs"]
                                  if run["budget"] == budget and arch in run["models"])
        row["mean below 90% at"] = v["below_90"] if v["below_90"] is not None else "never"
        rows.append(row)
    chance = {"model": "chance", "lr / warm-up": "", "steps": "", "CPU s": ""}
    chance.update({f"d={d}": f"{results['chance']:.3f}" for d in results["distances"]})
    chance[longest] = chance["mean below 90% at"] = ""
    return markdown_table([*rows, chance])


def measured_order(results: dict, budget: str) -> str:
    """'LSTM (0.98) > Transformer (0.61) > vanilla RNN (0.20)' by mean accuracy at the longest distance; '='
    within 0.02."""
    accs = sorted(((v["mean"][-1], arch) for arch, v in results["views"][budget].items()), reverse=True)
    out = f"{NAMES[accs[0][1]]} ({accs[0][0]:.2f})"
    for (prev, _), (acc, arch) in zip(accs[:-1], accs[1:], strict=True):
        out += (" = " if abs(prev - acc) < 0.02 else " > ") + f"{NAMES[arch]} ({acc:.2f})"
    return out


def race_body(results: dict) -> str:
    from seqcore.tasks.memory_data import task_from_dict

    task = task_from_dict(results["task_config"])
    cfg = results["config"]
    seeds = ", ".join(map(str, results["seeds"]))
    lines = [f"Task: {task.describe()}; training distances 0..{task.max_distance} log-uniform; accuracy on "
             f"{cfg['n_eval']} held-out sequences per distance and seed (another generator seed). Seeds {seeds}: "
             "each cell is the mean over the seeds, (min–max) beside it when they differ. CPU s: the mean CPU time "
             "of a model's training (one thread: an idle machine's wall time; validation included). Made "
             f"{results['created']} on {results['device']} by `{results['command']}`."]
    for budget in results["views"]:
        if budget == "steps":
            head = f"**Equal steps**: {results['budgets']['steps']['steps']:,} optimiser steps per model (batch " \
                   f"{cfg['batch_size']})."
        else:
            head = (f"**Equal wall time**: {results['budgets']['seconds']['seconds']:g} s per model: its measured "
                    "speed (CPU time per training step) x the seconds gives its steps, its cosine schedule spanning "
                    "them.")
        lines += ["", head, "", race_table(results, budget), "",
                  f"Ordering at distance {results['distances'][-1]}: {measured_order(results, budget)}."]
    clip = results.get("clipping")
    if clip:
        on, off = clip["runs"]["on"], clip["runs"]["off"]
        lines += ["", f"Clipping (vanilla RNN, recurrent spectral radius {clip['spectral_radius']:g}, distance "
                  f"{clip['distance']}, {clip['steps']} steps, AdamW lr {clip['lr']:g}, seed {results['seeds'][0]}): "
                  f"largest gradient norm {_g(on['max_grad_norm'])} with clipping at 1.0 vs "
                  f"{_g(off['max_grad_norm'])} without; held-out accuracy {on['accuracy']:.3f} vs "
                  f"{off['accuracy']:.3f}."]
    return "\n".join(lines)


def body(races: dict) -> str:
    """All the races of a file: {kind: results} (`seqcore train memory`) or one results dict (`memory-lab`)."""
    if "views" in races:
        races = {races["kind"]: races}
    parts = []
    for kind, results in races.items():
        parts += [f"### {kind.capitalize()}", "", race_body(results), ""]
    return "\n".join(parts)


def _g(v: float | None) -> str:
    return "not finite" if v is None else f"{v:.3g}"


def sweep(tasks: list[str], steps: int) -> dict:
    """Every model x learning rate x warm-up for `steps` steps on each task, seed 0; then the Transformer's
    head count on recall over three seeds. Validation accuracy (seed VAL_SEED) decides."""
    from seqcore.tasks import memory_lab as lab

    def run(kind: str, arch: str, recipe: dict, seed: int = 0, spec: dict | None = None) -> dict:
        cfg = lab.Config(kind=kind, budgets=("steps",), steps=steps, seeds=(seed,), archs=(arch,),
                         recipes={arch: recipe}, spec=spec, clip_seconds=0, n_eval=300,
                         command=f"python bench/memory_lab.py --sweep --sweep-steps {steps}")
        trained, _ = lab.train(cfg)
        val = lab.evaluate(trained, limit=300, seed=VAL_SEED)
        m = trained.results["runs"][0]["models"][arch]
        plateau = next((h["step"] for h in m["history"] if h["val_loss"] is not None
                        and h["val_loss"] < PLATEAU_LOSS), None)
        row = {"task": kind, "model": arch, **recipe, "seed": seed, "n_heads": cfg.spec["n_heads"],
               "val_mean": val["mean_accuracy"][arch],
               "val": val["accuracy"][arch], "steps": m["train"]["steps"], "seconds": m["train"]["seconds"],
               "val_loss_below_1_at": plateau}
        print(json.dumps(row), file=sys.stderr)
        return row

    grid = [run(kind, arch, {"lr": lr, "warmup_frac": wu})
            for kind in tasks for arch in lab.ARCHS for lr in LRS for wu in WARMUPS]
    picks = {}
    for kind in tasks:
        for arch in lab.ARCHS:
            rows = [r for r in grid if r["task"] == kind and r["model"] == arch]
            best = max(rows, key=lambda r: (r["val_mean"], -r["lr"]))  # ties: the smaller learning rate
            picks.setdefault(kind, {})[arch] = {"lr": best["lr"], "warmup_frac": best["warmup_frac"]}
    heads = []
    if "recall" in tasks:
        recipe = picks["recall"]["transformer"]
        heads = [run("recall", "transformer", recipe, seed, {"n_heads": h}) for h in (2, 4) for seed in (0, 1, 2)]
    return {"steps": steps, "grid": grid, "picks": picks, "heads": heads}


def sweep_body(result: dict) -> str:
    steps = result["steps"]
    lines = [f"Each model trained {steps:,} steps (seed 0, batch 64, cosine decay to a tenth after a linear "
             "warm-up) at each learning rate and warm-up fraction; the score is the mean accuracy over distances "
             f"5, 10, 20, 50 and 100 on 300 validation sequences per distance (seed {VAL_SEED:,}), which the race's "
             "held-out figures never use. The pick (bold) is each model's best; seqcore.tasks.memory_models.RECIPES "
             "holds it and the race trains with it."]
    for kind, picks in result["picks"].items():
        rows = []
        for arch in picks:
            row = {"model": NAMES[arch]}
            for r in (r for r in result["grid"] if r["task"] == kind and r["model"] == arch):
                cell = f"{r['val_mean']:.3f}"
                chosen = r["lr"] == picks[arch]["lr"] and r["warmup_frac"] == picks[arch]["warmup_frac"]
                row[f"lr {r['lr']:g}, warm-up {r['warmup_frac']:g}"] = f"**{cell}**" if chosen else cell
            rows.append(row)
        lines += ["", f"**{kind.capitalize()}**", "", markdown_table(rows)]
    if result["heads"]:
        rows = []
        for h in (2, 4):
            rs = [r for r in result["heads"] if r["n_heads"] == h]
            row = {"Transformer": f"{h} heads of {32 // h}"}
            for r in rs:
                below = r["val_loss_below_1_at"]
                row[f"seed {r['seed']}"] = f"{below if below is not None else f'> {steps}'} steps, " \
                                           f"{r['val_mean']:.3f}"
            rows.append(row)
        lines += ["", f"**Why four heads** (recall, the Transformer's pick, {steps:,} steps): steps until the "
                  f"validation loss first falls below {PLATEAU_LOSS:g} (it starts at chance, ln 8 = 2.08), and "
                  "the validation accuracy at the end.", "", markdown_table(rows)]
    picks = "; ".join(f"{kind}: " + ", ".join(f"{NAMES[a]} lr {p['lr']:g} warm-up {p['warmup_frac']:g}"
                                              for a, p in ps.items()) for kind, ps in result["picks"].items())
    lines += ["", f"Picks: {picks}."]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--from", dest="from_file", default=str(SHIPPED),
                   help="the results to tabulate (default: the shipped races)")
    p.add_argument("--sweep", action="store_true", help="run the learning-rate / warm-up sweep instead")
    p.add_argument("--sweep-steps", type=int, default=1000)
    p.add_argument("--tasks", default="recall,parity")
    p.add_argument("--json", help="--sweep: also write its rows here")
    args = p.parse_args()
    if args.sweep:
        import torch

        torch.set_num_threads(int(os.environ.get("SEQCORE_THREADS", "1")))
        result = sweep([t.strip() for t in args.tasks.split(",") if t.strip()], args.sweep_steps)
        if args.json:
            Path(args.json).write_text(json.dumps(result, indent=1))
        text = sweep_body(result)
        write_section("memory-sweep", "Memory lab: learning-rate and warm-up sweep", text)
    else:
        text = body(json.loads(Path(args.from_file).read_text()))
        write_section("memory", "Memory lab: a fair race, recall and parity against distance", text)
    print(text)


if __name__ == "__main__":
    main()
