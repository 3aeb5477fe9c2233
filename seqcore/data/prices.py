"""Price and weather series: the embedded real data (read from installed wheels) and uploaded CSVs.

Embedded: daily GOOG OHLCV 2004-08-19..2013-03-01 (`backtesting/test/GOOG.csv`) and Seattle daily
weather 2012..2015 (`vega_datasets/_data/seattle-weather.csv`). Nothing is downloaded.

Uploaded CSVs follow one stated rule (MISSING_RULE): the series is a sequence of observations, so
irregular date gaps (weekends, holidays) are kept as they are; a missing value is carried forward
from the previous row, at most MAX_FILL_RUN in a row and MAX_FILL_FRAC of all rows; leading missing
values are dropped. Anything beyond that is an InputError that says what to fix.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from seqcore.errors import InputError, listing, quote

MAX_FILL_RUN = 5
MAX_FILL_FRAC = 0.05
MISSING_RULE = (
    f"Date gaps (weekends, holidays) are kept: the model steps from one row to the next. A missing value is "
    f"carried forward from the previous row, at most {MAX_FILL_RUN} in a row and {MAX_FILL_FRAC:.0%} of rows; "
    f"leading missing values are dropped."
)


@dataclass
class PriceSeries:
    """One univariate series: dates (T,), values (T,) float64, and how to difference it.

    kind "price": strictly positive, modelled through log returns log(y_t / y_{t-1});
    kind "level": anything else (temperatures), modelled through differences y_t - y_{t-1}.
    """

    name: str
    dates: pd.DatetimeIndex
    values: np.ndarray
    kind: str = "price"
    source: str = ""
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.values)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"date": self.dates, self.name: self.values})

    def future_dates(self, horizon: int) -> pd.DatetimeIndex:
        """Dates for the next `horizon` steps: business days for trading data, else the median spacing."""
        last = self.dates[-1]
        step = pd.Series(self.dates).diff().median() if len(self.dates) > 1 else pd.Timedelta(days=1)
        weekdays_only = len(self.dates) > 10 and (pd.DatetimeIndex(self.dates).day_of_week < 5).all()
        if step <= pd.Timedelta(days=1) and step >= pd.Timedelta(hours=23) and weekdays_only:
            return pd.bdate_range(last + pd.offsets.BDay(1), periods=horizon)
        return pd.DatetimeIndex([last + step * (i + 1) for i in range(horizon)])


def _package_file(package: str, *parts: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise InputError(f"the {package!r} package is not installed; `make setup` installs it")
    path = Path(spec.submodule_search_locations[0], *parts)
    if not path.exists():
        raise InputError(f"{path} is missing from the installed {package!r} package; reinstall it")
    return path


GOOG_COLUMNS = ("Close", "Open", "High", "Low")
WEATHER_COLUMNS = ("temp_max", "temp_min")
EMBEDDED = {
    "GOOG": ("backtesting", ("test", "GOOG.csv"), GOOG_COLUMNS),
    "Seattle weather": ("vega_datasets", ("_data", "seattle-weather.csv"), WEATHER_COLUMNS),
}


def load_goog(column: str = "Close") -> PriceSeries:
    """Daily GOOG 2004-08-19..2013-03-01 (2,148 rows) from the backtesting wheel."""
    if column not in GOOG_COLUMNS:
        raise InputError(f"GOOG has columns {', '.join(GOOG_COLUMNS)}; got {column!r}")
    df = pd.read_csv(_package_file("backtesting", "test", "GOOG.csv"), index_col=0, parse_dates=True)
    return PriceSeries(f"GOOG {column}", pd.DatetimeIndex(df.index), df[column].to_numpy(float), "price",
                       "backtesting/test/GOOG.csv")


def load_weather(column: str = "temp_max") -> PriceSeries:
    """Seattle daily temperatures 2012..2015 (1,461 rows, degrees C) from the vega_datasets wheel."""
    if column not in WEATHER_COLUMNS:
        raise InputError(f"Seattle weather has columns {', '.join(WEATHER_COLUMNS)}; got {column!r}")
    df = pd.read_csv(_package_file("vega_datasets", "_data", "seattle-weather.csv"))
    dates = pd.DatetimeIndex(pd.to_datetime(df["date"], format="%Y/%m/%d"))
    return PriceSeries(f"Seattle {column}", dates, df[column].to_numpy(float), "level",
                       "vega_datasets/_data/seattle-weather.csv")


def load_embedded(dataset: str, column: str | None = None) -> PriceSeries:
    if dataset == "GOOG":
        return load_goog(column or "Close")
    if dataset == "Seattle weather":
        return load_weather(column or "temp_max")
    raise InputError(f"unknown embedded dataset {dataset!r}; choose one of {', '.join(EMBEDDED)}")


def _pick_date_column(df: pd.DataFrame, date_column: str | None) -> str:
    if date_column is not None:
        if date_column not in df.columns:
            raise InputError(f"no column named {quote(date_column)}; the file has {listing(df.columns)}")
        return date_column
    for c in df.columns:
        label = str(c).strip().lower()
        if label in ("date", "datetime", "time", "timestamp", "day") or label.startswith("unnamed: 0"):
            return c
    return df.columns[0]


def _pick_value_column(df: pd.DataFrame, column: str | None, date_col: str) -> str:
    if column is not None:
        if column not in df.columns:
            raise InputError(f"no column named {quote(column)}; the file has {listing(df.columns)}")
        return column
    def mostly_numbers(c) -> bool:  # a stray text cell should get its own message, not "no numeric column"
        cells = df[c].dropna()
        return len(cells) > 0 and pd.to_numeric(cells, errors="coerce").notna().mean() >= 0.5

    numeric = [c for c in df.columns if c != date_col and mostly_numbers(c)]
    if not numeric:
        raise InputError("the file has no numeric column besides the dates; add one (e.g. Close) with numbers")
    for preferred in ("Close", "Adj Close", "close", "value"):
        if preferred in numeric:
            return preferred
    return numeric[0]


def read_csv_series(data: bytes | str | Path, *, date_column: str | None = None, column: str | None = None,
                    min_rows: int = 0, kind: str = "auto", name: str | None = None) -> PriceSeries:
    """Validate an uploaded CSV (a date column and one numeric column) into a PriceSeries.

    min_rows: the fewest rows the caller needs (lookback + horizon + training windows).
    kind: "price", "level", or "auto" (price when every value is > 0).
    Raises InputError with a specific message for each way the file can be unusable.
    """
    try:
        src = io.BytesIO(data) if isinstance(data, bytes) else data
        df = pd.read_csv(src)
    except FileNotFoundError:
        raise InputError(f"no such file: {data}") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as e:
        raise InputError(f"could not read the file as CSV ({str(e).splitlines()[0][:150]})") from None
    if not isinstance(df.index, pd.RangeIndex):  # pandas made an index of the extra leading fields
        raise InputError(f"rows have more fields than the header's {len(df.columns)} columns (decimal commas, as "
                         f"in 1,5?); use a dot for decimals, quote such cells, or add the missing header names")
    if df.empty or len(df.columns) < 2:
        raise InputError("the CSV needs a header row, a date column and a numeric column, with at least one row")
    date_col = _pick_date_column(df, date_column)
    col = _pick_value_column(df, column, date_col)
    if col == date_col:
        raise InputError(f"the value column and the date column are both {col!r}; choose another value column")

    raw_dates = df[date_col]
    try:
        dates = pd.to_datetime(raw_dates, errors="coerce", format="mixed")
    except (ValueError, TypeError) as e:  # e.g. dates in different time zones
        raise InputError(f"column {date_col!r} could not be read as dates ({str(e).split('.')[0][:120]}); "
                         f"use one time zone, or plain dates like 2024-01-31") from None
    bad = dates.isna() & raw_dates.notna()
    if bad.any() or dates.isna().any():
        i = int(np.flatnonzero(bad | dates.isna())[0])
        raise InputError(f"column {date_col!r} has {int((bad | dates.isna()).sum())} values that are not dates "
                         f"(first: {raw_dates.iloc[i]!r} on data row {i + 1}); use e.g. 2024-01-31")
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_localize(None)
    date_notes = []
    year_first = raw_dates.astype(str).str.match(r"\s*\d{4}\D").any()  # ISO dates are never day-first
    if not year_first and (not dates.is_monotonic_increasing or dates.duplicated().any()):
        # 01/02/2024 reads as January 2 first; a sorted file of day/month/year dates only looks unsorted
        with contextlib.suppress(ValueError, TypeError):
            dayfirst = pd.to_datetime(raw_dates, errors="coerce", format="mixed", dayfirst=True)
            if getattr(dayfirst.dt, "tz", None) is None and dayfirst.notna().all() and \
                    (dayfirst.diff().dropna() > pd.Timedelta(0)).all():
                dates = dayfirst
                date_notes.append(f"read the dates in {date_col!r} as day/month/year")
    dup = dates.duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        raise InputError(f"{int(dup.sum())} dates repeat (first: {dates.iloc[i].date()} on data row {i + 1}); "
                         f"keep one row per date")
    step_back = dates.diff() < pd.Timedelta(0)
    if step_back.any():
        i = int(np.flatnonzero(step_back)[0])
        raise InputError(f"dates are not in increasing order ({dates.iloc[i].date()} on data row {i + 1} comes "
                         f"after {dates.iloc[i - 1].date()}); sort the file by date")

    values = pd.to_numeric(df[col], errors="coerce")
    text_cells = values.isna() & df[col].notna()
    if text_cells.any():
        i = int(np.flatnonzero(text_cells)[0])
        raise InputError(f"column {col!r} has {int(text_cells.sum())} cells that are not numbers "
                         f"(first: {df[col].iloc[i]!r} on data row {i + 1})")
    if np.isinf(values.to_numpy(float)).any():
        raise InputError(f"column {col!r} contains infinite values; remove or fix them")
    notes = date_notes
    first_valid = values.first_valid_index()
    if first_valid is None:
        raise InputError(f"column {col!r} is empty")
    if first_valid > 0:
        notes.append(f"dropped {first_valid} leading rows with no value")
        values, dates = values.iloc[first_valid:], dates.iloc[first_valid:]
    missing = values.isna().to_numpy()
    if missing.any():
        runs = np.diff(np.flatnonzero(np.diff(np.r_[0, missing.astype(int), 0])))[::2]
        if runs.max() > MAX_FILL_RUN or missing.mean() > MAX_FILL_FRAC:
            raise InputError(f"column {col!r} has {int(missing.sum())} missing values (longest run {int(runs.max())}"
                             f"); at most {MAX_FILL_RUN} in a row and {MAX_FILL_FRAC:.0%} of rows are filled. "
                             f"Fill or remove them")
        values = values.ffill()
        notes.append(f"carried {int(missing.sum())} missing values forward from the previous row")
    arr = values.to_numpy(float)
    if len(arr) < max(min_rows, 3):
        raise InputError(f"the series has {len(arr)} rows; this model needs at least {max(min_rows, 3)} "
                         f"(lookback + horizon + room to train): upload a longer series or lower lookback/horizon")
    if kind == "auto":
        kind = "price" if (arr > 0).all() else "level"
    elif kind == "price" and not (arr > 0).all():
        raise InputError(f"log returns need positive values, but {col!r} has zeros or negatives; "
                         f"use differences (kind 'level')")
    gaps = pd.Series(dates).diff().dropna()
    if len(gaps) and (big := int((gaps > 10 * gaps.median()).sum())):
        notes.append(f"{big} date gaps longer than 10x the usual spacing are kept as single steps")
    return PriceSeries(name or str(col), pd.DatetimeIndex(dates), arr, kind, "upload", notes)
