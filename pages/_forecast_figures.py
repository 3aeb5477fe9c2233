"""Figures for the forecasting page: forecast fan, backtest against actuals, what-if scenario, the Streamlit
drawing of each section's results (chart, table, verdicts, CSV download), the session's models (download, Keep)
and the page's lecture.

Not a page (leading underscore). Drawing only: the numbers come from seqcore.tasks.forecasting.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from pages._shared import how_it_works, keep_model, safe_filename
from seqcore.checkpoints import zip_bytes
from seqcore.data.prices import PriceSeries
from seqcore.tasks.forecasting import LABELS, BacktestResult, Forecast, default_name, save

COLORS = {"naive": "#7f7f7f", "drift": "#bcbd22", "seasonal_naive": "#8c564b", "linear": "#9467bd",
          "lstm": "#1f77b4", "transformer": "#d62728"}


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


def show_forecasts(series: PriceSeries, forecasts: dict[str, Forecast], horizon: int) -> None:
    """The forecast chart, the quantiles as a table, and the table as a CSV download."""
    st.plotly_chart(forecast_figure(series, list(forecasts.values()), tail=max(120, 5 * horizon)),
                    key="forecast-chart")
    table = pd.DataFrame({"date": next(iter(forecasts.values())).dates.date})
    for n, f in forecasts.items():
        for q in ("p10", "p50", "p90"):
            table[f"{n}_{q}"] = getattr(f, q)
    st.dataframe(table, hide_index=True, key="forecast-table", height=220)
    st.download_button("Download forecast CSV", table.to_csv(index=False).encode(), key="forecast-csv",
                       file_name=safe_filename(f"forecast-{series.name}.csv"), mime="text/csv")


def show_backtest(series: PriceSeries, result: BacktestResult, horizon: int) -> None:
    """Metrics table, the verdicts against the random walk, and the chart at a chosen number of steps ahead."""
    for note in result.skipped.values():
        st.info(note)
    table = result.table().assign(model=lambda d: d["model"].map(LABELS))
    st.dataframe(table, hide_index=True, key="forecast-bt-table",
                 column_config={c: st.column_config.NumberColumn(format="%.3f") for c in table.columns[1:]})
    st.caption(f"{len(result.origins)} rolling origins from {result.origin_dates[0].date()} to "
               f"{result.origin_dates[-1].date()}, every step 1..{horizon} scored; models fixed after learning "
               f"from the first {result.train_rows} rows at most. MASE divides MAE by the in-sample one-step naive "
               f"MAE, so 1.0 is the random walk one step ahead; coverage80 should be near 0.80.")
    for verdict in result.verdicts():
        (st.success if " beats the" in verdict else st.warning)(verdict)
    step = st.slider("Steps ahead to plot", 1, horizon, horizon, key="forecast-bt-step") if horizon > 1 else 1
    st.plotly_chart(backtest_figure(series, result, step), key="forecast-bt-chart")


def show_whatif(series: PriceSeries, scenario_values: np.ndarray, base: Forecast, what_if: Forecast) -> None:
    st.plotly_chart(whatif_figure(series, scenario_values, base, what_if), key="forecast-whatif-chart")
    st.caption(f"{len(base.p50)} steps ahead: base median {base.p50[-1]:,.2f} ({base.p10[-1]:,.2f}.."
               f"{base.p90[-1]:,.2f}); scenario median {what_if.p50[-1]:,.2f} ({what_if.p10[-1]:,.2f}.."
               f"{what_if.p90[-1]:,.2f}).")


def show_downloads(mine: dict, series: PriceSeries) -> None:
    """For each model this session trained on `series`: a download (zip: weights + model card) and Keep this model
    (saved to the server's kept models, within its quota)."""
    if not mine:
        return
    st.subheader("Your trained models")
    for col, (name, model) in zip(st.columns(len(mine)), mine.items(), strict=True):
        stem = default_name(name, series.name)
        col.download_button(f"Download {LABELS[name]} ({model.train_seconds:.0f} s, {model.stopped})",
                            zip_bytes(save, model, model.card, stem), file_name=f"{stem}.zip",
                            mime="application/zip", key=f"forecast-download-{name}")
        with col:
            keep_model(f"forecast-keep-{name}", save, model, model.card, f"{stem}-mine")


def lecture() -> None:
    """The "How it works" expander: the LSTM, attention and quantile-loss equations, problem shape and limits."""
    how_it_works(
        [r"r_t = \log\frac{y_t}{y_{t-1}}, \qquad z_t = \frac{r_t - \mu_{\text{train}}}{\sigma_{\text{train}}}",
         r"f_t = \sigma(W_f[h_{t-1}, z_t] + b_f),\; i_t = \sigma(W_i[h_{t-1}, z_t] + b_i),\; "
         r"o_t = \sigma(W_o[h_{t-1}, z_t] + b_o)",
         r"c_t = f_t \odot c_{t-1} + i_t \odot \tanh(W_c[h_{t-1}, z_t] + b_c), \qquad h_t = o_t \odot \tanh(c_t)",
         r"\mathrm{Attention}(Q, K, V) = \mathrm{softmax}\!\left(\frac{QK^\top}{\sqrt{d_k}}\right) V",
         r"\hat q_{\tau, h} = W h_T + b \quad (h = 1..H,\ \tau \in \{0.1, 0.5, 0.9\})",
         r"L_\tau(y, \hat q) = \max\big(\tau (y - \hat q),\ (\tau - 1)(y - \hat q)\big)"],
        "**Problem shape:** many-to-one in, many-out by a direct head: the encoder (LSTM, or a Transformer encoder "
        "over the window) reads *lookback* standardised log returns (differences for temperatures) and one linear "
        "layer outputs the 10/50/90% quantiles of the cumulative return 1..H steps ahead, trained with the pinball "
        "loss; the band is then widened or narrowed so 80% of the validation windows fall inside it "
        "(split-conformal). The mean and spread come from the training part only. **Baselines:** naive (last "
        "value), drift (average past return), seasonal naive (one season back) and a ridge autoregression; their "
        "bands come from the spread of past changes. **Backtest:** rolling origins over the last K dates, every "
        "model fixed after learning from the rows before them.",
        limits="daily prices are close to a random walk, so expect these models to tie the naive forecast at best, "
               "and bands learned in one volatility regime are too wide or too narrow in another.",
    )
