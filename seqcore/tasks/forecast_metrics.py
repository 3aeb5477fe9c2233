"""Forecast accuracy: MAE, RMSE, MASE, directional accuracy and 80% interval coverage.

All arrays are (N, H): N forecast origins, H steps ahead, in the series' own units (prices, degrees).
MASE divides by the in-sample MAE of the one-step naive forecast on the training part (Hyndman &
Koehler 2006), so the naive forecast scores exactly 1 on its own training series.
"""

from __future__ import annotations

import numpy as np


def naive_scale(train_values: np.ndarray) -> float:
    """In-sample one-step naive MAE: mean |y_t - y_{t-1}| over the training values (T,)."""
    d = np.abs(np.diff(np.asarray(train_values, float)))
    if len(d) == 0 or d.mean() == 0:
        raise ValueError("MASE needs at least two different training values")
    return float(d.mean())


def score(actual: np.ndarray, p10: np.ndarray, p50: np.ndarray, p90: np.ndarray, origin: np.ndarray,
          scale: float) -> dict:
    """Metrics over every (origin, step) pair. origin (N,) is the last observed value at each origin.

    directional_accuracy: share of pairs whose forecast change sign matches the actual change sign,
    counted where both are non-zero; None when the forecast never moves (the naive forecast).
    """
    actual, p10, p50, p90 = (np.asarray(a, float) for a in (actual, p10, p50, p90))
    origin = np.asarray(origin, float).reshape(-1, 1)
    err = p50 - actual
    pred_dir, true_dir = np.sign(p50 - origin), np.sign(actual - origin)
    moving = (pred_dir != 0) & (true_dir != 0)
    return {
        "mae": float(np.abs(err).mean()),
        "rmse": float(np.sqrt((err**2).mean())),
        "mase": float(np.abs(err).mean() / scale),
        "directional_accuracy": float((pred_dir == true_dir)[moving].mean()) if moving.any() else None,
        "coverage80": float(((actual >= p10) & (actual <= p90)).mean()),
    }
