"""Live prices from Yahoo Finance (yfinance), cached on disk with a TTL; never made-up numbers.

yfinance's real behaviours (checked with 1.7): `download` does not raise on a failed ticker or no
network, it prints "1 Failed download" and returns an empty frame with MultiIndex columns
(('Close', 'AAPL'), ...); rate limits raise YFRateLimitError; other failures raise from curl_cffi.
Each becomes a LiveDataError whose message says what happened and that the embedded data still works.
A fresh cache file answers without a request; when a request fails, a stale cache file is used
(and said to be stale) before giving up.

A download that fails half-way (rows then missing closes, a reported failure beside some rows, data that
stops long before today) keeps the rows that are real and says in the series' notes what is missing; such
a download is not cached, so the next Fetch retries. A cache that cannot be written (read-only or full
disk) is a note too: the prices still come back.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from seqcore.data.prices import PriceSeries
from seqcore.errors import SeqcoreError, quote

TICKER_RE = re.compile(r"^[A-Za-z0-9.\-^=]{1,15}$")
PERIODS = ("1mo", "3mo", "6mo", "1y", "2y", "5y", "10y", "max")
INTERVALS = ("1d", "1wk", "1mo", "1h")
DEFAULT_TTL_S = 3600.0
PERIOD_DAYS = {"1mo": 31, "3mo": 92, "6mo": 183, "1y": 366, "2y": 731, "5y": 1827, "10y": 3653, "max": None}
INTERVAL_DAYS = {"1d": 1.0, "1wk": 7.0, "1mo": 31.0, "1h": 1 / 24}
FALLBACK = "Use the embedded GOOG data instead (it works offline)."


class LiveDataError(SeqcoreError):
    """Live prices could not be fetched; the message says why and offers the embedded data."""


def cache_dir() -> Path:
    home = os.environ.get("SEQCORE_HOME") or Path.home() / ".cache" / "seqcore"
    return Path(home) / "cache"


def check_ticker(ticker: str) -> str:
    t = (ticker or "").strip().upper()
    if not TICKER_RE.match(t):
        raise LiveDataError(f"ticker {quote(ticker)} is not valid: use 1-15 letters, digits, '.', '-', '^' or '=' "
                            f"(e.g. AAPL, BRK-B, ^GSPC, EURUSD=X)")
    return t


def _cache_path(ticker: str, period: str, interval: str) -> Path:
    safe = re.sub(r"[^A-Z0-9.=-]", "_", ticker)  # '^' is legal in tickers, not wanted in file names
    return cache_dir() / f"yf-{safe}-{period}-{interval}.csv"


def flatten_columns(df: pd.DataFrame, ticker: str) -> pd.DataFrame:
    """yfinance's (field, ticker) MultiIndex columns -> plain field names for one ticker."""
    if isinstance(df.columns, pd.MultiIndex):
        levels = [list(map(str, df.columns.get_level_values(i))) for i in range(df.columns.nlevels)]
        field_level = next((i for i, lv in enumerate(levels) if "Close" in lv), 0)
        if df.columns.nlevels > 1:
            other = 1 - field_level if df.columns.nlevels == 2 else None
            if other is not None and ticker in levels[other]:
                df = df.xs(ticker, axis=1, level=other)
            else:
                df = df.droplevel([i for i in range(df.columns.nlevels) if i != field_level], axis=1)
    df = df.loc[:, ~df.columns.duplicated()]
    return df


def _frame_to_series(df: pd.DataFrame, ticker: str, source: str, notes: list[str]) -> PriceSeries:
    try:
        return _to_series(df, ticker, source, notes)
    except LiveDataError:
        raise
    except Exception as e:  # a malformed answer (odd index, odd columns) is "no usable data", not a crash
        raise LiveDataError(f"Yahoo Finance answered for {ticker} with data that could not be read "
                            f"({type(e).__name__}: {str(e)[:120]}). {FALLBACK}") from None


def _close_column(df: pd.DataFrame, ticker: str) -> pd.Series:
    df = flatten_columns(df, ticker)
    col = "Close" if "Close" in df.columns else ("Adj Close" if "Adj Close" in df.columns else None)
    if col is None:
        raise LiveDataError(f"Yahoo Finance answered for {ticker} without a Close column. {FALLBACK}")
    return pd.to_numeric(df[col], errors="coerce")


