"""Stock forecasting: LSTM and Transformer quantile forecasts beside the random walk, backtests, what-if."""

from __future__ import annotations

import dataclasses
import io
import tempfile
import zipfile
from pathlib import Path

import pandas as pd
import streamlit as st

from pages._forecast_figures import LABELS, backtest_figure, forecast_figure, whatif_figure
from pages._shared import (
    checkpoint_problem,
    how_it_works,
    safe_filename,
    show_job,
    start_job,
    trained,
    unreadable_shipped,
    upload_too_big,
)
from seqcore.checkpoints import list_checkpoints
from seqcore.data import live
from seqcore.data.prices import EMBEDDED, MISSING_RULE, PriceSeries, load_embedded, read_csv_series
from seqcore.errors import SeqcoreError
from seqcore.tasks import forecasting as fc
from seqcore.train import Progress


@dataclasses.dataclass
class ModelProgress(Progress):
    """A training record that names its model, so the shared panel can say which one is training."""

    model: str = ""


JOB, TRAINED, STORED, LIVE = "fc-job", "fc-trained", "fc-stored", "fc-live-series"
OPTIONAL = ["lstm", "transformer", "linear", "drift", "seasonal_naive"]
UPLOAD_MB = 5
# The page's default settings; the shipped checkpoints were trained with them (horizon up to MAX_HORIZON),
# and "Retrain" after a broken shipped checkpoint uses them too.
DEFAULTS = dict(lookback=30, horizon=20, epochs=15, hidden=32, seed=0, folds=50)


@st.cache_resource(show_spinner="Loading the shipped forecasters...")
def shipped_models() -> tuple[dict[str, fc.NeuralForecaster], list[tuple[str, str]]]:
    """Shipped GOOG forecasters by model name (read-only, used under inference_mode inside predict), and
    (model name, "checkpoint X cannot be used: why") for each shipped checkpoint that could not be loaded."""
    out, problems = {}, []
    for info in list_checkpoints(fc.TASK):
        if info.source != "shipped":
            continue
        try:
            model, _ = fc.load_forecaster(info.name)
        except SeqcoreError as e:
            name = info.card.get("config", {}).get("forecast", {}).get("model", info.arch)
            problems.append((name, f"The shipped checkpoint {info.name} cannot be used: {e}"))
            continue
        out.setdefault(model.name, model)
    unreadable = unreadable_shipped([f"forecast-goog-{m}" for m in fc.NEURAL])
    problems += [(name.removeprefix("forecast-goog-"), f"The shipped checkpoint {name} cannot be used: {why}")
                 for name, why in unreadable.items()]
    return out, problems


@st.cache_data(max_entries=4, show_spinner=False)
def embedded(dataset: str, column: str) -> PriceSeries:
    return load_embedded(dataset, column)


