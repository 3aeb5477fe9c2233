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


def _series_args(p: argparse.ArgumentParser, csv_required: bool = False) -> None:
    src = p.add_mutually_exclusive_group(required=csv_required)
    src.add_argument("--csv", type=Path, help="CSV with a date column and a numeric column")
    src.add_argument("--dataset", choices=["GOOG", "Seattle weather"], help="embedded data instead of a CSV")
    p.add_argument("--date-column", help="date column of the CSV (default: 'Date'/'date' or the first column)")
    p.add_argument("--column", help="value column (default: Close, else the first numeric column)")
    p.add_argument("--kind", choices=["auto", "price", "level"], default="auto",
                   help="price: log returns (needs values > 0); level: differences; auto: price if all > 0")


def _model_args(p: argparse.ArgumentParser, models) -> None:
    from seqcore.tasks.forecasting import MAX_HORIZON, Config

    d = Config()  # the task's defaults
    p.add_argument("--model", choices=models, default=d.model)
    p.add_argument("--horizon", type=int, default=d.horizon, help=f"steps ahead, 1..{MAX_HORIZON}")
    p.add_argument("--lookback", type=int, default=d.lookback)
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--hidden", type=int, default=d.hidden)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--season", type=int, default=d.season, help="seasonal_naive period in steps (e.g. 5, 365)")


def _config(args, **data):
    from seqcore.tasks.forecasting import Config

    return Config(model=args.model, horizon=args.horizon, lookback=args.lookback, epochs=args.epochs,
                  hidden=args.hidden, seed=args.seed, season=args.season, **data).check()


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
    from seqcore.tasks.forecasting import build, forecast

    set_threads()
    cfg = _config(args)
    series = _load_series(args, cfg.min_rows())
    model = build(cfg, series.kind).fit(series.values, series_name=series.name)
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
    from seqcore.checkpoints import shipped_dir
    from seqcore.device import set_threads
    from seqcore.tasks.forecasting import default_name, save, train

    set_threads()
    series = _load_series(args, _config(args).min_rows())
    # embedded data is named in the card (the model can be scored and probed again); a CSV's series is carried
    data = dict(series=series, dataset=None) if args.csv else dict(dataset=args.dataset or "GOOG", column=args.column)
    cfg = _config(args, test_frac=args.test_frac, **data)
    model, card = train(cfg, on_progress=lambda p: print(
        f"step {p.step}/{p.total_steps} train {p.train_loss:.4f} "
        f"val {p.val_loss if p.val_loss is None else round(p.val_loss, 4)}", file=sys.stderr))
    if sys.argv[1:3] != ["train", "forecast"]:  # `seqcore rebuild-defaults`: say which command makes this model
        card["command"] = shlex.join(["seqcore", "train", "forecast", "--model", cfg.model,
                                      *(["--shipped"] if args.shipped else [])])
    folder = shipped_dir() if args.shipped else args.out
    path = save(model, card, args.name or default_name(cfg.model, series.name), out=folder)
    return {"checkpoint": str(path), "train_seconds": round(model.train_seconds, 2), "stopped": model.stopped,
            "metrics": card["metrics"]}


def add_train_args(p: argparse.ArgumentParser) -> None:
    from seqcore.tasks.forecasting import NEURAL, Config, shipped_config

    _series_args(p)
    _model_args(p, NEURAL)
    p.set_defaults(horizon=shipped_config("lstm").horizon)
    p.add_argument("--test-frac", type=float, default=Config().test_frac,
                   help="held-out tail scored by a rolling backtest")
    p.add_argument("--name", help="checkpoint name (default forecast-<series>-<model>)")
    p.add_argument("--out", type=Path, help="folder for the checkpoint (default: the user checkpoint dir)")
    p.add_argument("--shipped", action="store_true", help="write into the repo's checkpoints/ (make models)")
    p.set_defaults(func=cmd_train)


def register(sub) -> None:
    from seqcore.tasks.forecasting import DEFAULT_FOLDS, MODELS

    f = sub.add_parser("forecast", help="fit a forecaster on a series and forecast H steps with an 80% band")
    _series_args(f, csv_required=True)
    _model_args(f, MODELS)
    f.add_argument("--out", type=Path, help="write date,p10,p50,p90 to this CSV")
    f.set_defaults(func=cmd_forecast)

    b = sub.add_parser("backtest", help="rolling-origin backtest of a forecaster beside the naive random walk")
    _series_args(b, csv_required=True)
    _model_args(b, MODELS)
    b.add_argument("--folds", type=int, default=DEFAULT_FOLDS, help="forecast origins at the end of the series")
    b.add_argument("--stride", type=int, default=1, help="steps between origins")
    b.set_defaults(func=cmd_backtest)