def _to_series(df: pd.DataFrame, ticker: str, source: str, notes: list[str]) -> PriceSeries:
    s = _close_column(df, ticker).dropna()
    s = s[s > 0]
    if s.empty:
        raise LiveDataError(f"Yahoo Finance returned no prices for {ticker!r}: unknown or delisted ticker, "
                            f"or no network. Check the symbol. {FALLBACK}")
    with warnings.catch_warnings():  # "could not infer format": a bad index fails below or reads fine
        warnings.simplefilter("ignore", UserWarning)
        idx = pd.DatetimeIndex(pd.to_datetime(s.index))
    if idx.tz is not None:
        idx = idx.tz_localize(None)
    keep = ~idx.duplicated()
    return PriceSeries(f"{ticker} Close", idx[keep], s.to_numpy(float)[keep], "price", source, notes)


def partial_notes(df: pd.DataFrame, series: PriceSeries, ticker: str, period: str, interval: str,
                  printed: str = "", now: pd.Timestamp | None = None) -> tuple[list[str], bool]:
    """(what is missing from a fresh download, whether it looks cut short) for the page to show.

    Cut short (not cached, so Fetch retries): closes missing at the end, or yfinance reporting a failure
    while still returning rows. Merely short (cached, it is what Yahoo has): gaps inside the series, data
    that ends well before today (delisted or halted) or starts well after the requested period began.
    """
    notes, cut = [], False
    close = _close_column(df, ticker)
    bad = (close.isna() | ~(close > 0)).to_numpy()
    n, first, last = len(series), series.dates[0].date(), series.dates[-1].date()
    trailing = len(bad) - 1 - int(np.flatnonzero(~bad)[-1])  # series is not empty, so one row is good
    if trailing:
        cut = True
        notes.append(f"The download from Yahoo Finance stopped part-way: its last {trailing} rows came without a "
                     f"price. Using the {n} rows up to {last}; press Fetch again to retry (this partial answer is "
                     f"not cached).")
    if int(bad.sum()) > trailing:
        notes.append(f"{int(bad.sum()) - trailing} rows inside {ticker}'s series had no price and were left out "
                     f"(the series joins across them).")
    if printed and "fail" in printed.lower():
        cut = True
        reason = " ".join(printed.split())[:160]
        notes.append(f"Yahoo Finance reported a problem but still sent {n} rows ({reason}). Using them; press Fetch "
                     f"again to retry (not cached).")
    now = now or pd.Timestamp.now()
    step = INTERVAL_DAYS[interval]
    lag = (now.normalize() - pd.Timestamp(last)).days
    if lag > max(7.0, 3 * step):
        notes.append(f"{ticker}'s prices end on {last}, {lag} days before today (a halted or delisted ticker, or a "
                     f"download cut short): the forecast starts from {last}, not from today.")
    days = PERIOD_DAYS[period]
    if days is not None:
        late = (pd.Timestamp(first) - (now.normalize() - pd.Timedelta(days=days))).days
        if late > max(10.0, 0.25 * days):
            notes.append(f"{ticker}'s prices cover only {first}..{last}, less than the requested {period} (a recent "
                         f"listing, or a download cut short).")
    return notes, cut


def _download(ticker: str, period: str, interval: str) -> tuple[pd.DataFrame | None, str]:
    """(frame, what yfinance printed); exceptions propagate. Its pandas deprecation noise is filtered."""
    printed = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stderr(printed), contextlib.redirect_stdout(printed):
        for category in (DeprecationWarning, PendingDeprecationWarning, FutureWarning, pd.errors.PandasChangeWarning):
            warnings.simplefilter("ignore", category)
        import yfinance as yf  # inside the filter: its import warns under pandas 3 too

        df = yf.download(ticker, period=period, interval=interval, progress=False, auto_adjust=True,
                         threads=False, multi_level_index=True)
    return df, printed.getvalue()


