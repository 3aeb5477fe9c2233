"""Forecast data: embedded series from the wheels, uploaded-CSV validation, yfinance failure modes (mocked)."""

import os
import time

import numpy as np
import pandas as pd
import pytest

from seqcore.data import live
from seqcore.data.live import LiveDataError, fetch_prices
from seqcore.data.prices import load_embedded, load_goog, load_weather, read_csv_series
from seqcore.errors import InputError
from tests.helpers import csv_bytes


def test_embedded_goog_and_weather_are_the_real_files():
    g = load_goog()
    assert len(g) == 2148 and g.kind == "price"
    assert str(g.dates[0].date()) == "2004-08-19" and str(g.dates[-1].date()) == "2013-03-01"
    assert g.values[0] == pytest.approx(100.34)
    w = load_weather("temp_max")
    assert len(w) == 1461 and w.kind == "level" and str(w.dates[0].date()) == "2012-01-01"
    assert load_embedded("Seattle weather", "temp_min").values.min() < 0
    with pytest.raises(InputError, match="columns"):
        load_goog("Volume")


def test_future_dates_are_business_days_for_trading_data():
    g = load_goog()
    fut = g.future_dates(3)
    assert [d.day_of_week for d in fut] == [0, 1, 2]  # 2013-03-01 was a Friday
    assert str(load_weather().future_dates(1)[0].date()) == "2016-01-01"


def _good_rows(n=40):
    dates = pd.bdate_range("2024-01-01", periods=n)
    return [f"{d.date()},{100 + i}" for i, d in enumerate(dates)]


def test_good_csv_is_read():
    s = read_csv_series(csv_bytes(_good_rows()), min_rows=30)
    assert len(s) == 40 and s.kind == "price" and s.name == "price" and s.notes == []


@pytest.mark.parametrize(
    "rows, header, match",
    [
        (["2024-01-01,abc", "2024-01-02,def"], "date,name", "no numeric column"),
        (["2024-01-01,1", "yesterday,2", "2024-01-03,3"], "date,price", "not dates"),
        (["2024-01-01,1", "2024-01-01,2", "2024-01-03,3"], "date,price", "dates repeat"),
        (["2024-01-02,1", "2024-01-01,2", "2024-01-03,3"], "date,price", "not in increasing order"),
        (["2024-01-01,1", "2024-01-02,x", "2024-01-03,3"] + [f"2024-02-{i:02d},1" for i in range(1, 20)],
         "date,price", "not numbers"),
    ],
)
def test_bad_csv_messages(rows, header, match):
    with pytest.raises(InputError, match=match):
        read_csv_series(csv_bytes(rows, header))


def test_too_short_and_missing_value_rule():
    with pytest.raises(InputError, match="at least 100"):
        read_csv_series(csv_bytes(_good_rows(40)), min_rows=100)
    rows = _good_rows(40)
    rows[10] = rows[10].split(",")[0] + ","
    s = read_csv_series(csv_bytes(rows))
    assert s.values[10] == s.values[9] and "carried 1 missing" in s.notes[0]
    for i in range(10, 17):  # a run of 7 > MAX_FILL_RUN
        rows[i] = rows[i].split(",")[0] + ","
    with pytest.raises(InputError, match="missing values"):
        read_csv_series(csv_bytes(rows))


def test_not_csv_and_no_positive_prices():
    with pytest.raises(InputError, match="CSV|header"):
        read_csv_series(b"\x00\x01\x02")
    rows = [f"{d.date()},{i - 5}" for i, d in enumerate(pd.bdate_range("2024-01-01", periods=30))]
    assert read_csv_series(csv_bytes(rows)).kind == "level"
    with pytest.raises(InputError, match="positive"):
        read_csv_series(csv_bytes(rows), kind="price")


# ----- yfinance, mocked -------------------------------------------------------------------------


def _frame(multi: bool, n: int = 30) -> pd.DataFrame:
    idx = pd.date_range("2024-01-01", periods=n, tz="America/New_York", name="Date")
    data = {"Close": np.linspace(10, 20, n), "Open": np.linspace(10, 20, n)}
    df = pd.DataFrame(data, index=idx)
    if multi:
        df.columns = pd.MultiIndex.from_tuples([(c, "AAPL") for c in df.columns], names=["Price", "Ticker"])
    return df


