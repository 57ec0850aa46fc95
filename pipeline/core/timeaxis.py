"""Time columns: parsed (never sorted as text), their regular step inferred, gaps found. Pure numpy/pandas.

A series is usable only in its true order with one regular step, so a CSV's time column is read as numbers
when every value is one, else as dates: ISO 8601 first, then the common spreadsheet forms, each tried strictly
on every value (`1/2/1995` is month-first or day-first: when both forms read every value and disagree, the
file is ambiguous and `time_format` must settle it). Pandas' own inference comes last, and only where it reads
the same dates day-first and month-first.

The step is inferred from the sorted times of each series: calendar months (monthly, quarterly, yearly, every
k months, whatever the day within the month) when every time is in a month of its own at least 28 days apart;
business days when the times skip only weekends; otherwise the smallest difference between neighbours (days,
weeks, hours, or a number). Every time must then be a whole number of steps from the first: a missing step is
a gap (an error, or a row inserted under `missing: interpolate`), anything else an irregular step.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

__all__ = ["Step", "TimeError", "format_time", "infer_step", "parse_times", "span", "time_labels"]

# strict forms tried in order when the values are not ISO 8601: spreadsheet and database exports
_FORMATS = ("%m/%d/%Y", "%d/%m/%Y", "%m/%d/%y", "%d/%m/%y", "%m-%d-%Y", "%d-%m-%Y", "%d.%m.%Y", "%d.%m.%y",
            "%Y/%m/%d", "%Y.%m.%d", "%b-%d-%Y", "%d-%b-%Y", "%d-%b-%y", "%b %d, %Y", "%d %b %Y", "%d %B %Y",
            "%B %d, %Y", "%b-%Y", "%b %Y", "%B %Y", "%b-%y", "%Y%m", "%m/%d/%Y %H:%M", "%d/%m/%Y %H:%M",
            "%m/%d/%Y %H:%M:%S", "%d/%m/%Y %H:%M:%S", "%Y/%m/%d %H:%M", "%d.%m.%Y %H:%M")
_DAY = 86_400 * 10**9  # nanoseconds
_NAMED_MONTHS = {1: "monthly", 3: "quarterly", 12: "yearly"}
_NAMED_DURATIONS = {7 * _DAY: "weekly", _DAY: "daily", 3_600 * 10**9: "hourly", 60 * 10**9: "every minute"}


class TimeError(ValueError):
    """A time column that cannot give a series in its true order. `field` names the setting to change."""

    def __init__(self, message: str, field: str = "time_column") -> None:
        super().__init__(message)
        self.field = field


def parse_times(values: Any, path: str, column: str, time_format: str | None = None) -> np.ndarray:
    """The values of a time column as floats (every value a number) or `datetime64[ns]`.

    Args:
        values: the column as read (strings or numbers), in file order: a pandas Series indexed by each value's
            line in the file (`line`, as `pipeline.core.data` reads a CSV), else the header's line plus the
            value's position is the line errors name.
        time_format: a `strptime` format every value must match (`%b-%d-%Y`); None: inferred.

    Raises:
        TimeError: an empty or unparseable value (file, column, line, value), or dates that read differently
            day-first and month-first.
    """
    lines = values.index if isinstance(values, pd.Series) and values.index.name == "line" else None
    raw = pd.Series(values, dtype=object).reset_index(drop=True)
    raw.index = pd.RangeIndex(2, len(raw) + 2) if lines is None else lines  # the index: each value's line
    text = raw.map(lambda v: v.strip() if isinstance(v, str) else v)
    empty = text.isna() | (text == "")
    if empty.any():
        raise TimeError(f"empty time in column {column!r} at line {_line(empty)} of {path}")
    if time_format is not None:
        return _strict(text, time_format, path, column, field="time_format")
    numbers = pd.to_numeric(text, errors="coerce")
    if numbers.notna().all() and np.isfinite(numbers.to_numpy(float)).all():
        return numbers.to_numpy(float)
    iso = pd.to_datetime(text, format="ISO8601", errors="coerce")
    if iso.notna().all():
        return iso.to_numpy("datetime64[ns]")
    readings = {fmt: parsed for fmt in _FORMATS if (parsed := _coerce(text, fmt)).notna().all()}
    if not readings:  # pandas' own inference, trusted only where day-first and month-first agree
        with _quiet():
            month_first = pd.to_datetime(text, format="mixed", errors="coerce")
            day_first = pd.to_datetime(text, format="mixed", dayfirst=True, errors="coerce")
        if month_first.notna().all():
            readings = {"month-first": month_first, "day-first": day_first}
        else:
            best = max([*_FORMATS, "mixed"], key=lambda f: int(
                (month_first if f == "mixed" else _coerce(text, f)).notna().sum()))
            parsed = month_first if best == "mixed" else _coerce(text, best)
            bad = parsed.isna()
            if not parsed.notna().any():
                raise TimeError(f"column {column!r} of {path}: {text[bad].iloc[0]!r} at line {_line(bad)} is neither a "
                                f"number nor a date; set time_format (e.g. '%b-%d-%Y')")
            raise TimeError(f"column {column!r} of {path}: {text[bad].iloc[0]!r} at line {_line(bad)} is not a date "
                            f"like the others ({text[~bad].iloc[0]!r}); fix it or set time_format")
    if len(readings) > 1:  # forms that disagree: the one whose times have one regular step settles it
        regular = {how: r for how, r in readings.items() if _regular(r.to_numpy("datetime64[ns]"))}
        readings = regular if len(regular) == 1 else readings
    first, *others = readings
    for other in others:
        differ = readings[first].ne(readings[other])
        if differ.any():
            v = text[differ].iloc[0]
            raise TimeError(f"column {column!r} of {path}: dates like {v!r} (line {_line(differ)}) read both as "
                            f"{_show(first, readings[first][differ].iloc[0])} and "
                            f"{_show(other, readings[other][differ].iloc[0])}; set time_format (e.g. "
                            f"'{first if first.startswith('%') else '%d/%m/%Y'}')")
    return readings[first].to_numpy("datetime64[ns]")


def _regular(times: np.ndarray) -> bool:
    """Whether the distinct times form one regular step with nothing missing."""
    distinct = np.unique(times)
    try:
        return len(distinct) > 2 and len(infer_step(distinct, "")[1]) == 0
    except TimeError:
        return False


def _strict(text: Any, fmt: str, path: str, column: str, field: str) -> np.ndarray:
    parsed = _coerce(text, fmt)
    bad = parsed.isna()
    if bad.any():
        raise TimeError(f"column {column!r} of {path}: {text[bad].iloc[0]!r} at line {_line(bad)} does not match "
                        f"time_format {fmt!r}", field)
    return parsed.to_numpy("datetime64[ns]")


def _coerce(text: Any, fmt: str) -> Any:
    with _quiet():
        return pd.to_datetime(text, format=fmt, errors="coerce")


@contextmanager
def _quiet() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas' "could not infer format": every value is checked here
        yield


def _line(mask: Any) -> int:
    """The file line of the first value `mask` marks (a Series indexed by line, as `parse_times` indexes them)."""
    return int(mask.index[np.asarray(mask)][0])


def _show(how: str, value: Any) -> str:
    return f"{value:%Y-%m-%d} ({how})"


@dataclass(frozen=True)
class Step:
    """A series' regular step: `size` calendar months, nanoseconds, business days, or a number."""

    kind: Literal["months", "duration", "bdays", "number"]
    size: float

    @property
    def label(self) -> str:
        """In words: `monthly`, `quarterly`, `weekly`, `every 2 days`, `step 0.25`."""
        if self.kind == "number":
            return f"step {self.size:g}"
        if self.kind == "bdays":
            return "business daily"
        if self.kind == "months":
            return _NAMED_MONTHS.get(int(self.size), f"every {int(self.size)} months")
        if int(self.size) in _NAMED_DURATIONS:
            return _NAMED_DURATIONS[int(self.size)]
        return "every " + _duration(int(self.size))

    def positions(self, times: np.ndarray) -> np.ndarray:
        """Steps from the first time to each (a whole number on the grid)."""
        if self.kind == "number":
            return (times - times[0]) / self.size
        if self.kind == "months":
            m = _months(times)
            return (m - m[0]) / self.size
        days = times.astype("datetime64[D]")
        if self.kind == "bdays":
            return np.busday_count(days[0], days).astype(float)
        return (times - times[0]).astype("int64") / self.size

    def times_at(self, first: Any, positions: np.ndarray) -> np.ndarray:
        """The times `positions` steps after `first` (inserted rows, a forecast's future)."""
        positions = np.asarray(positions, int)
        if self.kind == "number":
            return float(first) + positions * self.size
        t0: Any = np.datetime64(first, "ns")
        if self.kind == "duration":
            return t0 + (positions * int(self.size)).astype("timedelta64[ns]")
        if self.kind == "bdays":
            day = t0.astype("datetime64[D]")
            return np.busday_offset(day, positions, roll="forward").astype("datetime64[ns]") + (t0 - day)
        start = pd.Timestamp(t0)
        end = pd.offsets.MonthEnd(0) if start.is_month_end else pd.DateOffset(days=0)  # month ends stay month ends
        return np.array([start + pd.DateOffset(months=int(p * self.size)) + end for p in positions],
                        dtype="datetime64[ns]")


