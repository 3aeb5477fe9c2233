"""Plotly figures for the forecasting page: forecast fan, backtest against actuals, what-if scenario."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from seqcore.data.prices import PriceSeries
from seqcore.tasks.forecasting import BacktestResult, Forecast

COLORS = {"naive": "#7f7f7f", "drift": "#bcbd22", "seasonal_naive": "#8c564b", "linear": "#9467bd",
          "lstm": "#1f77b4", "transformer": "#d62728"}
LABELS = {"naive": "naive (random walk)", "drift": "drift", "seasonal_naive": "seasonal naive", "linear": "linear AR",
          "lstm": "LSTM", "transformer": "Transformer"}


def _rgba(hex_color: str, alpha: float) -> str:
    r, g, b = (int(hex_color[i: i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _band(fig: go.Figure, x, lo, hi, color: str, name: str, group: str, dash: str | None = None) -> None:
    fig.add_scatter(x=list(x) + list(x)[::-1], y=list(hi) + list(lo)[::-1], fill="toself", mode="lines",
                    line=dict(width=0), fillcolor=_rgba(color, 0.15), name=f"{name} 80% band", legendgroup=group,
                    hoverinfo="skip", showlegend=True)


def forecast_figure(series: PriceSeries, forecasts: list[Forecast], tail: int = 250) -> go.Figure:
    """History (last `tail` values), then each model's median and 80% band."""
    fig = go.Figure()
    fig.add_scatter(x=series.dates[-tail:], y=series.values[-tail:], name="history", mode="lines",
                    line=dict(color="black", width=1.5))
    for f in forecasts:
        color = COLORS.get(f.model, "#17becf")
        x = [series.dates[-1], *f.dates]
        last = series.values[-1]
        _band(fig, x, [last, *f.p10], [last, *f.p90], color, LABELS.get(f.model, f.model), f.model)
        fig.add_scatter(x=x, y=[last, *f.p50], name=f"{LABELS.get(f.model, f.model)} median", mode="lines",
                        line=dict(color=color, width=2, dash="dot" if f.model == "naive" else None),
                        legendgroup=f.model)
    fig.update_layout(height=430, margin=dict(l=10, r=10, t=40, b=10), title=f"{series.name}: forecast",
                      yaxis_title=series.name, legend=dict(orientation="h", y=-0.15), hovermode="x")
    return fig


def backtest_figure(series: PriceSeries, result: BacktestResult, step: int) -> go.Figure:
    """Actual value `step` steps after each origin beside each model's median forecast for it (and bands)."""
    idx = result.origins + step
    dates = series.dates[idx]
    fig = go.Figure()
    fig.add_scatter(x=dates, y=result.actual[:, step - 1], name="actual", mode="lines+markers",
                    line=dict(color="black", width=1.5), marker=dict(size=4))
    for name, q in result.forecasts.items():
        color = COLORS.get(name, "#17becf")
        _band(fig, dates, q[:, step - 1, 0], q[:, step - 1, 2], color, LABELS.get(name, name), name)
        fig.add_scatter(x=dates, y=q[:, step - 1, 1], name=f"{LABELS.get(name, name)} median", mode="lines",
                        line=dict(color=color, dash="dot" if name == "naive" else None), legendgroup=name)
    fig.update_layout(height=380, margin=dict(l=10, r=10, t=40, b=10), hovermode="x",
                      title=f"Backtest: forecasts made {step} step(s) earlier vs what happened",
                      legend=dict(orientation="h", y=-0.2))
    return fig


def whatif_figure(series: PriceSeries, scenario_values: np.ndarray, base: Forecast, what_if: Forecast,
                  tail: int = 120) -> go.Figure:
    """Base history + forecast beside the edited history + its forecast."""
    fig = go.Figure()
    d = series.dates[-tail:]
    fig.add_scatter(x=d, y=series.values[-tail:], name="history", mode="lines", line=dict(color="black"))
    changed = np.flatnonzero(~np.isclose(scenario_values[-tail:], series.values[-tail:]))
    if len(changed):
        start = max(0, changed[0] - 1)
        fig.add_scatter(x=d[start:], y=scenario_values[-tail:][start:], name="scenario history", mode="lines",
                        line=dict(color="#ff7f0e", dash="dash"))
    for f, color, label, hist_last in ((base, "#1f77b4", "base", series.values[-1]),
                                       (what_if, "#ff7f0e", "scenario", scenario_values[-1])):
        x = [series.dates[-1], *f.dates]
        _band(fig, x, [hist_last, *f.p10], [hist_last, *f.p90], color, label, label)
        fig.add_scatter(x=x, y=[hist_last, *f.p50], name=f"{label} median", mode="lines",
                        line=dict(color=color, width=2), legendgroup=label)
    fig.update_layout(height=400, margin=dict(l=10, r=10, t=40, b=10), hovermode="x",
                      title=f"What-if with {LABELS.get(base.model, base.model)}: scenario vs base",
                      legend=dict(orientation="h", y=-0.15))
    return fig
