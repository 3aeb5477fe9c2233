"""Forecasting: one fit / predict / backtest surface for LSTM, Transformer and the baselines.

Every model sees a series through its steps: log returns r_t = log(y_t / y_{t-1}) for prices,
differences y_t - y_{t-1} otherwise, standardised with the mean and spread of the training part only.
A forecast from origin T is three quantiles (10/50/90%) of the cumulative change over 1..H steps,
mapped back to the series' units, so every forecast carries an 80% band.

Models: lstm, transformer (QuantileForecaster, pinball loss), linear (ridge autoregression on the
lookback window, empirical residual band), naive (last value: the random walk), drift (mean
training return), seasonal_naive (the value one season back). Backtests are rolling-origin: each
model is fitted once on everything before the first origin, then forecasts from every origin.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import torch

from seqcore.data.prices import PriceSeries, load_goog
from seqcore.errors import InputError
from seqcore.models.forecaster import QUANTILES, ForecasterConfig, QuantileForecaster, pinball_loss
from seqcore.tasks.forecast_metrics import naive_scale, score
from seqcore.train import TrainConfig, fit

NEURAL = ("lstm", "transformer")
BASELINES = ("naive", "drift", "seasonal_naive", "linear")
MODELS = NEURAL + BASELINES
MAX_HORIZON = 60
TASK = "forecast"


@dataclass
class ForecastConfig:
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

    def check(self) -> ForecastConfig:
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
        return self

    def min_rows(self) -> int:
        """Rows a series needs for this model: the lookback, the horizon, and ~20 training windows."""
        return self.lookback + self.horizon + 20 + (self.season if self.model == "seasonal_naive" else 0)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class Transform:
    """Series <-> standardised steps. kind price: log returns; level: differences. mu, sd from training."""

    kind: str
    mu: float = 0.0
    sd: float = 1.0

    def steps(self, values: np.ndarray) -> np.ndarray:
        """(T,) values -> (T-1,) returns or differences."""
        v = np.asarray(values, float)
        if self.kind == "price":
            if (v <= 0).any():
                raise InputError("log returns need positive prices; this window has zeros or negatives")
            return np.diff(np.log(v))
        return np.diff(v)

    def fitted(self, train_values: np.ndarray) -> Transform:
        s = self.steps(train_values)
        return Transform(self.kind, float(s.mean()), float(s.std()) or 1.0)

    def to_values(self, last: float, cum: np.ndarray) -> np.ndarray:
        """Cumulative change (.., H) from value `last` -> values (.., H)."""
        return last * np.exp(cum) if self.kind == "price" else last + cum


@dataclass
class Forecast:
    """Quantile forecast from one origin: dates (H,), p10/p50/p90 (H,) in series units."""

    model: str
    dates: pd.DatetimeIndex
    p10: np.ndarray
    p50: np.ndarray
    p90: np.ndarray

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"date": self.dates, "p10": self.p10, "p50": self.p50, "p90": self.p90})


def cumulative_targets(steps: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    """steps (T-1,), origins (N,) value indices -> (N, H) cumulative change from y[o] to y[o+h]."""
    idx = origins[:, None] + np.arange(horizon)[None, :]  # step i moves y[i] -> y[i+1]
    return np.cumsum(steps[idx], axis=1)


class Forecaster:
    """Common surface. fit(values) learns from a (T,) history; predict(history) -> (H, 3) quantiles."""

    def __init__(self, cfg: ForecastConfig, kind: str):
        self.cfg = cfg.check()
        self.transform = Transform(kind)
        self.fit_rows: int | None = None  # how many leading values of its series it learned from
        self.fit_series: str | None = None
        self.train_seconds = 0.0
        self.history = []  # seqcore.train.Progress records (neural models)
        self.stopped = "finished"

    @property
    def name(self) -> str:
        return self.cfg.model

    def fit(self, values: np.ndarray, *, series_name: str | None = None,
            on_progress: Callable | None = None, stop: threading.Event | None = None) -> Forecaster:
        values = np.asarray(values, float)
        if len(values) < self.cfg.min_rows():
            raise InputError(f"{self.name} needs at least {self.cfg.min_rows()} training rows "
                             f"(lookback {self.cfg.lookback} + horizon {self.cfg.horizon} + 20); got {len(values)}")
        start = time.perf_counter()
        self.transform = self.transform.fitted(values)
        self._fit(values, on_progress, stop)
        self.train_seconds = time.perf_counter() - start
        self.fit_rows, self.fit_series = len(values), series_name
        return self

    def _fit(self, values, on_progress, stop) -> None:
        raise NotImplementedError

    def predict(self, history: np.ndarray, horizon: int | None = None) -> np.ndarray:
        """(T,) history -> (H, 3) values for quantiles 10/50/90; uses only history's last lookback+1 values."""
        h = horizon or self.cfg.horizon
        if h > self.cfg.horizon:
            raise InputError(f"this {self.name} model was trained for {self.cfg.horizon} steps; "
                             f"retrain it for horizon {h}")
        history = np.asarray(history, float)
        need = self.needs()
        if len(history) < need:
            raise InputError(f"{self.name} needs the last {need} values to forecast; got {len(history)}")
        cum = self._predict_cum(history[-need:][None, :])[0]  # (H, 3)
        return self.transform.to_values(history[-1], cum[:h])

    def predict_many(self, windows: np.ndarray) -> np.ndarray:
        """(N, needs()) history windows -> (N, H, 3) values."""
        cum = self._predict_cum(windows)
        return self.transform.to_values(windows[:, -1:, None], cum)

    def needs(self) -> int:
        return self.cfg.lookback + 1

    def _predict_cum(self, windows: np.ndarray) -> np.ndarray:
        """(N, needs()) values -> (N, H, 3) cumulative changes from the last value."""
        raise NotImplementedError