def choose_series() -> PriceSeries:
    """The series the page works on; any failure says why and falls back to embedded GOOG."""
    source = st.radio("Data source", ["Embedded", "Upload CSV", "Live (Yahoo Finance)"], horizontal=True,
                      key="fc-source")
    fallback = "The page shows the embedded GOOG closes instead."
    if source == "Embedded":
        c1, c2 = st.columns(2)
        dataset = c1.selectbox("Dataset", list(EMBEDDED), key="fc-dataset")
        column = c2.selectbox("Column", EMBEDDED[dataset][2], key="fc-column")
        return embedded(dataset, column)
    if source == "Upload CSV":
        up = st.file_uploader("CSV with a date column and a numeric column", type=["csv"], key="fc-upload",
                              max_upload_size=UPLOAD_MB)
        c1, c2 = st.columns(2)
        date_col = c1.text_input("Date column (blank: detect)", key="fc-date-col").strip() or None
        value_col = c2.text_input("Value column (blank: Close or the first numeric)", key="fc-value-col").strip()
        st.caption(f"Rule for gaps and missing values: {MISSING_RULE}")
        if up is None:
            st.info(f"Upload a file to forecast it. {fallback}")
            return embedded("GOOG", "Close")
        if upload_too_big(up, UPLOAD_MB, fallback):
            return embedded("GOOG", "Close")
        try:
            s = read_csv_series(up.getvalue(), date_column=date_col, column=value_col or None,
                                name=value_col or None)
        except SeqcoreError as e:
            st.error(f"{up.name}: {e}. {fallback}")
            return embedded("GOOG", "Close")
        for note in s.notes:
            st.warning(f"{up.name}: {note}.")
        return s
    c1, c2, c3, c4 = st.columns([2, 1, 1, 1], vertical_alignment="bottom")
    ticker = c1.text_input("Ticker", "AAPL", max_chars=15, key="fc-ticker")
    period = c2.selectbox("Period", live.PERIODS, index=live.PERIODS.index("5y"), key="fc-period")
    interval = c3.selectbox("Interval", live.INTERVALS, key="fc-interval")
    if c4.button("Fetch", key="fc-fetch", icon=":material/download:"):
        try:
            st.session_state[LIVE] = live.fetch_prices(ticker, period, interval)
        except SeqcoreError as e:
            st.session_state.pop(LIVE, None)
            st.error(f"{e} {fallback}")
            return embedded("GOOG", "Close")
    s = st.session_state.get(LIVE)
    if s is None:
        st.info(f"Press Fetch to download {ticker.strip().upper() or 'a ticker'} (cached on disk for an hour). "
                f"{fallback}")
        return embedded("GOOG", "Close")
    st.caption(f"{s.name}: {len(s)} rows, {s.dates[0].date()}..{s.dates[-1].date()}, source: {s.source}")
    for note in s.notes:
        st.warning(note)
    return s


def settings(series: PriceSeries) -> tuple[fc.ForecastConfig, list[str], int]:
    models = st.multiselect("Models (the naive random walk is always shown)", OPTIONAL, default=["lstm", "transformer"],
                            format_func=LABELS.get, key="fc-models")
    c = st.columns(6)
    lookback = c[0].slider("Lookback", 5, 120, DEFAULTS["lookback"], key="fc-lookback", help="steps the model reads")
    horizon = c[1].slider("Horizon", 1, fc.MAX_HORIZON, DEFAULTS["horizon"], key="fc-horizon", help="steps ahead")
    epochs = c[2].number_input("Epochs", 1, 100, DEFAULTS["epochs"], key="fc-epochs")
    hidden = c[3].selectbox("Hidden size", [8, 16, 32, 64], index=[8, 16, 32, 64].index(DEFAULTS["hidden"]),
                            key="fc-hidden")
    seed = c[4].number_input("Seed", 0, 10_000, DEFAULTS["seed"], key="fc-seed")
    season = c[5].number_input("Season (steps)", 0, 400, 5 if series.kind == "price" else 365, key="fc-season",
                               help="for seasonal naive: 5 = a trading week, 365 = a year of days")
    folds = st.slider("Backtest origins (the last K forecast origins)", 10, 200, DEFAULTS["folds"], key="fc-folds")
    cfg = fc.ForecastConfig(model="naive", lookback=int(lookback), horizon=int(horizon), epochs=int(epochs),
                            hidden=int(hidden), seed=int(seed), season=int(season), time_budget_s=120.0)
    return cfg, models, int(folds)


def train_rows(series: PriceSeries, cfg: fc.ForecastConfig, folds: int) -> int:
    """Models learn from the rows before the backtest window, so their backtest is out of sample."""
    return len(series) - folds - cfg.horizon


def matches(model: fc.Forecaster | None, series: PriceSeries, cfg: fc.ForecastConfig) -> bool:
    return (model is not None and model.fit_series == series.name and model.cfg.lookback == cfg.lookback
            and model.cfg.hidden == cfg.hidden and model.cfg.horizon >= cfg.horizon)


def neural_model(name: str, series: PriceSeries, cfg: fc.ForecastConfig) -> tuple[fc.Forecaster | None, str]:
    """(model, where it came from): this session's training first, then the shipped checkpoint."""
    mine = st.session_state.get(TRAINED, {}).get(name)
    if matches(mine, series, cfg):
        return mine, "trained in this session"
    shipped = shipped_models()[0].get(name)
    if matches(shipped, series, cfg):
        return shipped, f"shipped checkpoint (trained on {shipped.fit_rows} rows)"
    return None, ""


