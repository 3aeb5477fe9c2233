"""Forecasting benchmark: GOOG, horizons 1/5/20, rolling-origin over the held-out last 20% of rows.

Every model learns from the first 80% of GOOG closes (2004-08-19..2011-06-14, 1,718 rows) and is then
fixed; it forecasts from every origin in the held-out part (>= 411 origins). LSTM and Transformer are
trained once per horizon and seed (seconds on one CPU core); the shipped checkpoints (one 60-step head)
are scored too. Writes the `forecast` section of BENCHMARKS.md.

    SEQCORE_THREADS=1 python bench/forecast.py [--seeds 3]
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._report import markdown_table, write_section  # noqa: E402
from seqcore.data.prices import load_goog  # noqa: E402
from seqcore.errors import CheckpointError  # noqa: E402
from seqcore.tasks import forecasting as fc  # noqa: E402

HORIZONS = (1, 5, 20)
TEST_FRAC = 0.2


def run(seeds: int) -> tuple[list[dict], str]:
    series = load_goog()
    train_rows = int(len(series) * (1 - TEST_FRAC))
    rows, n_origins = [], {}
    shipped = {}
    for name in fc.NEURAL:
        with contextlib.suppress(CheckpointError):  # a missing checkpoint only drops its row
            shipped[name] = fc.load(fc.default_name(name))[0]
    for h in HORIZONS:
        cfg = fc.ForecastTaskConfig(horizon=h)
        folds = len(series) - h - train_rows + 1
        per_model: dict[str, list[dict]] = {}
        for seed in range(seeds):
            scfg = replace(cfg, seed=seed)
            models = ["drift", "linear", *fc.NEURAL] if seed == 0 else list(fc.NEURAL)
            r = fc.backtest(series, scfg, models, folds=folds)
            assert r.train_rows == train_rows
            for name, m in r.metrics.items():
                if seed and name not in fc.NEURAL:
                    continue
                per_model.setdefault(name, []).append({**m, "train_s": r.train_seconds[name]})
            print(f"h={h} seed={seed}: " + ", ".join(f"{k} {v['mase']:.3f}" for k, v in r.metrics.items()),
                  file=sys.stderr)
        r = fc.backtest(series, cfg, {f"{n}": m for n, m in shipped.items()}, folds=folds)
        for name in shipped:
            per_model[f"{name} (shipped, 60-step head)"] = [{**r.metrics[name], "train_s": shipped[name].train_seconds}]
        n_origins[h] = folds
        naive = per_model["naive"][0]["mase"]
        for name, runs in per_model.items():
            mase = np.array([x["mase"] for x in runs])
            cov = np.array([x["coverage80"] for x in runs])
            da = [x["directional_accuracy"] for x in runs if x["directional_accuracy"] is not None]
            rows.append({
                "horizon": h, "model": name, "runs": len(runs),
                "MASE": f"{mase.mean():.3f}" + (f" ± {mase.std():.3f}" if len(runs) > 1 else ""),
                "vs naive": f"{(mase.mean() / naive - 1) * 100:+.1f}%",
                "coverage80": f"{cov.mean():.3f}",
                "direction": f"{np.mean(da):.3f}" if da else "n/a",
                "train s": f"{np.mean([x['train_s'] for x in runs]):.1f}",
            })
    summary = (f"GOOG daily closes from the `backtesting` wheel; every model learns from the first {train_rows} rows "
               f"(to {series.dates[train_rows - 1].date()}) and forecasts, fixed, from every held-out origin "
               f"({', '.join(f'h={h}: {n}' for h, n in n_origins.items())} origins), all steps 1..h scored. "
               f"MASE is scaled by the in-sample one-step naive MAE, so the naive row is the random walk; "
               f"'vs naive' < 0 means better. LSTM/Transformer rows are mean ± std over {seeds} seeds.")
    return rows, summary


def verdicts(rows: list[dict]) -> str:
    lines = []
    for h in HORIZONS:
        naive = next(float(r["MASE"].split()[0]) for r in rows if r["horizon"] == h and r["model"] == "naive")
        for r in rows:
            if r["horizon"] != h or r["model"] == "naive":
                continue
            mase, cov = float(r["MASE"].split()[0]), float(r["coverage80"])
            ok_cov = 0.75 <= cov <= 0.85
            word = fc.compare_to_naive(mase, naive).replace("not", "NOT")
            lines.append(f"- h={h}, {r['model']}: {word} the random walk (MASE {mase:.3f} vs {naive:.3f}); "
                         f"80% coverage {cov:.3f} {'within' if ok_cov else 'OUTSIDE'} 0.75-0.85.")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows, summary = run(args.seeds)
    body = f"{summary}\n\n{markdown_table(rows)}\n\n**Verdicts** (generated from the table):\n\n{verdicts(rows)}\n"
    write_section("forecast", "Forecasting (GOOG, rolling origin)", body)
    print(body)


if __name__ == "__main__":
    main()
