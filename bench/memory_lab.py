"""Memory lab benchmark: recall accuracy per model and distance after an equal training time.

    python bench/memory_lab.py [--seconds 90] [--seed 0] [--distances 5,10,20,50,100] [--from FILE]

Trains a vanilla RNN, an LSTM and a Transformer for the same wall time each (seqcore.tasks.memory_lab),
then writes the `memory` section of BENCHMARKS.md: held-out accuracy at each distance beside chance, the
distance where each model first falls below 90%, and the ordering measured at the longest distance.
--from FILE tabulates a results file made by `seqcore memory-lab --out FILE` instead of training again;
otherwise the shipped default run (checkpoints/memory_lab_default.json) is tabulated below the fresh one.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._report import markdown_table, write_section  # noqa: E402


def measured_order(results: dict) -> str:
    """'LSTM (0.98) > Transformer (0.61) > RNN (0.20)' at the longest distance, ties written as '='."""
    accs = sorted(((m["accuracy"][-1], arch) for arch, m in results["models"].items()), reverse=True)
    parts = [f"{arch} ({acc:.2f})" for acc, arch in accs]
    out = parts[0]
    for (prev, _), (acc, _), part in zip(accs[:-1], accs[1:], parts[1:], strict=True):
        out += (" = " if abs(prev - acc) < 0.02 else " > ") + part
    return out


def body(results: dict) -> str:
    from seqcore.tasks.memory_lab import summary

    rows = summary(results)
    for row in rows:
        row["below 90% at"] = row["below 90% at"] if row["below 90% at"] is not None else "never"
    chance = {"model": "chance", "params": "", "steps": ""}
    chance.update({f"d={d}": round(results["chance"], 3) for d in results["distances"]})
    chance["below 90% at"] = ""
    rows.append(chance)
    task = results["task_config"]
    lines = [
        f"Recall task: {task['n_pairs']} key/value pair(s), {task['n_keys']} keys, {task['n_values']} values "
        f"(chance {results['chance']:.3f}), distractors drawn from {task['n_distractors']} noise tokens and the "
        f"values, sequences of {task['seq_len']} tokens; training distances 0..{task['max_distance']} "
        "log-uniform; accuracy on "
        f"{results['config']['n_eval']} held-out sequences per distance (another seed). "
        f"Each model trained **{results['seconds_per_model']:g} s** of wall time on {results['device']} "
        f"(results made {results['created']} by `{results['command']}`).",
        "",
        markdown_table(rows),
        "",
        f"Measured ordering at distance {results['distances'][-1]}: {measured_order(results)}. "
        "The expected ordering (Transformer >= LSTM >> RNN) is a hypothesis; this row is what was measured.",
    ]
    clip = results.get("clipping")
    if clip:
        on, off = clip["runs"]["on"], clip["runs"]["off"]
        lines += ["", f"Clipping (vanilla RNN, recurrent spectral radius {clip['spectral_radius']:g}, distance "
                  f"{clip['distance']}, {clip['steps']} steps, AdamW lr {clip['lr']:g}): largest gradient norm "
                  f"{_g(on['max_grad_norm'])} with clipping at 1.0 vs {_g(off['max_grad_norm'])} without; "
                  f"held-out accuracy {on['accuracy']:.3f} vs {off['accuracy']:.3f}."]
    return "\n".join(lines)


def _g(v: float | None) -> str:
    return "not finite" if v is None else f"{v:.3g}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=90.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--distances", default="5,10,20,50,100")
    p.add_argument("--clip-seconds", type=float, default=30.0)
    p.add_argument("--from", dest="from_file", help="tabulate this `seqcore memory-lab --out` file instead")
    args = p.parse_args()
    if args.from_file:
        results = json.loads(Path(args.from_file).read_text())
    else:
        import torch

        torch.set_num_threads(int(os.environ.get("SEQCORE_THREADS", "1")))
        from seqcore.tasks import memory_lab as lab

        command = f"python bench/memory_lab.py --seconds {args.seconds:g} --seed {args.seed} " \
                  f"--distances {args.distances} --clip-seconds {args.clip_seconds:g}"
        cfg = lab.Config(distances=tuple(lab.parse_distances(args.distances)), seconds=args.seconds,
                         seed=args.seed, clip_seconds=args.clip_seconds, command=command)
        results = lab.train(cfg)[0].results
    text = body(results)
    shipped = Path(__file__).resolve().parent.parent / "checkpoints" / "memory_lab_default.json"
    if not args.from_file and shipped.exists():  # a second, independent run beside this one: seeds differ
        text += "\n\n### The shipped default run (the page's first view)\n\n" + body(json.loads(shipped.read_text()))
    write_section("memory", "Memory lab: recall accuracy against distance after equal training time", text)
    print(text)


if __name__ == "__main__":
    main()