def start_training(series: PriceSeries, cfg: fc.ForecastConfig, names: list[str], folds: int):
    """Train the neural models `names` on the rows before the backtest window, in a background job."""
    configs = [dataclasses.replace(cfg, model=m) for m in names]
    values, name, kind = series.values[:train_rows(series, cfg, folds)].copy(), series.name, series.kind

    def run(on_progress, stop):
        out, offset = {}, 0
        for c in configs:
            if stop.is_set():
                break
            m = fc.make_forecaster(c, kind)
            # one continuous loss curve across models: shift each model's steps past the previous one
            m.fit(values, series_name=name, stop=stop,
                  on_progress=lambda p, o=offset, label=LABELS[c.model]: on_progress(ModelProgress(
                      **{**dataclasses.asdict(p), "step": p.step + o, "total_steps": p.total_steps + o,
                         "model": label})))
            if not m.history:  # stopped before its first step: random weights must not replace a working model
                break
            offset += m.history[-1].step
            out[c.model] = m
        return out

    return start_job(JOB, run, name="forecast")


def retrain_default(name: str):
    """Retrain one shipped model in the session with the page's defaults, on the data it was shipped for."""
    cfg = fc.ForecastConfig(model=name, lookback=DEFAULTS["lookback"], horizon=fc.MAX_HORIZON,
                            epochs=DEFAULTS["epochs"], hidden=DEFAULTS["hidden"], seed=DEFAULTS["seed"],
                            time_budget_s=120.0)
    return start_training(embedded("GOOG", "Close"), cfg, [name], DEFAULTS["folds"])


def train_panel(series: PriceSeries, cfg: fc.ForecastConfig, models: list[str], folds: int) -> None:
    neural = [m for m in models if m in fc.NEURAL]
    job = st.session_state.get(JOB)
    busy = job is not None and job.running
    rows = train_rows(series, cfg, folds)
    if st.button("Train " + (", ".join(LABELS[m] for m in neural) or "(choose LSTM or Transformer)"),
                 key="fc-train", type="primary", icon=":material/play_arrow:", disabled=busy or not neural):
        start_training(series, cfg, neural, folds)
    st.caption(f"Training uses the first {rows} of {len(series)} rows (everything before the backtest window) "
               f"with its last 15% of windows for validation and early stopping; the forecast then reads the "
               f"latest {cfg.lookback} steps with the same weights.")
    show_job(JOB)
    keep_finished_run()


def keep_finished_run() -> None:
    """Move a finished job's models into the session once; the previous models stay on failure or an early Stop."""
    job = st.session_state.get(JOB)
    result = trained(job)
    if not result or st.session_state.get(STORED) is job:
        return
    st.session_state.setdefault(TRAINED, {}).update(result)
    st.session_state[STORED] = job
    st.rerun()


def fitted_models(series: PriceSeries, cfg: fc.ForecastConfig, models: list[str], folds: int):
    """{name: model} ready to forecast, plus notes; baselines are fitted on the spot (milliseconds)."""
    out, notes = {}, []
    rows = train_rows(series, cfg, folds)
    for name in ["naive", *models]:
        if name in fc.NEURAL:
            model, where = neural_model(name, series, cfg)
            if model is None:
                notes.append(f"{LABELS[name]}: no model for {series.name} with lookback {cfg.lookback}, hidden "
                             f"{cfg.hidden} and horizon {cfg.horizon} yet; press Train (seconds on a CPU).")
                continue
            notes.append(f"{LABELS[name]}: {where}.")
        else:
            model = fc.make_forecaster(dataclasses.replace(cfg, model=name), series.kind)
            model.fit(series.values[:rows], series_name=series.name)
        out[name] = model
    return out, notes


def forecast_section(series: PriceSeries, cfg: fc.ForecastConfig, models: dict) -> dict[str, fc.Forecast]:
    st.subheader("Forecast")
    forecasts = {n: fc.forecast(m, series, cfg.horizon) for n, m in models.items()}
    st.plotly_chart(forecast_figure(series, list(forecasts.values()), tail=max(120, 5 * cfg.horizon)),
                    key="fc-chart")
    table = pd.DataFrame({"date": next(iter(forecasts.values())).dates.date})
    for n, f in forecasts.items():
        for q in ("p10", "p50", "p90"):
            table[f"{n}_{q}"] = getattr(f, q)
    st.dataframe(table, hide_index=True, key="fc-table", height=220)
    st.download_button("Download forecast CSV", table.to_csv(index=False).encode(), key="fc-csv",
                       file_name=safe_filename(f"forecast-{series.name}.csv"), mime="text/csv")
    return forecasts


