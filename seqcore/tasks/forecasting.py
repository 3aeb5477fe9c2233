"""Forecasting: LSTM and Transformer quantile forecasts beside the baselines, backtests and what-if scenarios.

The task protocol (seqcore.tasks) over NeuralForecaster models, and the task's own operations: build (any
model, baselines too) + fit, forecast, backtest, scenario, train_models (several models in one run, as the
page trains them), check_fit, rows_before_backtest, shipped_config, default_name.

A forecast from origin T is three quantiles (10/50/90%) of the cumulative change over 1..H steps, mapped back to
the series' units, so every forecast carries an 80% band. Models: lstm, transformer (QuantileForecaster, pinball
loss); the baselines linear, naive, drift and seasonal_naive, with the series transform and the common surface,
live in seqcore.tasks.forecast_baselines; the metrics in seqcore.tasks.forecast_metrics. Backtests are rolling-
origin: each model is fitted once on everything before the first origin, then forecasts from every origin.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from seqcore.checkpoints import (
    CheckpointInfo,
    as_info,
    best_checkpoint,
    make_card,
    restore,
    save_checkpoint,
    shared_load,
    user_dir,
)
from seqcore.data.prices import PriceSeries, load_embedded
from seqcore.errors import InputError
from seqcore.models.forecaster import QuantileForecaster, QuantileForecasterConfig, pinball_loss
from seqcore.tasks.forecast_baselines import (
    DriftForecaster,
    Forecast,
    Forecaster,
    LinearForecaster,
    NaiveForecaster,
    SeasonalNaiveForecaster,
    Transform,
    cumulative_targets,
)
from seqcore.tasks.forecast_metrics import naive_scale, score
from seqcore.train import Progress, TrainConfig, fit

__all__ = ["TASK", "Config", "tiny_config", "build", "train", "save", "load", "best_name", "evaluate",
           "attention_probe", "ForecastTaskConfig", "NeuralForecaster", "Forecaster", "Forecast", "BacktestResult",
           "ModelProgress", "NEURAL", "BASELINES", "MODELS", "LABELS", "MAX_HORIZON", "DEFAULT_FOLDS",
           "EVAL_HORIZONS", "PAGE_BUDGET_S", "forecast", "backtest", "scenario", "train_models", "check_fit",
           "rows_before_backtest", "shipped_config", "default_name", "compare_to_naive"]

TASK = "forecast"
NEURAL = ("lstm", "transformer")
BASELINES = ("naive", "drift", "seasonal_naive", "linear")
MODELS = NEURAL + BASELINES
LABELS = {"naive": "naive (random walk)", "drift": "drift", "seasonal_naive": "seasonal naive", "linear": "linear AR",
          "lstm": "LSTM", "transformer": "Transformer"}
MAX_HORIZON = 60
DEFAULT_FOLDS = 50          # backtest origins: `seqcore backtest` and the page
EVAL_HORIZONS = (1, 5, 20)  # the horizons a model card scores (those the model reaches)
BEST_METRIC = "h20_mase"    # held-out MASE 20 steps ahead: lower is better; the home page shows it too
PAGE_BUDGET_S = 120.0       # a run started from a web page stops after this many seconds (a shared server)


@dataclass
class ForecastTaskConfig:
    """The task's settings: which model, its sizes, the data it learns from and the training run.

    The network's own shape (models.forecaster.QuantileForecasterConfig) is derived by net_config(). Data: the
    embedded `dataset` / `column` by default, or a user's `series` (kept out of to_dict; the card names it).
    The model learns from the first `train_rows` rows (None: all but the last `test_frac`); the rest is held out.
    """

    model: str = "lstm"
    lookback: int = 30
    horizon: int = 20
    hidden: int = 32
    layers: int | None = None      # None: 1 for lstm, 2 for transformer
    heads: int = 4
    epochs: int = 15
    batch_size: int = 64
    lr: float = 3e-3
    dropout: float = 0.1
    seed: int = 0
    season: int = 0                # seasonal_naive's period in steps (e.g. 5 trading days, 365 days)
    val_frac: float = 0.15
    ridge: float = 1.0             # linear model's L2 penalty
    time_budget_s: float | None = 300.0
    calibrate: bool = True         # neural bands rescaled to 80% coverage on the validation windows
    dataset: str | None = "GOOG"   # an embedded dataset (seqcore.data.prices.EMBEDDED), used when series is None
    column: str | None = None      # its column (None: Close for GOOG, temp_max for the weather)
    train_rows: int | None = None
    test_frac: float = 0.2
    series: PriceSeries | None = field(default=None, repr=False, compare=False)

    def check(self) -> ForecastTaskConfig:
        if self.model not in MODELS:
            raise InputError(f"model must be one of {', '.join(MODELS)}; got {self.model!r}")
        if not 1 <= self.horizon <= MAX_HORIZON:
            raise InputError(f"horizon must be 1..{MAX_HORIZON} steps; got {self.horizon}")
        if not 2 <= self.lookback <= 512:
            raise InputError(f"lookback must be 2..512 steps; got {self.lookback}")
        if self.model == "seasonal_naive" and self.season < 1:
            raise InputError("seasonal_naive needs a season (steps per cycle, e.g. 5 for trading weeks)")
        if not 1 <= self.epochs <= 500 or not 4 <= self.hidden <= 512:
            raise InputError("epochs must be 1..500 and hidden size 4..512")
        if self.model == "transformer" and self.hidden % self.heads:
            raise InputError(f"hidden size {self.hidden} must be divisible by the {self.heads} attention heads")
        if not 0.0 < self.test_frac < 1.0:
            raise InputError(f"the held-out fraction must be between 0 and 1; got {self.test_frac}")
        return self

    def min_rows(self) -> int:
        """Rows a series needs for this model: the lookback, the horizon, and ~20 training windows."""
        return self.lookback + self.horizon + 20 + (self.season if self.model == "seasonal_naive" else 0)

    def data(self) -> PriceSeries:
        """The series this config learns from: the user's, else the embedded dataset."""
        if self.series is not None:
            return self.series
        if self.dataset is None:
            raise InputError("this model learned from a user's series, which is not stored with it; pass the series")
        return load_embedded(self.dataset, self.column)

    def split(self, n: int) -> int:
        """How many leading rows of an n-row series the model learns from."""
        return self.train_rows or int(n * (1 - self.test_frac))

    def net_config(self) -> QuantileForecasterConfig:
        layers = self.layers or (1 if self.model == "lstm" else 2)
        return QuantileForecasterConfig(arch=self.model, lookback=self.lookback, horizon=self.horizon,
                                        hidden=self.hidden, layers=layers, heads=self.heads, dropout=self.dropout)

    def to_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "series"}
        return {**d, "dataset": None} if self.series is not None else d