class _EmpiricalBand(Forecaster):
    """Baselines whose band comes from the training distribution of h-step changes."""

    def _h_changes(self, values: np.ndarray) -> list[np.ndarray]:
        steps = self.transform.steps(values)
        cum = np.concatenate([[0.0], np.cumsum(steps)])
        return [cum[h:] - cum[:-h] for h in range(1, self.cfg.horizon + 1)]

    def needs(self) -> int:
        return 2


class NaiveForecaster(_EmpiricalBand):
    """Random walk: the median is the last value; the band is the spread of past h-step changes."""

    def _fit(self, values, on_progress, stop):
        ch = self._h_changes(values)
        self.offsets = np.array([np.quantile(c, QUANTILES) - np.median(c) for c in ch])  # (H, 3)

    def _predict_cum(self, windows):
        return np.broadcast_to(self.offsets, (len(windows), *self.offsets.shape)).copy()


class DriftForecaster(_EmpiricalBand):
    """Random walk with drift: the median moves by the mean training step per step."""

    def _fit(self, values, on_progress, stop):
        ch = self._h_changes(values)
        mu = self.transform.mu
        self.offsets = np.array([mu * (h + 1) + np.quantile(c, QUANTILES) - np.median(c) for h, c in enumerate(ch)])

    def _predict_cum(self, windows):
        return np.broadcast_to(self.offsets, (len(windows), *self.offsets.shape)).copy()


class SeasonalNaiveForecaster(_EmpiricalBand):
    """y[T+h] = y[T+h-m*k] (k = ceil(h/m)); the band is the spread of those errors in training."""

    def needs(self) -> int:
        return self.cfg.season + 1

    def _lags(self) -> np.ndarray:
        m = self.cfg.season
        return np.array([m * math.ceil(h / m) for h in range(1, self.cfg.horizon + 1)])  # (H,)

    def _fit(self, values, on_progress, stop):
        lags, offs = self._lags(), []
        for lag in lags:
            t = np.arange(lag, len(values))  # target index t, seasonal source t - lag
            err = self._change(values[t - lag], values[t])
            offs.append(np.quantile(err, QUANTILES) - np.median(err))
        self.lags, self.offsets = lags, np.array(offs)

    def _change(self, a, b):
        return np.log(b / a) if self.transform.kind == "price" else b - a

    def _predict_cum(self, windows):
        last = windows[:, -1:]
        src = windows[:, -1 - self.lags + np.arange(1, self.cfg.horizon + 1)]  # (N, H) y[T+h-lag]
        mid = self._change(last, src)
        return mid[..., None] + self.offsets[None]


class LinearForecaster(Forecaster):
    """Ridge regression of the scaled cumulative change 1..H on the lookback window of scaled steps."""

    def _design(self, windows: np.ndarray) -> np.ndarray:
        t = self.transform
        s = np.stack([t.steps(w) for w in windows])  # (N, L)
        return np.hstack([(s - t.mu) / t.sd, np.ones((len(s), 1))])

    def _fit(self, values, on_progress, stop):
        t, L, H = self.transform, self.cfg.lookback, self.cfg.horizon
        steps = t.steps(values)
        origins = np.arange(L, len(values) - H)
        X = np.hstack([((steps[origins[:, None] - L + np.arange(L)]) - t.mu) / t.sd, np.ones((len(origins), 1))])
        Y = cumulative_targets(steps, origins, H)  # (N, H)
        reg = self.cfg.ridge * np.eye(X.shape[1])
        reg[-1, -1] = 0.0
        self.coef = np.linalg.solve(X.T @ X + reg, X.T @ Y)  # (L+1, H)
        resid = Y - X @ self.coef
        self.offsets = np.quantile(resid, QUANTILES, axis=0).T  # (H, 3)

    def _predict_cum(self, windows):
        mid = self._design(windows) @ self.coef  # (N, H)
        return mid[..., None] + self.offsets[None]


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
    """LSTM or Transformer QuantileForecaster trained with the pinball loss on scaled cumulative changes."""

    def __init__(self, cfg: ForecastConfig, kind: str):
        super().__init__(cfg, kind)
        layers = cfg.layers or (1 if cfg.model == "lstm" else 2)
        self.net_config = ForecasterConfig(arch=cfg.model, lookback=cfg.lookback, horizon=cfg.horizon,
                                           hidden=cfg.hidden, layers=layers, heads=cfg.heads, dropout=cfg.dropout)
        torch.manual_seed(cfg.seed)
        self.net = QuantileForecaster(self.net_config)
        self.net.eval()
        self.band_scale = np.ones(cfg.horizon)  # set by conformal calibration in _fit

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

    def _fit(self, values, on_progress, stop):
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
        self.net = QuantileForecaster(self.net_config)
        result = fit(self.net, loss_fn, dataset(train_o), val_ds, tc, on_progress=on_progress, stop=stop,
                     device=torch.device("cpu"))
        self.history, self.stopped = result.history, result.stopped
        self.net.eval()
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


