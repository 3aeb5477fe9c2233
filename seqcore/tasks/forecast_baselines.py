"""The forecaster surface and the baselines: every model fits a (T,) history and predicts (H, 3) quantiles.

A series is modelled through its steps (Transform): log returns for prices, differences for anything else,
standardised with the training part's mean and spread. predict() turns a cumulative change over 1..H steps
back into the series' units. Baselines: naive (the random walk), drift, seasonal naive, and a ridge
autoregression; their 80% bands come from the spread of past changes. The LSTM / Transformer forecaster
(seqcore.tasks.forecasting.NeuralForecaster) has the same surface.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from seqcore.errors import InputError
from seqcore.models.forecaster import QUANTILES


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
    """Common surface. fit(values) learns from a (T,) history; predict(history) -> (H, 3) quantiles.

    cfg: the task's ForecastTaskConfig (model, lookback, horizon, ...); kind: "price" or "level".
    """

    def __init__(self, cfg, kind: str):
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

    def fit(self, values: np.ndarray, *, series_name: str | None = None, **train) -> Forecaster:
        """Learn from values (T,); train: on_progress, stop, device (the neural model's training run)."""
        values = np.asarray(values, float)
        if len(values) < self.cfg.min_rows():
            raise InputError(f"{self.name} needs at least {self.cfg.min_rows()} training rows "
                             f"(lookback {self.cfg.lookback} + horizon {self.cfg.horizon} + 20); got {len(values)}")
        start = time.perf_counter()
        self.transform = self.transform.fitted(values)
        self._fit(values, **train)
        self.train_seconds = time.perf_counter() - start
        self.fit_rows, self.fit_series = len(values), series_name
        return self

    def _fit(self, values: np.ndarray, **train) -> None:
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

    def _fit(self, values, **_):
        ch = self._h_changes(values)
        self.offsets = np.array([np.quantile(c, QUANTILES) - np.median(c) for c in ch])  # (H, 3)

    def _predict_cum(self, windows):
        return np.broadcast_to(self.offsets, (len(windows), *self.offsets.shape)).copy()


class DriftForecaster(_EmpiricalBand):
    """Random walk with drift: the median moves by the mean training step per step."""

    def _fit(self, values, **_):
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

    def _fit(self, values, **_):
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

    def _fit(self, values, **_):
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

