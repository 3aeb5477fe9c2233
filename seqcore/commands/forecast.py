"""`seqcore forecast`, `seqcore backtest` and `seqcore train forecast` (the shipped GOOG forecasters)."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from seqcore.errors import InputError

TRAIN_TASK = "forecast"
SHIPPED = [
    ["--model", "lstm", "--shipped"],
    ["--model", "transformer", "--shipped"],
]
EVAL_HORIZONS = (1, 5, 20)


def _series_args(p: argparse.ArgumentParser, csv_required: bool = False) -> None:
    src = p.add_mutually_exclusive_group(required=csv_required)
    src.add_argument("--csv", type=Path, help="CSV with a date column and a numeric column")
    src.add_argument("--dataset", choices=["GOOG", "Seattle weather"], help="embedded data instead of a CSV")
    p.add_argument("--date-column", help="date column of the CSV (default: 'Date'/'date' or the first column)")
    p.add_argument("--column", help="value column (default: Close, else the first numeric column)")
    p.add_argument("--kind", choices=["auto", "price", "level"], default="auto",
                   help="price: log returns (needs values > 0); level: differences; auto: price if all > 0")


def _model_args(p: argparse.ArgumentParser, models, default: str) -> None:
    from seqcore.tasks.forecasting import MAX_HORIZON

    p.add_argument("--model", choices=models, default=default)
    p.add_argument("--horizon", type=int, default=20, help=f"steps ahead, 1..{MAX_HORIZON}")
    p.add_argument("--lookback", type=int, default=30)
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--season", type=int, default=0, help="seasonal_naive period in steps (e.g. 5, 365)")


def _config(args):
    from seqcore.tasks.forecasting import ForecastConfig

    return ForecastConfig(model=args.model, horizon=args.horizon, lookback=args.lookback, epochs=args.epochs,
                          hidden=args.hidden, seed=args.seed, season=args.season).check()


def _load_series(args, min_rows: int):
    from seqcore.data.prices import load_embedded, read_csv_series

    if args.csv is not None:
        if not args.csv.is_file():
            raise InputError(f"no such file: {args.csv}")
        return read_csv_series(args.csv.read_bytes(), date_column=args.date_column, column=args.column,
                               min_rows=min_rows, kind=args.kind, name=args.column)
    series = load_embedded(args.dataset or "GOOG", args.column)
    if len(series) < min_rows:
        raise InputError(f"{series.name} has {len(series)} rows; this model needs {min_rows}")
    return series


def cmd_forecast(args) -> dict:
    from seqcore.device import set_threads
    from seqcore.tasks.forecasting import forecast, make_forecaster

    set_threads()
    cfg = _config(args)
    series = _load_series(args, cfg.min_rows())
    model = make_forecaster(cfg, series.kind).fit(series.values, series_name=series.name)
    fc = forecast(model, series)
    frame = fc.to_frame()
    if args.out is not None:
        try:
            frame.assign(date=frame["date"].dt.date).to_csv(args.out, index=False)
        except OSError as e:
            raise InputError(f"cannot write {args.out}: {e.strerror}") from None
    return {"series": series.name, "model": cfg.model, "horizon": cfg.horizon,
            "last_date": str(series.dates[-1].date()), "last_value": float(series.values[-1]),
            "train_seconds": round(model.train_seconds, 2),
            "notes": series.notes, "out": str(args.out) if args.out else None,
            "forecast": [{"date": str(r.date.date()), "p10": r.p10, "p50": r.p50, "p90": r.p90}
                         for r in frame.itertuples()]}


def cmd_backtest(args) -> dict:
    from seqcore.device import set_threads
    from seqcore.tasks.forecasting import backtest

    set_threads()
    cfg = _config(args)
    series = _load_series(args, cfg.min_rows() + args.folds)
    result = backtest(series, cfg, [cfg.model], folds=args.folds, stride=args.stride)
    out = {name: {k: (round(v, 4) if isinstance(v, float) else v) for k, v in m.items()}
           for name, m in result.metrics.items()}
    # "model" is the documented key (DESIGN.md); the per-name entries keep every baseline beside it.
    return {"model": {"name": cfg.model, **out[cfg.model]}, **out,
            "n_origins": len(result.origins), "horizon": cfg.horizon, "series": series.name,
            "train_rows": result.train_rows, "first_origin": str(result.origin_dates[0].date()),
            "train_seconds": result.train_seconds, "verdict": result.verdicts()}


def cmd_train(args) -> dict:
    """Fit on all but the last --test-frac of the series; score the held-out tail; save a checkpoint."""
    from dataclasses import replace

    import torch

    from seqcore.checkpoints import save_checkpoint, shipped_dir, user_dir
    from seqcore.device import set_threads
    from seqcore.tasks.forecasting import backtest, make_forecaster, model_card

    set_threads()
    cfg = _config(args)
    series = _load_series(args, cfg.min_rows())
    train_rows = int(len(series) * (1 - args.test_frac))
    if len(series) - train_rows < max(EVAL_HORIZONS) + 10:
        raise InputError("the held-out part is too short to score; lower --test-frac or use a longer series")
    model = make_forecaster(cfg, series.kind)
    model.fit(series.values[:train_rows], series_name=series.name,
              on_progress=lambda p: print(f"step {p.step}/{p.total_steps} train {p.train_loss:.4f} "
                                          f"val {p.val_loss if p.val_loss is None else round(p.val_loss, 4)}",
                                          file=sys.stderr))
    with torch.no_grad():  # score the weights as shipped: fp16, cast back to fp32 when loaded
        for t in model.net.state_dict().values():
            if t.is_floating_point():
                t.copy_(t.half().float())
    metrics = {}
    for h in (h for h in EVAL_HORIZONS if h <= cfg.horizon):
        folds = len(series) - h - train_rows + 1
        r = backtest(series, replace(cfg, horizon=h), {cfg.model: model, "drift": None}, folds=folds)
        for name, m in r.metrics.items():
            for k in ("mase", "coverage80", "mae", "directional_accuracy"):
                key = f"h{h}_{k}" if name == cfg.model else f"h{h}_{name}_{k}"
                metrics[key] = None if m[k] is None else round(m[k], 4)
        metrics[f"h{h}_n_origins"] = folds
    name = args.name or f"forecast-{series.name.split()[0].lower()}-{cfg.model}"
    folder = shipped_dir() if args.shipped else (args.out or user_dir())
    command = shlex.join(["seqcore", "train", "forecast", *sys.argv[3:]]) if sys.argv[1:3] == ["train", "forecast"] \
        else None
    card = model_card(model, series, metrics, command=command or shlex.join(
        ["seqcore", "train", "forecast", "--model", cfg.model, *(["--shipped"] if args.shipped else [])]))
    card["data"]["test_rows"] = len(series) - train_rows
    path = save_checkpoint(model.net, card, Path(folder) / name, half=True)
    return {"checkpoint": str(path), "train_seconds": round(model.train_seconds, 2), "stopped": model.stopped,
            "metrics": metrics}


def add_train_args(p: argparse.ArgumentParser) -> None:
    from seqcore.tasks.forecasting import NEURAL

    _series_args(p)
    _model_args(p, NEURAL, "lstm")
    p.set_defaults(horizon=60)
    p.add_argument("--test-frac", type=float, default=0.2, help="held-out tail scored by a rolling backtest")
    p.add_argument("--name", help="checkpoint name (default forecast-<series>-<model>)")
    p.add_argument("--out", type=Path, help="folder for the checkpoint (default: the user checkpoint dir)")
    p.add_argument("--shipped", action="store_true", help="write into the repo's checkpoints/ (make models)")
    p.set_defaults(func=cmd_train)


def register(sub) -> None:
    from seqcore.tasks.forecasting import MODELS

    f = sub.add_parser("forecast", help="fit a forecaster on a series and forecast H steps with an 80% band")
    _series_args(f, csv_required=True)
    _model_args(f, MODELS, "lstm")
    f.add_argument("--out", type=Path, help="write date,p10,p50,p90 to this CSV")
    f.set_defaults(func=cmd_forecast)

    b = sub.add_parser("backtest", help="rolling-origin backtest of a forecaster beside the naive random walk")
    _series_args(b, csv_required=True)
    _model_args(b, MODELS, "lstm")
    b.add_argument("--folds", type=int, default=50, help="number of forecast origins at the end of the series")
    b.add_argument("--stride", type=int, default=1, help="steps between origins")
    b.set_defaults(func=cmd_backtest)