Config = ForecastTaskConfig


def tiny_config() -> ForecastTaskConfig:
    """Seconds on a CPU: a one-epoch 2-layer Transformer (hidden 8) on GOOG's first 400 closes (smoke and
    conformance tests); the other 1,748 rows are held out."""
    return ForecastTaskConfig(model="transformer", lookback=10, horizon=5, hidden=8, heads=2, epochs=1, train_rows=400)


def shipped_config(model: str, **overrides) -> ForecastTaskConfig:
    """The recipe of the shipped GOOG checkpoints (`make models`): one 60-step head serves every horizon.

    The page's Retrain after a broken shipped checkpoint trains it too (overrides: its time budget).
    """
    return ForecastTaskConfig(**{"model": model, "horizon": MAX_HORIZON, **overrides})


def default_name(model: str, series_name: str = "GOOG Close") -> str:
    """forecast-<first word of the series>-<model>, e.g. forecast-goog-lstm (the shipped ones); a valid file name."""
    word = re.sub(r"[^a-z0-9_.-]+", "-", (series_name.split() or ["series"])[0].lower()).strip("-.") or "series"
    return f"forecast-{word}-{model}"


def band_scale(z: np.ndarray, y: np.ndarray, coverage: float = 0.8) -> np.ndarray:
    """Per-step factor s (H,) so that the band p50 -/+ s * (p50 - p10, p90 - p50) holds `coverage` of y.

    z (N, H, 3) predicted quantiles, y (N, H) outcomes, both on held-out validation windows: a split-
    conformal correction for bands learned in another volatility regime (clipped to 0.25..4).
    """
    lo, mid, hi = z[..., 0], z[..., 1], z[..., 2]
    d = np.where(y < mid, (mid - y) / np.maximum(mid - lo, 1e-9), (y - mid) / np.maximum(hi - mid, 1e-9))
    n = len(y)
    level = min(1.0, math.ceil((n + 1) * coverage) / n)
    return np.clip(np.quantile(d, level, axis=0), 0.25, 4.0)