def backtest_section(series: PriceSeries, cfg: fc.ForecastConfig, models: dict, folds: int) -> None:
    st.subheader("Backtest")
    try:
        result = fc.backtest(series, cfg, models, folds=folds, refit=False)
    except SeqcoreError as e:
        st.error(f"Backtest: {e}.")  # each message names what to change
        return
    for note in result.skipped.values():
        st.info(note)
    table = result.table().assign(model=lambda d: d["model"].map(LABELS))
    st.dataframe(table, hide_index=True, key="fc-bt-table",
                 column_config={c: st.column_config.NumberColumn(format="%.3f") for c in table.columns[1:]})
    st.caption(f"{len(result.origins)} rolling origins from {result.origin_dates[0].date()} to "
               f"{result.origin_dates[-1].date()}, every step 1..{cfg.horizon} scored; models fixed after learning "
               f"from the first {result.train_rows} rows at most. MASE divides MAE by the in-sample one-step naive "
               f"MAE, so 1.0 is the random walk one step ahead; coverage80 should be near 0.80.")
    for verdict in result.verdicts():
        (st.success if " beats the" in verdict else st.warning)(verdict)
    step = st.slider("Steps ahead to plot", 1, cfg.horizon, cfg.horizon, key="fc-bt-step") if cfg.horizon > 1 else 1
    st.plotly_chart(backtest_figure(series, result, step), key="fc-bt-chart")


def whatif_section(series: PriceSeries, cfg: fc.ForecastConfig, models: dict) -> None:
    st.subheader("What-if")
    st.caption("Change the recent past and re-forecast with the same weights: no retraining.")
    names = [n for n in ("lstm", "transformer", "linear", "drift", "naive") if n in models]
    c1, c2, c3, c4 = st.columns(4)
    name = c1.selectbox("Model", names, format_func=LABELS.get, key="fc-whatif-model")
    shock = c2.slider("Shock to the last value (%)", -50, 50, 0, key="fc-shock")
    vol = c3.slider("Scale recent volatility (x)", 0.0, 3.0, 1.0, step=0.25, key="fc-vol",
                    help="the last 20 steps' deviations from their mean step are multiplied by this")
    n_edit = c4.number_input("Edit the last N values", 0, 30, 0, key="fc-edit-n")
    edits = None
    if n_edit:
        base_rows = pd.DataFrame({"date": series.dates[-n_edit:].date, "value": series.values[-n_edit:]})
        edited = st.data_editor(base_rows, key="fc-editor", disabled=["date"], hide_index=True,
                                num_rows="fixed")
        edits = pd.to_numeric(edited["value"], errors="coerce").to_numpy(float)
    try:
        values = fc.scenario(series.values, series.kind, shock=shock / 100, vol_scale=float(vol), edits=edits)
        model = models[name]
        base = fc.forecast(model, series, cfg.horizon)
        what_if = fc.forecast(model, series, cfg.horizon, history=values)
    except SeqcoreError as e:
        st.error(f"{e}. Change the scenario above.")
        return
    st.plotly_chart(whatif_figure(series, values, base, what_if), key="fc-whatif-chart")
    h = cfg.horizon
    st.caption(f"{h} steps ahead: base median {base.p50[-1]:,.2f} ({base.p10[-1]:,.2f}..{base.p90[-1]:,.2f}); "
               f"scenario median {what_if.p50[-1]:,.2f} ({what_if.p10[-1]:,.2f}..{what_if.p90[-1]:,.2f}).")