def _months(times: np.ndarray) -> np.ndarray:
    return times.astype("datetime64[M]").astype("int64").astype(float)


def _duration(ns: int) -> str:
    for unit, size in (("days", _DAY), ("hours", 3_600 * 10**9), ("minutes", 60 * 10**9), ("seconds", 10**9)):
        if ns % size == 0:
            return f"{ns // size} {unit}"
    return f"{ns} ns"


def infer_step(times: np.ndarray, where: str) -> tuple[Step, np.ndarray]:
    """The regular step of sorted, distinct times and the positions on its grid missing inside the series.

    Args:
        where: the series, as errors name it ("series 'a' of data.csv").

    Raises:
        TimeError: the times are not a whole number of one step apart, or most of their grid is empty.
    """
    if len(times) < 2:
        raise TimeError(f"{where}: fewer than 2 times; no step can be inferred")
    step = _candidate(times)
    pos = step.positions(times)
    whole = np.abs(pos - np.round(pos)) < 1e-6
    if not whole.all():
        i = int(np.flatnonzero(~whole)[0])
        raise TimeError(f"{where}: irregular time step: {format_time(times[i], step)} comes "
                        f"{_apart(times[i - 1], times[i], step)} after {format_time(times[i - 1], step)}, not a whole "
                        f"number of steps of the series' own ({step.label})")
    pos = np.round(pos).astype(int)
    missing = np.setdiff1d(np.arange(pos[-1] + 1), pos)
    if len(missing) > len(times):  # a grid mostly empty: the step is not the series' own
        gaps = np.diff(pos)
        i = int(np.argmin(gaps))
        raise TimeError(f"{where}: irregular time steps: {format_time(times[i], step)} to "
                        f"{format_time(times[i + 1], step)} is {step.label}, but most times are further apart "
                        f"(up to {int(gaps.max())} of those steps); a series needs one regular step")
    return step, missing


