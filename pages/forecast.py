"""Stock forecasting: LSTM and Transformer quantile forecasts beside the random walk, backtests, what-if."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import streamlit as st

from pages import _shared as kit
from pages._forecast_figures import lecture, show_backtest, show_downloads, show_forecasts, show_whatif
from pages._shared import adopt, busy, checkpoint_problem, show_job, start_job, unreadable_shipped, upload_too_big
from seqcore.checkpoints import info_at, shared_load, shipped_dir
from seqcore.data import live
from seqcore.data.prices import EMBEDDED, MISSING_RULE, PriceSeries, load_embedded, read_csv_series
from seqcore.errors import SeqcoreError
from seqcore.tasks import forecasting as fc

JOB, TRAINED, LIVE = "forecast-job", "forecast-trained", "forecast-live-series"
OPTIONAL = ["lstm", "transformer", "linear", "drift", "seasonal_naive"]
UPLOAD_MB, SIZES = 5, [8, 16, 32, 64]
LABELS, D = fc.LABELS, fc.Config()  # the widgets start from the task's defaults
SOURCES = {"Embedded": "embedded", "Upload CSV": "upload", "Live (Yahoo Finance)": "live"}  # label -> in links


def shipped(kind: str) -> tuple[fc.NeuralForecaster | None, str]:
    """(the shipped GOOG model of this kind, "") or (None, why it cannot be used); loaded once per file version
    and shared by every session, so read-only (predict runs under inference_mode)."""
    stem = shipped_dir() / fc.default_name(kind)
    try:
        return shared_load(fc.load, info_at(stem, "shipped"))[0], ""
    except SeqcoreError as e:
        return None, unreadable_shipped([stem.name]).get(stem.name) or str(e)


@st.cache_data(max_entries=4, show_spinner=False)
def embedded(dataset: str, column: str) -> PriceSeries:
    return load_embedded(dataset, column)


def choose_series() -> PriceSeries:
    """The series the page works on; any failure says why and falls back to embedded GOOG."""
    source = st.radio("Data source", list(SOURCES), horizontal=True, key="forecast-source")
    fallback, goog = "The page shows the embedded GOOG closes instead.", embedded("GOOG", "Close")
    if source == "Embedded":
        c1, c2 = st.columns(2)
        dataset = c1.selectbox("Dataset", list(EMBEDDED), key="forecast-dataset")
        return embedded(dataset, c2.selectbox("Column", EMBEDDED[dataset][2], key="forecast-column"))
    if source == "Upload CSV":
        up = st.file_uploader("CSV with a date column and a numeric column", type=["csv"], key="forecast-upload",
                              max_upload_size=UPLOAD_MB)
        c1, c2 = st.columns(2)
        date_col = c1.text_input("Date column (blank: detect)", key="forecast-date-col").strip() or None
        value_col = c2.text_input("Value column (blank: Close or the first numeric)", key="forecast-value-col").strip()
        st.caption(f"Rule for gaps and missing values: {MISSING_RULE}")
        if up is None:
            st.info(f"Upload a file to forecast it. {fallback}")
            return goog
        if upload_too_big(up, UPLOAD_MB, fallback):
            return goog
        try:
            s = read_csv_series(up.getvalue(), date_column=date_col, column=value_col or None, name=value_col or None)
        except SeqcoreError as e:
            st.error(f"{kit.inert(f'{up.name}: {e}')}. {fallback}")  # inert: the name and columns are the user's
            return goog
        for note in s.notes:
            st.warning(f"{kit.inert(f'{up.name}: {note}')}.")
        return s
    c1, c2, c3, c4 = st.columns([2, 1, 1, 1], vertical_alignment="bottom")
    ticker = c1.text_input("Ticker", max_chars=15, key="forecast-ticker")
    period = c2.selectbox("Period", live.PERIODS, index=live.PERIODS.index("5y"), key="forecast-period")
    interval = c3.selectbox("Interval", live.INTERVALS, key="forecast-interval")
    if c4.button("Fetch", key="forecast-fetch", icon=":material/download:"):
        try:
            st.session_state[LIVE] = live.fetch_prices(ticker, period, interval)
        except SeqcoreError as e:
            st.session_state.pop(LIVE, None)
            st.error(f"{kit.inert(str(e))} {fallback}")  # it quotes the ticker as typed
            return goog
    s = st.session_state.get(LIVE)
    if s is None:
        st.info(f"Press Fetch to download {kit.inert(ticker.strip().upper()) or 'a ticker'} (cached on disk for an "
                f"hour). {fallback}")
        return goog
    st.caption(f"{s.name}: {len(s)} rows, {s.dates[0].date()}..{s.dates[-1].date()}, source: {s.source}")
    for note in s.notes:
        st.warning(note)
    return s


def settings(series: PriceSeries) -> tuple[fc.ForecastTaskConfig, list[str], int]:
    models = st.multiselect("Models (the naive random walk is always shown)", OPTIONAL, format_func=LABELS.get,
                            key="forecast-models")
    c = st.columns(6)
    lookback = c[0].slider("Lookback", 5, 120, D.lookback, key="forecast-lookback", help="steps the model reads")
    horizon = c[1].slider("Horizon", 1, fc.MAX_HORIZON, key="forecast-horizon", help="steps ahead")
    epochs = c[2].number_input("Epochs", 1, 100, D.epochs, key="forecast-epochs")
    hidden = c[3].selectbox("Hidden size", SIZES, index=SIZES.index(D.hidden), key="forecast-hidden")
    seed = c[4].number_input("Seed", 0, 10_000, D.seed, key="forecast-seed")
    season = c[5].number_input("Season (steps)", 0, 400, 5 if series.kind == "price" else 365, key="forecast-season",
                               help="for seasonal naive: 5 = a trading week, 365 = a year of days")
    folds = st.slider("Backtest origins (the last K forecast origins)", 10, 200, fc.DEFAULT_FOLDS, key="forecast-folds")
    cfg = fc.Config(model="naive", lookback=int(lookback), horizon=int(horizon), epochs=int(epochs),
                    hidden=int(hidden), seed=int(seed), season=int(season), time_budget_s=fc.PAGE_BUDGET_S)
    return cfg, models, int(folds)


def serves(model: fc.Forecaster | None, series: PriceSeries, cfg: fc.ForecastTaskConfig) -> bool:
    return (model is not None and model.fit_series == series.name and model.cfg.lookback == cfg.lookback
            and model.cfg.hidden == cfg.hidden and model.cfg.horizon >= cfg.horizon)


def start_training(configs: list[fc.ForecastTaskConfig]):
    """Train these models one after another in a background job (the task numbers and names the steps)."""
    return start_job(JOB, lambda on_progress, stop: fc.train_models(
        configs, on_progress=on_progress, stop=stop, command="Sequence Studio forecast page"), name="forecast")


def train_panel(series: PriceSeries, cfg: fc.ForecastTaskConfig, models: list[str], folds: int) -> None:
    neural = [m for m in models if m in fc.NEURAL]
    rows = fc.rows_before_backtest(len(series), cfg.horizon, folds)
    if st.button("Train " + (", ".join(LABELS[m] for m in neural) or "(choose LSTM or Transformer)"),
                 key="forecast-train", type="primary", icon=":material/play_arrow:", disabled=busy(JOB) or not neural):
        start_training([replace(cfg, model=m, series=series, train_rows=rows) for m in neural])
    st.caption(f"Training uses the first {rows} of {len(series)} rows (everything before the backtest window) "
               f"with its last 15% of windows for validation and early stopping; the forecast then reads the "
               f"latest {cfg.lookback} steps with the same weights.")
    show_job(JOB)
    if result := adopt(JOB):  # a finished run's models join the session's once; earlier ones stay otherwise
        st.session_state.setdefault(TRAINED, {}).update(result)
        st.rerun()


def fitted_models(series: PriceSeries, cfg: fc.ForecastTaskConfig, models: list[str], folds: int):
    """{name: model} ready to forecast, a caption on where each neural one comes from; baselines fit in ms."""
    out = {}
    for name in ["naive", *models]:
        if name not in fc.NEURAL:
            rows = fc.rows_before_backtest(len(series), cfg.horizon, folds)
            out[name] = fc.build(replace(cfg, model=name), series.kind).fit(series.values[:rows],
                                                                            series_name=series.name)
        elif serves(mine := st.session_state.get(TRAINED, {}).get(name), series, cfg):
            out[name] = mine
            st.caption(f"{LABELS[name]}: trained in this session.")
        elif serves(model := shipped(name)[0], series, cfg):
            out[name] = model
            st.caption(f"{LABELS[name]}: shipped checkpoint (trained on {model.fit_rows} rows).")
        else:
            st.caption(f"{LABELS[name]}: no model for {series.name} with lookback {cfg.lookback}, hidden "
                       f"{cfg.hidden} and horizon {cfg.horizon} yet; press Train (seconds on a CPU).")
    return out


def whatif_section(series: PriceSeries, cfg: fc.ForecastTaskConfig, models: dict) -> None:
    st.subheader("What-if")
    st.caption("Change the recent past and re-forecast with the same weights: no retraining.")
    c1, c2, c3, c4 = st.columns(4)
    name = c1.selectbox("Model", [n for n in ("lstm", "transformer", "linear", "drift", "naive") if n in models],
                        format_func=LABELS.get, key="forecast-whatif-model")
    shock = c2.slider("Shock to the last value (%)", -50, 50, key="forecast-shock")
    vol = c3.slider("Scale recent volatility (x)", 0.0, 3.0, 1.0, step=0.25, key="forecast-vol",
                    help="the last 20 steps' deviations from their mean step are multiplied by this")
    n_edit = c4.number_input("Edit the last N values", 0, 30, 0, key="forecast-edit-n")
    edits = None
    if n_edit:
        rows = pd.DataFrame({"date": series.dates[-n_edit:].date, "value": series.values[-n_edit:]})
        edited = st.data_editor(rows, key="forecast-editor", disabled=["date"], hide_index=True, num_rows="fixed")
        edits = pd.to_numeric(edited["value"], errors="coerce").to_numpy(float)
    try:
        values = fc.scenario(series.values, series.kind, shock=shock / 100, vol_scale=float(vol), edits=edits)
        base = fc.forecast(models[name], series, cfg.horizon)
        what_if = fc.forecast(models[name], series, cfg.horizon, history=values)
    except SeqcoreError as e:
        st.error(f"{e}. Change the scenario above.")
        return
    show_whatif(series, values, base, what_if)


def shipped_banners() -> None:
    """A broken shipped checkpoint: its banner with Retrain, or which of this session's models stands in for it."""
    for kind in fc.NEURAL:
        why, label, mine = shipped(kind)[1], LABELS[kind], st.session_state.get(TRAINED, {}).get(kind)
        problem = f"The shipped checkpoint {fc.default_name(kind)} cannot be used: {why}"
        if why and mine is not None and mine.fit_series == embedded("GOOG", "Close").name:
            st.info(f"{problem}. Your session's {label}, trained on GOOG, is used in its place where the settings "
                    "match.")
        elif why:
            checkpoint_problem(f"{problem}. Press Retrain {label} to train it again in your session with the default "
                               "settings (`make models` rebuilds the shipped file); the other models work as before.",
                               key=f"forecast-retrain-{kind}", name=label, busy=busy(JOB), where="below the Train "
                               "button", retrain=lambda kind=kind: start_training(
                                   [fc.shipped_config(kind, time_budget_s=fc.PAGE_BUDGET_S)]))