def _reason(exc: BaseException | None, printed: str) -> str:
    text = f"{type(exc).__name__}: {exc}" if exc is not None else printed
    low = text.lower()
    if "ratelimit" in low or "rate limit" in low or "too many requests" in low or "429" in low:
        return "rate"
    if any(w in low for w in ("resolve", "dns", "connect", "network", "timed out", "timeout", "curl")):
        return "network"
    return "other"


def fetch_prices(ticker: str, period: str = "5y", interval: str = "1d", *, ttl_s: float = DEFAULT_TTL_S,
                 downloader=None) -> PriceSeries:
    """Close prices for `ticker`; a cache file younger than ttl_s answers without a request.

    downloader(ticker, period, interval) -> (DataFrame | None, printed_text) is injectable for tests.
    Raises LiveDataError (with the reason and the embedded-data fall-back) when nothing real is available.
    """
    ticker = check_ticker(ticker)
    if period not in PERIODS:
        raise LiveDataError(f"period must be one of {', '.join(PERIODS)}; got {period!r}")
    if interval not in INTERVALS:
        raise LiveDataError(f"interval must be one of {', '.join(INTERVALS)}; got {interval!r}")
    path = _cache_path(ticker, period, interval)
    age = _age(path)
    if age is not None and age < ttl_s:
        with contextlib.suppress(Exception):  # a corrupt cache file is refetched, not trusted
            cached = pd.read_csv(path, index_col=0, parse_dates=True)
            return _frame_to_series(cached, ticker, f"Yahoo Finance (cached {age / 60:.0f} min ago)", [])

    exc, printed, df, failed = None, "", None, None
    try:
        df, printed = (downloader or _download)(ticker, period, interval)
    except Exception as e:  # yfinance raises many types (curl_cffi, its own, JSON); all mean "no data"
        exc = e
    if exc is None and df is not None and not df.empty:
        try:
            series = _frame_to_series(df, ticker, "Yahoo Finance (just fetched)", [])
            notes, cut = partial_notes(df, series, ticker, period, interval, printed)
        except LiveDataError as e:  # rows came, but none usable: a stale cache still beats nothing
            failed = e
        else:
            if cut:
                series.notes.extend(notes)
                return series
            problem = _write_cache(path, series)
            series.notes.extend(([problem] if problem else []) + notes)
            return series

    kind = _reason(exc, printed)
    if failed is not None:
        msg = str(failed).replace(f" {FALLBACK}", "")
    elif kind == "rate":
        msg = "Yahoo Finance is rate-limiting requests; wait a few minutes and try again."
    elif kind == "network":
        msg = "Yahoo Finance could not be reached (no network or the source is unavailable)."
    elif exc is not None:
        msg = f"Yahoo Finance failed for {ticker} ({type(exc).__name__}: {str(exc)[:120]})."
    else:
        msg = (f"Yahoo Finance returned no prices for {ticker!r}: unknown or delisted ticker, or no data for "
               f"period {period} at interval {interval}. Check the symbol.")
    if age is not None:
        with contextlib.suppress(Exception):
            cached = pd.read_csv(path, index_col=0, parse_dates=True)
            return _frame_to_series(cached, ticker, f"Yahoo Finance (stale cache, {age / 3600:.1f} h old)",
                                    [f"{msg} Showing the last download, {age / 3600:.1f} hours old."])
    raise LiveDataError(f"{msg} {FALLBACK}")


def _age(path: Path) -> float | None:
    """Seconds since the cache file was written; None when there is none or it cannot be read."""
    try:
        return time.time() - path.stat().st_mtime
    except OSError:  # missing, or a cache dir this process may not read: both mean "no cache"
        return None


def _write_cache(path: Path, series: PriceSeries) -> str | None:
    """Write the cache atomically; on failure, a note saying so (the prices are still good).

    A temporary file renamed into place means a full disk never leaves a truncated CSV that the next
    request would trust as a fresh, complete answer.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        frame = pd.DataFrame({"Close": series.values}, index=pd.Index(series.dates, name="Date"))
        frame.to_csv(tmp)
        os.replace(tmp, path)
    except OSError as e:
        with contextlib.suppress(OSError):
            tmp.unlink()
        return (f"could not write the cache at {path.parent} ({e.strerror or e}); the prices are fine, but every "
                f"Fetch downloads them again")
    return None