def _candidate(times: np.ndarray) -> Step:
    """The step most neighbours are apart (gaps are whole multiples of it; anything else is irregular)."""
    if times.dtype.kind != "M":
        return Step("number", _mode(np.diff(times)))
    ns = times.astype("int64")
    months = _months(times)
    if int(np.min(np.diff(ns))) >= 28 * _DAY and (np.diff(months) > 0).all():
        return Step("months", _mode(np.diff(months)))
    days = times.astype("datetime64[D]")
    if (times == days).all() and np.is_busday(days).all():
        jumps = np.diff(days).astype(int)
        if (jumps == 3).any() and _mode(np.diff(np.busday_count(days[0], days)).astype(float)) == 1:
            return Step("bdays", 1.0)
    return Step("duration", _mode(np.diff(ns).astype(float)))


def _mode(diffs: np.ndarray) -> float:
    values, counts = np.unique(diffs, return_counts=True)
    return float(values[np.argmax(counts)])  # ties: the smaller step


def _apart(a: Any, b: Any, step: Step) -> str:
    if step.kind == "number":
        return f"{float(b) - float(a):g}"
    if step.kind == "months":
        return f"{int(_months(np.array([a, b]))[1] - _months(np.array([a, b]))[0])} months"
    return _duration(int(np.datetime64(b, "ns").astype("int64") - np.datetime64(a, "ns").astype("int64")))


def format_time(t: Any, step: Step | None = None) -> str:
    """A time as people write it at its step: `1995-01` (months), `1995` (yearly), `1995-01-06`, a number."""
    if not isinstance(t, np.datetime64) and not (hasattr(t, "dtype") and t.dtype.kind == "M"):
        return f"{float(t):g}"
    t = np.datetime64(t, "ns")
    if step is not None and step.kind == "months":
        if step.size % 12 == 0:
            return str(t.astype("datetime64[Y]"))
        month = str(t.astype("datetime64[M]"))
        return f"{month[:4]}Q{(int(month[5:]) - 1) // 3 + 1}" if step.size == 3 else month
    if (t == t.astype("datetime64[D]")) or (step is not None and step.kind == "bdays"):
        return str(t.astype("datetime64[D]"))
    return str(t.astype("datetime64[m]")).replace("T", " ")


def time_labels(times: np.ndarray) -> list[str]:
    """Times as JSON keeps them: ISO 8601 (`1995-01-01`, `2020-01-01T13:00`) or numbers written out."""
    if times.dtype.kind != "M":
        return [f"{float(t):g}" for t in times]
    days = times.astype("datetime64[D]")
    return [str(t) for t in (days if (times == days).all() else times.astype("datetime64[s]"))]


def span(times: np.ndarray, step: Step, points: int) -> str:
    """`1995-01 to 2016-05, monthly, 257 points`."""
    return f"{format_time(times[0], step)} to {format_time(times[-1], step)}, {step.label}, {points} points"