def test_multiindex_frame_is_flattened_and_cached(home):
    calls = []

    def dl(t, p, i):
        calls.append(t)
        return _frame(True), ""

    s = fetch_prices("aapl", "1y", downloader=dl)
    assert s.name == "AAPL Close" and len(s) == 30 and s.values[-1] == pytest.approx(20)
    assert s.dates.tz is None and "just fetched" in s.source
    s2 = fetch_prices("AAPL", "1y", downloader=dl)
    assert calls == ["AAPL"] and "cached" in s2.source  # the second call did not download
    np.testing.assert_allclose(s2.values, s.values)


def test_empty_frame_says_unknown_ticker(home):
    with pytest.raises(LiveDataError, match="no prices for 'ZZZZ'.*embedded GOOG"):
        fetch_prices("ZZZZ", downloader=lambda *a: (_frame(True, 0), "1 Failed download: possibly delisted"))


def test_no_network_message(home):
    printed = "1 Failed download:\n['AAPL']: Could not resolve host: query2.finance.yahoo.com"
    with pytest.raises(LiveDataError, match="could not be reached.*embedded GOOG"):
        fetch_prices("AAPL", downloader=lambda *a: (_frame(True, 0), printed))


def test_exception_and_rate_limit_messages(home):
    from yfinance.exceptions import YFRateLimitError

    def rate(*a):
        raise YFRateLimitError()

    with pytest.raises(LiveDataError, match="rate-limiting"):
        fetch_prices("AAPL", downloader=rate)

    def boom(*a):
        raise RuntimeError("curl: (6) Could not resolve host")

    with pytest.raises(LiveDataError, match="could not be reached"):
        fetch_prices("AAPL", downloader=boom)

    def odd(*a):
        raise KeyError("chart")

    with pytest.raises(LiveDataError, match="failed for AAPL"):
        fetch_prices("AAPL", downloader=odd)


def test_stale_cache_is_used_and_labelled_when_the_source_fails(home):
    fetch_prices("MSFT", "1y", downloader=lambda *a: (_frame(False), ""))
    path = live._cache_path("MSFT", "1y", "1d")
    old = time.time() - 7200
    os.utime(path, (old, old))

    def boom(*a):
        raise RuntimeError("Could not resolve host")

    s = fetch_prices("MSFT", "1y", downloader=boom)
    assert "stale" in s.source and "could not be reached" in s.notes[0]


def test_unwritable_cache_still_returns_prices(home, monkeypatch):
    monkeypatch.setattr(live, "cache_dir", lambda: home / "file-not-dir" / "cache")
    (home / "file-not-dir").write_text("a file where a folder should be")
    s = fetch_prices("AAPL", downloader=lambda *a: (_frame(True), ""))
    assert len(s) == 30 and "could not write the cache" in s.notes[0]


@pytest.mark.parametrize("bad", ["", "AAPL MSFT", "../etc", "A" * 16, "$$$"])
def test_ticker_validation(bad, home):
    with pytest.raises(LiveDataError, match="not valid"):
        fetch_prices(bad, downloader=lambda *a: pytest.fail("must not download"))


@pytest.mark.network
def test_real_yfinance_call(home):
    s = fetch_prices("AAPL", "1mo")
    assert len(s) > 10 and (s.values > 0).all()


def test_yfinance_noise_is_filtered_and_captured(monkeypatch):
    import warnings

    import yfinance

    def noisy(*a, **k):
        warnings.warn("old pandas API", DeprecationWarning, stacklevel=1)
        warnings.warn("will change", pd.errors.Pandas4Warning, stacklevel=1)
        print("1 Failed download: ['AAPL']")
        return _frame(True, 0)

    monkeypatch.setattr(yfinance, "download", noisy)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        df, printed = live._download("AAPL", "1y", "1d")
    assert df.empty and "Failed download" in printed and seen == []