def make_forecaster(cfg: ForecastConfig, kind: str = "price") -> Forecaster:
    cfg.check()
    return _CLASSES[cfg.model](cfg, kind)


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


def backtest(series: PriceSeries, cfg: ForecastConfig, models: list[str] | dict[str, Forecaster | None],
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
            model = make_forecaster(replace(cfg, model=name), series.kind)
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


# ----- checkpoints --------------------------------------------------------------------------------


def model_card(model: NeuralForecaster, series: PriceSeries, metrics: dict, command: str | None = None) -> dict:
    from seqcore.checkpoints import make_card
    from seqcore.device import device_name

    fields = {} if command is None else {"command": command}
    return make_card(
        TASK, f"{model.name}-forecaster",
        {"forecast": model.cfg.to_dict(), "net": model.net_config.to_dict(),
         "transform": {"kind": model.transform.kind, "mu": model.transform.mu, "sd": model.transform.sd},
         "band_scale": [round(float(x), 6) for x in model.band_scale]},
        data={"series": series.name, "source": series.source, "rows": len(series),
              "train_rows": model.fit_rows, "first_date": str(series.dates[0].date()),
              "train_end_date": str(series.dates[model.fit_rows - 1].date()),
              "split": "chronological: model fit (with its last 15% of windows as validation) on rows before "
                       "train_end_date; metrics on the rolling-origin backtest after it"},
        metrics=metrics, train_seconds=round(model.train_seconds, 2), device=device_name(torch.device("cpu")),
        stopped=model.stopped, **fields,
    )


def from_checkpoint(state: dict, card: dict) -> NeuralForecaster:
    """Rebuild a NeuralForecaster from load_checkpoint's (state, card); CheckpointError on mismatch."""
    from seqcore.checkpoints import load_weights
    from seqcore.errors import CheckpointError

    try:
        cfg = ForecastConfig(**card["config"]["forecast"])
        tr = card["config"]["transform"]
        model = NeuralForecaster(cfg, tr["kind"])
        model.transform = Transform(tr["kind"], float(tr["mu"]), float(tr["sd"]))
        model.band_scale = np.asarray(card["config"].get("band_scale", np.ones(cfg.horizon)), float)
        if model.band_scale.shape != (cfg.horizon,):
            raise InputError(f"band_scale has {model.band_scale.size} entries for horizon {cfg.horizon}")
    except (KeyError, TypeError, InputError) as e:
        raise CheckpointError(f"model card {card.get('name', '?')} does not describe a forecaster ({e})") from None
    load_weights(model.net, {k: v.float() for k, v in state.items()}, card.get("name", "checkpoint"))
    model.net.eval()
    model.fit_rows = card.get("data", {}).get("train_rows")
    model.fit_series = card.get("data", {}).get("series")
    model.train_seconds = card.get("train_seconds") or 0.0
    return model


def load_forecaster(name: str) -> tuple[NeuralForecaster, dict]:
    from seqcore.checkpoints import find_checkpoint, load_checkpoint

    info = find_checkpoint(name, TASK)
    state, card = load_checkpoint(info.stem)
    return from_checkpoint(state, card), card


# ----- attention explorer -------------------------------------------------------------------------


def _load_info(info) -> tuple[NeuralForecaster, dict]:
    from seqcore.checkpoints import load_checkpoint

    state, card = load_checkpoint(info.stem)
    return from_checkpoint(state, card), card


def attention_probe(info, text: str | None = None):
    """The Transformer forecaster over GOOG's last lookback window; tokens are the return dates.

    `text` is ignored: a forecaster reads numbers, not words.
    """
    from seqcore.checkpoints import shared_load
    from seqcore.tasks.probe import AttentionProbe

    model, card = shared_load(_load_info, info)  # loaded once per file version
    if model.cfg.model != "transformer":
        raise InputError(f"{info.name} is an {model.cfg.model} forecaster, not a Transformer")
    series = load_goog(card.get("data", {}).get("series", "GOOG Close").split()[-1])
    window = series.values[-model.needs():]
    x = model._inputs(model.transform.steps(window)[None, :])  # (1, L, 1)
    dates = [str(d.date()) for d in series.dates[-model.cfg.lookback:]]
    return AttentionProbe(model=model.net.encoder, x=x, tokens=dates,
                          note=f"{series.name}: standardised log returns of the last {model.cfg.lookback} "
                               f"trading days up to {dates[-1]}; text input is not used")
