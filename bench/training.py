"""Training throughput of each task's default model: samples (and tokens) per second through seqcore.train.fit,
with each task's own training entry point, real data and real loss.

How: each task's training function is called as the page / CLI calls it, with `fit` swapped (in that task module
only) for a wrapper that runs the real fit for a fixed number of steps with no validation, times the steps after a
short warm-up, and then stops the task function (so no evaluation, calibration or saving follows). On CUDA, fit
trains under bf16 autocast (AMP) and the rows say so; on CPU it is fp32. The forecaster always trains on CPU (its
task code pins it there).

Run: python bench/training.py [--quick] [--steps 20] [--repeats 3]   (writes the `training` section)
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("SEQCORE_HOME", tempfile.mkdtemp(prefix="bench-training-home-"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from bench._report import markdown_table, write_section  # noqa: E402
from seqcore import train as train_mod  # noqa: E402
from seqcore.device import autocast_dtype, device_name, pick_device, set_threads  # noqa: E402

REAL_FIT = train_mod.fit


class _Done(Exception):
    """Raised by the wrapper to stop a task's training function once the timed steps are over."""


def _first_tensor(batch):
    if isinstance(batch, torch.Tensor):
        return batch
    if isinstance(batch, (list, tuple)):
        for b in batch:
            t = _first_tensor(b)
            if t is not None:
                return t
    return None


def _count(batch) -> tuple[int, int | None]:
    """(samples, tokens or None) of one batch; a pre-made batch under a DataLoader of batch 1 is unwrapped."""
    x = _first_tensor(batch)
    if x is None:
        return 1, None
    if x.dim() >= 3 and x.shape[0] == 1 and not x.is_floating_point():
        x = x[0]
    samples = int(x.shape[0])
    tokens = int(x.shape[0] * x.shape[1]) if (x.dim() == 2 and not x.is_floating_point()) else None
    return samples, tokens


def measure(module, call, warmup: int, steps: int) -> dict:
    """Run call() with module.fit replaced; returns samples/s, tokens/s, s/step over the timed steps."""
    rec = {"t": [], "samples": 0, "tokens": 0, "has_tokens": True, "device": None}

    def fake_fit(model, loss_fn, train_data, val_data=None, config=None, **kw):
        cfg = dataclasses.replace(config or train_mod.TrainConfig(), max_steps=warmup + steps, epochs=10_000,
                                  time_budget_s=None, patience=None, eval_every=10**9)
        rec["device"] = kw.get("device") or pick_device()

        def timed_loss(m, batch):
            n = len(rec["t"])
            rec["t"].append(time.perf_counter())
            if n >= warmup:
                s, t = _count(batch)
                rec["samples"] += s
                if t is None:
                    rec["has_tokens"] = False
                else:
                    rec["tokens"] += t
            return loss_fn(m, batch)

        REAL_FIT(model, timed_loss, train_data, None, cfg, **kw)
        if rec["device"].type == "cuda":
            torch.cuda.synchronize()
        rec["end"] = time.perf_counter()
        raise _Done

    old = module.fit
    module.fit = fake_fit
    try:
        call()
    except _Done:
        pass
    finally:
        module.fit = old
    seconds = rec["end"] - rec["t"][warmup]
    return {"samples/s": rec["samples"] / seconds, "tokens/s": rec["tokens"] / seconds if rec["has_tokens"] else None,
            "s/step": seconds / steps, "device": rec["device"]}


