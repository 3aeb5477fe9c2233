"""Live prices from Yahoo Finance (yfinance), cached on disk with a TTL; never made-up numbers.

yfinance's real behaviours (checked with 1.7): `download` does not raise on a failed ticker or no
network, it prints "1 Failed download" and returns an empty frame with MultiIndex columns
(('Close', 'AAPL'), ...); rate limits raise YFRateLimitError; other failures raise from curl_cffi.
Each becomes a LiveDataError whose message says what happened and that the embedded data still works.
A fresh cache file answers without a request; when a request fails, a stale cache file is used
(and said to be stale) before giving up.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import time
import warnings
from pathlib import Path

import pandas as pd

from seqcore.data.prices import PriceSeries
from seqcore.errors import SeqcoreError

TICKER_RE = re.compile(r"^[A-Za-z0-9.\-^=]{1,15}$")
PERIODS = ("1mo", "3mo", "6mo", "1y", "2y", "5y", "10y", "max")
INTERVALS = ("1d", "1wk", "1mo", "1h")
DEFAULT_TTL_S = 3600.0
FALLBACK = "Use the embedded GOOG data instead (it works offline)."


class LiveDataError(SeqcoreError):
    """Live prices could not be fetched; the message says why and offers the embedded data."""


def cache_dir() -> Path:
    home = os.environ.get("SEQCORE_HOME") or Path.home() / ".cache" / "seqcore"
    return Path(home) / "cache"


def check_ticker(ticker: str) -> str:
    t = (ticker or "").strip().upper()
    if not TICKER_RE.match(t):
        raise LiveDataError(f"ticker {ticker!r} is not valid: use 1-15 letters, digits, '.', '-', '^' or '=' "
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
    df = flatten_columns(df, ticker)
    col = "Close" if "Close" in df.columns else ("Adj Close" if "Adj Close" in df.columns else None)
    if col is None:
        raise LiveDataError(f"Yahoo Finance answered for {ticker} without a Close column. {FALLBACK}")
    s = pd.to_numeric(df[col], errors="coerce").dropna()
    s = s[s > 0]
    if s.empty:
        raise LiveDataError(f"Yahoo Finance returned no prices for {ticker!r}: unknown or delisted ticker, "
                            f"or no network. Check the symbol. {FALLBACK}")
    idx = pd.DatetimeIndex(pd.to_datetime(s.index))
    if idx.tz is not None:
        idx = idx.tz_localize(None)
    keep = ~idx.duplicated()
    return PriceSeries(f"{ticker} Close", idx[keep], s.to_numpy(float)[keep], "price", source, notes)


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
    age = time.time() - path.stat().st_mtime if path.exists() else None
    if age is not None and age < ttl_s:
        with contextlib.suppress(Exception):  # a corrupt cache file is refetched, not trusted
            cached = pd.read_csv(path, index_col=0, parse_dates=True)
            return _frame_to_series(cached, ticker, f"Yahoo Finance (cached {age / 60:.0f} min ago)", [])

    exc, printed, df = None, "", None
    try:
        df, printed = (downloader or _download)(ticker, period, interval)
    except Exception as e:  # yfinance raises many types (curl_cffi, its own, JSON); all mean "no data"
        exc = e
    if exc is None and df is not None and not df.empty:
        series = _frame_to_series(df, ticker, "Yahoo Finance (just fetched)", [])
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            series_frame = pd.DataFrame({"Close": series.values}, index=pd.Index(series.dates, name="Date"))
            series_frame.to_csv(path)
        except OSError as e:
            series.notes.append(f"could not write the cache at {path.parent} ({e.strerror}); every rerun refetches")
        return series

    kind = _reason(exc, printed)
    if kind == "rate":
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