def checked(series: PriceSeries, cfg: fc.ForecastTaskConfig, chosen: list[str], folds: int) -> PriceSeries:
    """The series if the settings fit it; for a short upload or download, embedded GOOG after saying why."""
    goog = embedded("GOOG", "Close")
    for s in (series, goog):
        try:
            fc.check_fit(s, cfg, chosen, folds)
            return s
        except SeqcoreError as e:
            user_data = s is series and s.source != goog.source and st.session_state["forecast-source"] != "Embedded"
            st.error(f"{e}. The page shows the embedded GOOG closes meanwhile." if user_data else f"{e}.")
            if not user_data:
                st.stop()
    return goog


st.title("Stock forecasting")
st.write("An LSTM and a Transformer read the last *lookback* daily moves and forecast the next *horizon* steps "
         "as a median with an 80% band, beside the random walk (tomorrow = today), which is famously hard to beat "
         "on prices. The backtest below says plainly whether they beat it here.")
links = kit.PageLinks("forecast", [  # what a link carries: name in the URL, widget key, allowed values, default
    kit.choice("source", "forecast-source", SOURCES, label=SOURCES.get),
    kit.choice("dataset", "forecast-dataset", EMBEDDED),
    kit.Link("ticker", "forecast-ticker", "AAPL", live.check_ticker, cap=15),
    kit.choices("models", "forecast-models", OPTIONAL, fc.NEURAL),
    kit.number("horizon", "forecast-horizon", 1, fc.MAX_HORIZON, D.horizon),
    kit.number("shock", "forecast-shock", -50, 50, 0)])
lecture()
series = choose_series()
cfg, chosen, folds = settings(series)
links.publish()
series = checked(series, cfg, chosen, folds)
shipped_banners()
train_panel(series, cfg, chosen, folds)
try:
    models = fitted_models(series, cfg, chosen, folds)
except SeqcoreError as e:
    st.error(f"{e}. Change the settings above.")
    st.stop()
st.subheader("Forecast")
show_forecasts(series, {n: fc.forecast(m, series, cfg.horizon) for n, m in models.items()}, cfg.horizon)
st.subheader("Backtest")
try:
    show_backtest(series, fc.backtest(series, cfg, models, folds=folds, refit=False), cfg.horizon)
except SeqcoreError as e:
    st.error(f"Backtest: {e}.")  # each message names what to change
whatif_section(series, cfg, models)
show_downloads({n: m for n, m in st.session_state.get(TRAINED, {}).items() if m.fit_series == series.name}, series)