def widen(z: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """(N, H, 3) quantiles with the outer two moved away from (or toward) the median by scale (H,)."""
    mid = z[..., 1]
    return np.stack([mid - scale * (mid - z[..., 0]), mid, mid + scale * (z[..., 2] - mid)], axis=-1)


class NeuralForecaster(Forecaster):
    """LSTM or Transformer QuantileForecaster trained with the pinball loss on scaled cumulative changes.

    The task's model: `net` (the network), `transform` and `band_scale` (H,) beside it; `card` once trained
    (train) or loaded (load).
    """

    def __init__(self, cfg: ForecastTaskConfig, kind: str):
        super().__init__(cfg, kind)
        torch.manual_seed(cfg.seed)
        self.net = QuantileForecaster(cfg.net_config())
        self.net.eval()
        self.band_scale = np.ones(cfg.horizon)  # set by conformal calibration in _fit
        self.card: dict | None = None

    def _scale_h(self) -> np.ndarray:
        """(H,) spread of an h-step sum of standardised steps: sd * sqrt(h)."""
        return self.transform.sd * np.sqrt(np.arange(1, self.cfg.horizon + 1))

    def _inputs(self, steps_windows: np.ndarray) -> torch.Tensor:
        """(N, L) raw steps -> (N, L, 1) float tensor of standardised steps."""
        t = self.transform
        return torch.as_tensor((steps_windows - t.mu) / t.sd, dtype=torch.float32).unsqueeze(-1)

    def _targets(self, cum: np.ndarray) -> torch.Tensor:
        h = np.arange(1, self.cfg.horizon + 1)
        return torch.as_tensor((cum - self.transform.mu * h) / self._scale_h(), dtype=torch.float32)

    def _fit(self, values, *, on_progress=None, stop=None, device=None):
        cfg, L, H = self.cfg, self.cfg.lookback, self.cfg.horizon
        # Standardise with the training windows' steps only (validation steps stay unseen).
        origins = np.arange(L, len(values) - H)
        n_val = max(1, int(len(origins) * cfg.val_frac)) if len(origins) >= 40 else 0
        train_o = origins[: len(origins) - n_val - (H if n_val else 0)]
        val_o = origins[len(origins) - n_val:] if n_val else origins[:0]
        if len(train_o) < 10:
            raise InputError(f"only {len(train_o)} training windows; use a longer series or a shorter lookback")
        self.transform = self.transform.fitted(values[: train_o[-1] + H + 1])
        steps = self.transform.steps(values)

        def dataset(o):
            x = self._inputs(steps[o[:, None] - L + np.arange(L)])
            return torch.utils.data.TensorDataset(x, self._targets(cumulative_targets(steps, o, H)))

        val_ds = dataset(val_o) if len(val_o) else None
        tc = TrainConfig(epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, seed=cfg.seed, patience=5,
                         time_budget_s=cfg.time_budget_s, weight_decay=1e-4)

        def loss_fn(model, batch):
            x, y = batch
            return pinball_loss(model(x), y)

        torch.manual_seed(cfg.seed)
        self.net = QuantileForecaster(cfg.net_config())
        # CPU unless asked: a 1-feature network over 30 steps runs faster there than a GPU launches kernels
        result = fit(self.net, loss_fn, dataset(train_o), val_ds, tc, on_progress=on_progress, stop=stop,
                     device=device or torch.device("cpu"))
        self.history, self.stopped = result.history, result.stopped
        self.net.cpu().eval()
        self.band_scale = np.ones(H)
        if val_ds is not None and cfg.calibrate:
            with torch.inference_mode():
                z = self.net(val_ds.tensors[0]).numpy().astype(float)
            self.band_scale = band_scale(z, val_ds.tensors[1].numpy().astype(float))

    def _predict_cum(self, windows):
        steps = np.stack([self.transform.steps(w) for w in windows])  # (N, L)
        with torch.inference_mode():
            z = self.net(self._inputs(steps)).numpy().astype(float)  # (N, H, 3)
        z = widen(z, self.band_scale)
        h = np.arange(1, self.cfg.horizon + 1)
        return z * self._scale_h()[None, :, None] + (self.transform.mu * h)[None, :, None]


_CLASSES = {"lstm": NeuralForecaster, "transformer": NeuralForecaster, "naive": NaiveForecaster,
            "drift": DriftForecaster, "seasonal_naive": SeasonalNaiveForecaster, "linear": LinearForecaster}


def build(cfg: ForecastTaskConfig, kind: str | None = None) -> Forecaster:
    """An unfitted forecaster of cfg.model, baselines included; kind "price" | "level" (None: that of cfg's data)."""
    cfg.check()
    return _CLASSES[cfg.model](cfg, kind or cfg.data().kind)


def forecast(model: Forecaster, series: PriceSeries, horizon: int | None = None,
             history: np.ndarray | None = None) -> Forecast:
    """Forecast the next `horizon` steps after the series' last date (or after an edited `history`)."""
    h = horizon or model.cfg.horizon
    q = model.predict(series.values if history is None else history, h)
    return Forecast(model.name, series.future_dates(h), q[:, 0], q[:, 1], q[:, 2])


# ----- backtest -----------------------------------------------------------------------------------


@dataclass
class BacktestResult:
    """Rolling-origin results: metrics per model, and each model's (N, H, 3) forecasts beside (N, H) actuals."""

    metrics: dict[str, dict]
    origins: np.ndarray                 # (N,) value indices of the forecast origins
    origin_dates: pd.DatetimeIndex
    actual: np.ndarray                  # (N, H)
    forecasts: dict[str, np.ndarray] = field(default_factory=dict)
    train_rows: int = 0
    train_seconds: dict[str, float] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    def table(self) -> pd.DataFrame:
        rows = [{"model": m, **v} for m, v in self.metrics.items()]
        return pd.DataFrame(rows)

    def verdicts(self) -> list[str]:
        """Plain sentences: which models do not beat the random walk on MASE."""
        naive = self.metrics.get("naive", {}).get("mase")
        out = []
        for m, v in self.metrics.items():
            if m == "naive" or naive is None:
                continue
            out.append(f"{m} {compare_to_naive(v['mase'], naive)} the random walk here "
                       f"(MASE {v['mase']:.3f} vs naive {naive:.3f}).")
        return out


def compare_to_naive(mase: float, naive_mase: float, tie: float = 0.01) -> str:
    """'beats', 'only ties (within 1%)' or 'does not beat': a 0.3% edge on one test period is noise."""
    if mase >= naive_mase:
        return "does not beat"
    return "only ties (within 1%)" if mase > naive_mase * (1 - tie) else "beats"


def can_reuse(model: Forecaster | None, series: PriceSeries, train_rows: int, horizon: int) -> bool:
    """True when `model` learned from `series` only up to train_rows and forecasts at least `horizon` steps."""
    return (model is not None and model.fit_series == series.name and model.fit_rows is not None
            and model.fit_rows <= train_rows and model.cfg.horizon >= horizon)


def backtest_origins(n: int, horizon: int, folds: int, stride: int = 1) -> np.ndarray:
    """The last `folds` origins (value indices) whose H-step futures lie inside a series of n values."""
    last = n - 1 - horizon
    origins = last - stride * np.arange(folds)[::-1]
    if folds < 1 or origins[0] < 1:
        raise InputError(f"{folds} backtest origins {horizon} steps ahead do not fit in {n} rows; use fewer folds")
    return origins


def backtest(series: PriceSeries, cfg: ForecastTaskConfig, models: list[str] | dict[str, Forecaster | None],
             folds: int = 50, stride: int = 1, *, on_progress: Callable | None = None,
             stop: threading.Event | None = None, refit: bool = True) -> BacktestResult:
    """Walk forward over the last `folds` origins; naive is always included.

    models: names, or {name: fitted Forecaster | None}. A fitted model is reused only when it learned
    from this series and no further than the first origin (no peeking); otherwise a copy of `cfg`
    with that model is fitted on the values up to and including the first origin (refit=False skips
    such neural models instead, listing them in result.skipped, so a page never trains by surprise).
    """
    given = dict.fromkeys(models) if isinstance(models, list) else dict(models)
    given.setdefault("naive", None)
    given = {"naive": given.pop("naive"), **given}
    H = cfg.horizon
    origins = backtest_origins(len(series), H, folds, stride)
    train = series.values[: origins[0] + 1]
    try:
        scale = naive_scale(train)
    except ValueError:
        raise InputError(f"{series.name} never changes in its first {len(train)} rows, so there is nothing to score "
                         f"against (MASE divides by the average one-step change); use a series that varies") from None
    actual = series.values[origins[:, None] + np.arange(1, H + 1)[None, :]]
    result = BacktestResult({}, origins, series.dates[origins], actual, train_rows=len(train))
    for name, model in given.items():
        if not can_reuse(model, series, len(train), H):
            if not refit and name in NEURAL:
                result.skipped[name] = (f"{name} was trained on rows the backtest scores; train it again with "
                                        f"these folds to backtest it")
                continue
            model = build(replace(cfg, model=name), series.kind)
            model.fit(train, series_name=series.name, on_progress=on_progress, stop=stop)
        need = model.needs()
        if origins[0] + 1 < need:
            raise InputError(f"{name} needs {need} values before the first backtest origin; use fewer folds")
        windows = np.stack([series.values[o + 1 - need: o + 1] for o in origins])
        q = model.predict_many(windows)[:, :H]  # (N, H, 3)
        result.forecasts[name] = q
        result.train_seconds[name] = round(model.train_seconds, 2)
        result.metrics[name] = score(actual, q[..., 0], q[..., 1], q[..., 2], series.values[origins], scale)
    return result


# ----- what-if scenarios --------------------------------------------------------------------------


def scenario(history: np.ndarray, kind: str, *, shock: float = 0.0, vol_scale: float = 1.0, vol_window: int = 20,
             edits: np.ndarray | None = None) -> np.ndarray:
    """A what-if copy of `history` (T,): the last `len(edits)` values replaced, the last `vol_window`
    steps' deviations from their mean scaled by `vol_scale`, then the last value moved by `shock`
    (a fraction: -0.5..0.5 of the last price; for level series, of the level's recent spread).
    """
    if not -0.5 <= shock <= 0.5:
        raise InputError(f"shock must be between -50% and +50%; got {shock:+.0%}")
    if not 0.0 <= vol_scale <= 5.0:
        raise InputError(f"volatility scale must be 0..5; got {vol_scale}")
    v = np.array(history, float)
    if edits is not None and len(edits):
        edits = np.asarray(edits, float)
        if len(edits) > len(v) or not np.isfinite(edits).all():
            raise InputError("edited values must be numbers, no more than the history holds")
        if kind == "price" and (edits <= 0).any():
            raise InputError("edited prices must be positive")
        v[-len(edits):] = edits
    if vol_scale != 1.0:
        w = min(vol_window, len(v) - 1)
        t = Transform(kind)
        s = t.steps(v[-w - 1:])
        s = s.mean() + (s - s.mean()) * vol_scale
        v[-w:] = t.to_values(v[-w - 1], np.cumsum(s))
    if shock:
        if kind == "price":
            v[-1] *= 1.0 + shock
        else:
            v[-1] += shock * 10 * np.std(np.diff(v[-61:]))
    return v


# ----- the page's settings ------------------------------------------------------------------------


def rows_before_backtest(n: int, horizon: int, folds: int) -> int:
    """Rows the page's models learn from: those before its backtest window, so the backtest is out of sample."""
    return n - folds - horizon


def check_fit(series: PriceSeries, cfg: ForecastTaskConfig, models: list[str], folds: int) -> None:
    """InputError naming what to change when these settings and models do not fit the series."""
    if "seasonal_naive" in models and cfg.season < 1:
        raise InputError("seasonal naive needs a season of at least 1 step; set Season or drop the model")
    cfg.check()
    needed = cfg.min_rows() + folds + cfg.horizon
    if len(series) < needed:
        raise InputError(f"{series.name} has {len(series)} rows but lookback {cfg.lookback}, horizon "
                         f"{cfg.horizon} and {folds} backtest origins need {needed}; lower them or use a longer series")
    most = rows_before_backtest(len(series), cfg.horizon, folds) // 2
    if "seasonal_naive" in models and cfg.season > most:
        raise InputError(f"a season of {cfg.season} steps is too long for {series.name}; use at most {most}")


# ----- the task protocol --------------------------------------------------------------------------


def _scored(horizon: int) -> list[int]:
    return [h for h in EVAL_HORIZONS if h <= horizon]


def train(cfg: ForecastTaskConfig, *, on_progress=None, stop=None, device=None) -> tuple[NeuralForecaster, dict]:
    """Fit an LSTM or Transformer on the first rows of cfg's data and score the held-out rest (evaluate).

    The weights are rounded to fp16 before scoring, so the card's metrics are those of the file save() writes.
    """
    from seqcore.device import device_name

    cfg.check()
    if cfg.model not in NEURAL:
        raise InputError(f"train makes {' and '.join(NEURAL)} checkpoints; baselines are fitted on the spot "
                         "(build(cfg).fit(values))")
    series = cfg.data()
    rows = cfg.split(len(series))
    need = max(_scored(cfg.horizon)) + 10
    if len(series) - rows < need:
        raise InputError(f"the held-out part of {series.name} ({len(series) - rows} rows) is too short to score; it "
                         f"needs {need}: hold out more rows or use a longer series")
    model = build(cfg, series.kind)
    model.fit(series.values[:rows], series_name=series.name, on_progress=on_progress, stop=stop, device=device)
    with torch.no_grad():
        for t in model.net.state_dict().values():
            if t.is_floating_point():
                t.copy_(t.half().float())
    card = make_card(
        TASK, f"{cfg.model}-forecaster",
        {"forecast": cfg.to_dict(), "net": cfg.net_config().to_dict(),
         "transform": {"kind": model.transform.kind, "mu": model.transform.mu, "sd": model.transform.sd},
         "band_scale": [round(float(x), 6) for x in model.band_scale]},
        data={"series": series.name, "source": series.source, "rows": len(series), "train_rows": rows,
              "first_date": str(series.dates[0].date()), "train_end_date": str(series.dates[rows - 1].date()),
              "split": "chronological: model fit (with its last 15% of windows as validation) on rows before "
                       "train_end_date; metrics on the rolling-origin backtest after it",
              "test_rows": len(series) - rows},
        metrics=evaluate(model, series=series), train_seconds=round(model.train_seconds, 2),
        device=device_name(device or torch.device("cpu")), stopped=model.stopped,
    )
    model.card = card
    return model, card


@dataclass
class ModelProgress(Progress):
    """A training record that names its model, so the page's progress panel says which one is training."""

    model: str = ""


def train_models(configs: list[ForecastTaskConfig], *, on_progress: Callable | None = None,
                 stop: threading.Event | None = None, command: str | None = None) -> dict[str, NeuralForecaster]:
    """train() each config in turn: {model name: model}, each with its .card (command: the card's provenance).

    Progress comes as ModelProgress records whose steps run on from one model to the next (one loss curve).
    After a Stop the model in training keeps what it learned and later ones are not started; a model stopped
    before its first step is left out, as its random weights must not replace a model that works.
    """
    out, offset = {}, 0
    for cfg in configs:
        if stop is not None and stop.is_set():
            break

        def report(p: Progress, o: int = offset, label: str = LABELS[cfg.model]) -> None:
            if on_progress is not None:
                on_progress(ModelProgress(**{**asdict(p), "step": p.step + o, "total_steps": p.total_steps + o,
                                             "model": label}))

        model, card = train(cfg, on_progress=report, stop=stop)
        if not model.history:
            break
        if command:
            card["command"] = command
        offset += model.history[-1].step
        out[cfg.model] = model
    return out


def save(model: NeuralForecaster, card: dict, name: str | None = None, out: str | Path | None = None) -> Path:
    """NAME.safetensors (fp16) + NAME.json in `out` (default: the user checkpoint dir); NAME: default_name."""
    name = name or default_name(model.name, card.get("data", {}).get("series", "GOOG Close"))
    return save_checkpoint(model.net, card, (Path(out) if out else user_dir()) / name, half=True)


def load(name_or_info: str | CheckpointInfo | None = None) -> tuple[NeuralForecaster, dict]:
    """A forecaster from a checkpoint name, a registry entry, or None (the best held-out MASE), on the CPU."""
    info = as_info(best_name() if name_or_info is None else name_or_info, TASK)
    made = {}

    def rebuild(card: dict) -> QuantileForecaster:
        """The forecaster the card describes (its transform and band too); restore loads the weights into .net."""
        cfg = ForecastTaskConfig(**card["config"]["forecast"])
        tr = card["config"]["transform"]
        model = NeuralForecaster(cfg, tr["kind"])
        model.transform = Transform(tr["kind"], float(tr["mu"]), float(tr["sd"]))
        model.band_scale = np.asarray(card["config"].get("band_scale", np.ones(cfg.horizon)), float)
        if model.band_scale.shape != (cfg.horizon,):
            raise ValueError(f"band_scale has {model.band_scale.size} entries for horizon {cfg.horizon}")
        data = card.get("data", {})
        model.fit_rows, model.fit_series = data.get("train_rows"), data.get("series")
        model.train_seconds, model.stopped = card.get("train_seconds") or 0.0, card.get("stopped", "finished")
        made["model"] = model
        return model.net

    _, _, card = restore(info, rebuild)
    model = made["model"]
    model.card = card
    return model, card


def best_name() -> str:
    """The forecaster with the lowest held-out MASE 20 steps ahead in its model card."""
    return best_checkpoint(TASK, BEST_METRIC, higher=False).name


def evaluate(model: Forecaster, *, limit: int | None = None, series: PriceSeries | None = None,
             horizons: tuple[int, ...] = EVAL_HORIZONS) -> dict:
    """Rolling-origin backtest on the rows after the model's training part, beside naive and drift.

    series: the data the model learned from (default: its config's). Every held-out origin is scored (limit:
    the last `limit` per horizon), for each of `horizons` the model reaches. Keys, as the model card stores
    them: h{h}_{mase,coverage80,mae,directional_accuracy} for the model, h{h}_{naive,drift}_... beside it,
    h{h}_n_origins.
    """
    series = model.cfg.data() if series is None else series
    if model.fit_rows is None:
        raise InputError(f"this {model.name} forecaster has not been fitted")
    metrics = {}
    for h in (h for h in horizons if h <= model.cfg.horizon):
        folds = len(series) - h - model.fit_rows + 1
        folds = min(folds, limit) if limit else folds
        r = backtest(series, replace(model.cfg, horizon=h), {model.name: model, "drift": None}, folds=folds,
                     refit=False)
        if r.skipped:
            raise InputError(f"{series.name} is not the series this {model.name} learned from "
                             f"({model.fit_series or 'unnamed'}); evaluate it on that one")
        for name, m in r.metrics.items():
            for k in ("mase", "coverage80", "mae", "directional_accuracy"):
                key = f"h{h}_{k}" if name == model.name else f"h{h}_{name}_{k}"
                metrics[key] = None if m[k] is None else round(m[k], 4)
        metrics[f"h{h}_n_origins"] = folds
    return metrics


def attention_probe(info: CheckpointInfo, text: str | None = None):
    """The Transformer forecaster over the last lookback window of its data; tokens are the return dates.

    `text` is ignored: a forecaster reads numbers, not words.
    """
    from seqcore.tasks.probe import AttentionProbe

    model, _ = shared_load(load, info)  # loaded once per file version
    if model.cfg.model != "transformer":
        raise InputError(f"{info.name} is an {model.cfg.model} forecaster, not a Transformer")
    series = model.cfg.data()
    window = series.values[-model.needs():]
    x = model._inputs(model.transform.steps(window)[None, :])  # (1, L, 1)
    dates = [str(d.date()) for d in series.dates[-model.cfg.lookback:]]
    return AttentionProbe(model=model.net.encoder, x=x, tokens=dates,
                          note=f"{series.name}: standardised log returns of the last {model.cfg.lookback} "
                               f"trading days up to {dates[-1]}; text input is not used")