def cases(quick: bool) -> list[tuple[str, str, object, object]]:
    """(task, model, module whose fit is swapped, zero-argument call)"""
    from seqcore.data.prices import load_goog
    from seqcore.tasks import attention, captioning, forecasting, memory_lab, music, sentiment

    out = []
    goog = load_goog()
    for kind in ("lstm", "transformer"):
        cfg = forecasting.ForecastTaskConfig(model=kind)
        out.append(("forecast", f"{kind} (ForecastTaskConfig defaults: lookback 30, horizon 20, hidden 32, batch 64)",
                    forecasting, lambda cfg=cfg: forecasting.build(cfg, goog.kind).fit(goog.values)))
    for kind in music.KINDS:
        card = music.load(kind)[1]
        hp, size, seq = card["hyperparameters"], card["config"]["size"], card["config"]["seq_len"]
        cfg = music.Config(kind=kind, size=size, seq_len=seq, batch_size=hp["batch_size"], lr=hp["lr"])
        out.append(("music", f"{kind} {size} (shipped config: seq {seq}, batch {hp['batch_size']})", music,
                    lambda cfg=cfg: music.train(cfg)))
    for kind in ("lstm", "transformer"):
        label = f"{kind} small (train defaults: IMDB + MR, batch 64, {sentiment.MAX_TOKENS} tokens max)"
        out.append(("sentiment", label, sentiment,
                    lambda kind=kind: sentiment.train(sentiment.Config(model=kind, vader=False))))
    for dec in captioning.DECODERS:
        cfg = captioning.Config(decoder=dec, n_train=500 if quick else 2000, eval_n=0)
        out.append(("captioning", f"{dec} decoder (shapes, batch {cfg.batch_size}, {cfg.n_train} scenes)",
                    captioning, lambda cfg=cfg: captioning.train(cfg)))
    out.append(("attention", "char Transformer (attention explorer default, batch 32)", attention,
                lambda: attention.train(attention.Config(steps=1500))))
    lab = memory_lab.LabConfig(n_train=2000 if quick else 20_000)
    task = lab.task()
    data = memory_lab.datasets(task, lab.n_train, lab.n_val, lab.seed)
    for arch in lab.archs:
        out.append(("memory lab", f"{arch} (recall task, {task.max_distance + 4} tokens, batch {lab.batch_size})",
                    memory_lab, lambda arch=arch: memory_lab.train_one(arch, task, lab, data, 10**6)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="5 steps, one run (smoke)")
    ap.add_argument("--steps", type=int, default=20, help="timed steps per run (after 3 warm-up steps)")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    steps, repeats, warmup = (5, 1, 2) if args.quick else (args.steps, args.repeats, 3)
    set_threads()
    rows = []
    for task, model, module, call in cases(args.quick):
        runs = [measure(module, call, warmup, steps) for _ in range(repeats)]
        dev = runs[0]["device"]
        sps = statistics.median(r["samples/s"] for r in runs)
        tps = statistics.median(r["tokens/s"] for r in runs) if runs[0]["tokens/s"] is not None else None
        amp = autocast_dtype(dev)
        row = {"task": task, "model": model, "device": device_name(dev),
               "precision": f"AMP {str(amp).removeprefix('torch.')} autocast" if amp else "fp32",
               "runs x steps": f"{repeats} x {steps}", "samples/s": round(sps, 1),
               "tokens/s": round(tps) if tps is not None else "-",
               "ms/step": round(1000 * statistics.median(r["s/step"] for r in runs), 1)}
        print(row, file=sys.stderr, flush=True)
        rows.append(row)
    load = os.getloadavg()
    body = (
        "Each task's own training function (as the page and `seqcore train` call it) with `seqcore.train.fit` "
        "swapped for a wrapper that runs the real fit (fused AdamW, clipping, schedule, autocast) for "
        f"{warmup} warm-up + {steps} timed steps, no validation; medians over {repeats} runs. Samples are the "
        "batch's examples "
        "(sequences, reviews, images, windows); tokens = batch x padded length for token-id inputs (music chars, "
        "review tokens incl. padding, recall tokens), '-' where the input is not token ids. On a CUDA machine the "
        "same script reports bf16 AMP rows (fit's autocast); the forecaster is pinned to CPU by its task code."
        + ("" if torch.cuda.is_available() else " This machine has no CUDA device, so there are no AMP rows here; "
           "tests/test_cuda.py exercises the CUDA path where one exists.")
        + "\n\n"
        + markdown_table(rows, ".1f")
        + f"\n\nLoad average at the end (1/5/15 min): {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} on "
        f"{os.cpu_count()} cores shared with other jobs; torch used {torch.get_num_threads()} thread(s)."
    )
    write_section("training", "Training throughput (default models, short fixed runs)", body)
    print(body)


if __name__ == "__main__":
    main()