def download_section(series: PriceSeries) -> None:
    mine = {n: m for n, m in st.session_state.get(TRAINED, {}).items() if m.fit_series == series.name}
    if not mine:
        return
    st.subheader("Your trained models")
    from seqcore.checkpoints import save_checkpoint

    cols = st.columns(len(mine))
    for col, (name, model) in zip(cols, mine.items(), strict=True):
        buf = io.BytesIO()
        with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(buf, "w") as z:
            stem = Path(tmp) / safe_filename(f"forecast-{series.name}-{name}")
            save_checkpoint(model.net, fc.model_card(model, series, {}, command="Sequence Studio forecast page"), stem)
            for suffix in (".safetensors", ".json"):
                z.write(stem.with_suffix(suffix), stem.with_suffix(suffix).name)
        col.download_button(f"Download {LABELS[name]} ({model.train_seconds:.0f} s, {model.stopped})",
                            buf.getvalue(), file_name=f"{stem.name}.zip", mime="application/zip",
                            key=f"fc-download-{name}")


st.title("Stock forecasting")
st.write("An LSTM and a Transformer read the last *lookback* daily moves and forecast the next *horizon* steps "
         "as a median with an 80% band, beside the random walk (tomorrow = today), which is famously hard to beat "
         "on prices. The backtest below says plainly whether they beat it here.")
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
    "(split-conformal). The mean and spread come from the training part only. **Baselines:** naive (last value), drift "
    "(average past return), seasonal naive (one season back) and a ridge autoregression; their bands come "
    "from the spread of past changes. **Backtest:** rolling origins over the last K dates, every model fixed "
    "after learning from the rows before them.",
    limits="daily prices are close to a random walk, so expect these models to tie the naive forecast at best, "
           "and bands learned in one volatility regime are too wide or too narrow in another.",
)

def check_settings(series: PriceSeries, cfg: fc.ForecastConfig, chosen: list[str], folds: int) -> None:
    """SeqcoreError naming what to change when the settings do not fit the series."""
    if "seasonal_naive" in chosen and cfg.season < 1:
        raise SeqcoreError("seasonal naive needs a season of at least 1 step; set Season or drop the model")
    cfg.check()
    needed = cfg.min_rows() + folds + cfg.horizon
    if len(series) < needed:
        raise SeqcoreError(f"{series.name} has {len(series)} rows but lookback {cfg.lookback}, horizon "
                           f"{cfg.horizon} and {folds} backtest origins need {needed}; lower them or use a longer "
                           f"series")
    if "seasonal_naive" in chosen and cfg.season > train_rows(series, cfg, folds) // 2:
        raise SeqcoreError(f"a season of {cfg.season} steps is too long for {series.name}; use at most "
                           f"{train_rows(series, cfg, folds) // 2}")


series = choose_series()
cfg, chosen, folds = settings(series)
try:
    check_settings(series, cfg, chosen, folds)
except SeqcoreError as e:
    goog = embedded("GOOG", "Close")
    if series.source == goog.source or st.session_state.get("fc-source") == "Embedded":
        st.error(f"{e}.")
        st.stop()
    # A short upload or a download cut short: say why, and keep the page working on the embedded data.
    st.error(f"{e}. The page shows the embedded GOOG closes meanwhile.")
    series = goog
    try:
        check_settings(series, cfg, chosen, folds)
    except SeqcoreError as e2:
        st.error(f"{e2}.")
        st.stop()

job = st.session_state.get(JOB)
for name, problem in shipped_models()[1]:
    label = LABELS.get(name, name)
    mine = st.session_state.get(TRAINED, {}).get(name)
    if mine is not None and mine.fit_series == "GOOG Close":  # already retrained: say what stands in for it
        st.info(f"{problem}. Your session's {label}, trained on GOOG, is used in its place where the settings match.")
        continue
    checkpoint_problem(f"{problem}. Press Retrain {label} to train it again in your session with the default "
                       f"settings (`make models` rebuilds the shipped file); the other models work as before.",
                       key=f"fc-retrain-{name}", name=label, busy=job is not None and job.running,
                       retrain=lambda name=name: retrain_default(name), where="below the Train button")
train_panel(series, cfg, chosen, folds)
try:
    models, notes = fitted_models(series, cfg, chosen, folds)
except SeqcoreError as e:
    st.error(f"{e}. Change the settings above.")
    st.stop()
for note in notes:
    st.caption(note)
forecasts = forecast_section(series, cfg, models)
backtest_section(series, cfg, models, folds)
whatif_section(series, cfg, models)
download_section(series)
