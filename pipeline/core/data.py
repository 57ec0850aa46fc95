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

from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import TYPE_CHECKING, Any

import numpy as np

from pipeline.core.origins import origins, targets
from pipeline.core.transforms import Transform

if TYPE_CHECKING:
    from pipeline.core.config import BundledDataset, CsvDataset, DampedDataset, SplitSpec, SweepSpec


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


def _statsmodels_series(source: str) -> np.ndarray:
    from statsmodels import datasets

    frame = getattr(datasets, source).load_pandas().data
    if source == "sunspots":
        return frame["SUNACTIVITY"].to_numpy(float)
    if source == "nile":
        return frame["volume"].to_numpy(float)
    if source == "co2":
        return frame["co2"].to_numpy(float)
    # elnino: one row per year, one column per month -> one monthly series
    return frame.drop(columns="YEAR").to_numpy(float).reshape(-1)


def read_csv_series(path: str, value_column: str, time_column: str | None = None) -> np.ndarray:
    """A numeric column of a CSV file, in time order when a time column is given. Missing values stay NaN."""
    import pandas as pd

    try:
        frame = pd.read_csv(path)
    except FileNotFoundError:
        raise DataError(f"no such file: {path}", "path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {path} ({exc.__class__.__name__})", "path") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty", "path") from None
    except pd.errors.ParserError as exc:
        raise DataError(f"{path} is not valid CSV ({str(exc).splitlines()[0]})", "path") from None
    for field, column in (("value_column", value_column), ("time_column", time_column)):
        if column is not None and column not in frame.columns:
            raise DataError(f"column {column!r} not in {path} (columns: {', '.join(map(str, frame.columns))})", field)
    if time_column is not None:
        times = frame[time_column]
        if times.duplicated().any():
            raise DataError(f"duplicate time {times[times.duplicated()].iloc[0]!r} in {path}", "time_column")
        frame = frame.sort_values(time_column, kind="stable")
    values = pd.to_numeric(frame[value_column], errors="coerce")
    bad = values.isna() & frame[value_column].notna()
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0]) + 2  # 1-based, after the header line
        raise DataError(f"non-numeric value {frame[value_column][bad].iloc[0]!r} at line {row} of {path}",
                        "value_column")
    return values.to_numpy(float)


def load_series(spec: DampedDataset | BundledDataset | CsvDataset) -> np.ndarray:
    """The dataset's values as a 1-D float array, missing values handled per `spec.missing`."""
    if spec.source == "damped_oscillation":
        y = damped_oscillation(spec.points, spec.tau, spec.span_pi, spec.noise)
    elif spec.source == "csv":
        y = read_csv_series(spec.path, spec.value_column, spec.time_column)
    else:
        y = _statsmodels_series(spec.source)
    y = handle_missing(y, spec.missing, spec.name)
    if len(y) < MIN_POINTS:
        raise DataError(f"{spec.name}: only {len(y)} values; at least {MIN_POINTS} are needed",
                        "path" if spec.source == "csv" else "points")
    return y


def load_datasets(spec: SweepSpec) -> dict[str, np.ndarray]:
    """Every dataset of a sweep, read once and checked against the sweep's splits, windows and horizon.

    Raises:
        DataError: `field` is the setting's path in the sweep file (`datasets[1].value_column`, ...).
    """
    out: dict[str, np.ndarray] = {}
    for i, ds in enumerate(spec.datasets):
        try:
            out[ds.name] = load_series(ds)
        except DataError as exc:
            raise DataError(str(exc), f"datasets[{i}]" + (f".{exc.field}" if exc.field else "")) from None
    check_datasets(spec, out)
    return out


def check_datasets(spec: SweepSpec, data: dict[str, np.ndarray]) -> None:
    """The sweep's rules on series already read: the closed-loop horizon, transforms, windows and forecast
    origins against each series' splits (`gatesweep train --set` checks its overrides with this).

    Raises:
        DataError: `field` is the setting's path in the sweep file.
    """
    from pipeline.core.transforms import check_transform

    for i, ds in enumerate(spec.datasets):
        series = data[ds.name]
        space = spec.space_for(ds.name)

        def field(key: str, i: int = i, ds: Any = ds) -> str:  # where the user set it: the dataset or the sweep
            own = ds.search_space is not None and getattr(ds.search_space, key) is not None
            return f"datasets[{i}].search_space.{key}" if own else f"search_space.{key}"

        n_train, n_val, n_test = (b - a for a, b in split_bounds(len(series), spec.split))
        horizon = spec.evaluation.closed_loop_horizon
        if horizon is not None and horizon > n_test:
            raise DataError(f"{horizon} steps exceed the test split of dataset {ds.name!r} ({n_test} points)",
                            "evaluation.closed_loop_horizon")
        kinds = [str(t) for t in space.values("transform")]
        for kind in kinds:
            if (why := check_transform(kind, series, ds.season, ds.name)) is not None:
                raise DataError(why, field("transform"))
        lag = max(Transform(kind, ds.season).lag for kind in kinds)
        window = int(max(space.values("window")))
        ahead = ds.horizon - 1  # a direct network's training targets reach this far past a window
        if n_train - window - lag - ahead < MIN_TRAIN_WINDOWS:
            raise DataError(f"window {window} leaves {max(n_train - window - lag - ahead, 0)} training windows for "
                            f"dataset {ds.name!r} ({n_train} training points"
                            + (f", transform lag {lag}" if lag else "") + (f", horizon {ds.horizon}" if ahead else "")
                            + f"); at least {MIN_TRAIN_WINDOWS} are needed", field("window"))
        for part, n_part in (("validation", n_val), ("test", n_test)):
            try:
                origins(0, n_part, ds.horizon, ds.origin_step, ds.test_origins)
            except ValueError as exc:
                where = "test_origins" if ds.test_origins is not None and ds.horizon <= n_part else "horizon"
                raise DataError(f"dataset {ds.name!r}, {part} split: {exc}", f"datasets[{i}].{where}") from None


def handle_missing(y: np.ndarray, policy: str, name: str) -> np.ndarray:
    missing = ~np.isfinite(y)
    if not missing.any():
        return y
    if policy == "reject":
        raise DataError(f"{name}: {int(missing.sum())} missing values; set missing: interpolate to fill them",
                        "missing")
    idx = np.arange(len(y))
    if missing[0] or missing[-1]:  # interpolation would extrapolate; trim the ends instead
        keep = np.flatnonzero(~missing)
        y, missing, idx = y[keep[0]: keep[-1] + 1], missing[keep[0]: keep[-1] + 1], idx[: keep[-1] - keep[0] + 1]
    y = y.copy()
    y[missing] = np.interp(idx[missing], idx[~missing], y[~missing])
    return y


def split_bounds(n: int, split: SplitSpec) -> list[tuple[int, int]]:
    """Chronological `[a, b)` ranges for train, validation and test."""
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
                 horizon: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Seed-style windows whose targets all lie in `[lo, hi)` and whose inputs are all defined: x `(n, W, 1)`,
    targets `(n, W, horizon)`, where position `p` of a window targets the `horizon` values after it (the
    source article's next value at every position when `horizon` is 1)."""
    hi = len(series) if hi is None else hi
    starts = np.arange(max(lo - 1, _first_valid(series)), hi - window - horizon + 1)
    if len(starts) == 0:
        raise DataError(f"window {window} does not fit in [{lo}, {hi})")
    idx = starts[:, None] + np.arange(window)[None, :]
    x = series[idx][..., None].astype(np.float32)
    y = series[idx[..., None] + 1 + np.arange(horizon)[None, None, :]].astype(np.float32)
    return x, y


def forecast_inputs(series: np.ndarray, window: int, lo: int, hi: int) -> np.ndarray:
    """Inputs for one-step forecasts of every point `t` in `[lo, hi)`: `series[t-W : t]`, shape `(n, W, 1)`."""
    return origin_inputs(series, window, np.arange(lo, hi))


def origin_inputs(series: np.ndarray, window: int, at: np.ndarray) -> np.ndarray:
    """The `W` points before each origin (what a forecast from it reads), shape `(origins, W, 1)`."""
    at = np.asarray(at)
    if len(at) and int(at.min()) - window < _first_valid(series):
        raise DataError(f"window {window} longer than the history before index {int(at.min())}")
    idx = at[:, None] + np.arange(-window, 0)[None, :]
    return series[idx][..., None].astype(np.float32)


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

    def inputs_at(self, at: np.ndarray) -> np.ndarray:
        """Model inputs for forecasts from the origins `at`."""
        return origin_inputs(self.scaled, self.window, at)

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
            return self.transform.inverse(z, None)
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

    def rows_input(self, rows: np.ndarray) -> np.ndarray:
        """Model inputs `(n, W, 1)` forecasting the value after each row of original values (its last
        `W + lag` are used)."""
        lag = self.transform.lag
        width = self.window + lag
        z = np.stack([self.transform.forward(r[-width:])[lag:] for r in np.asarray(rows, float)])
        return self.scaler.transform(z)[..., None].astype(np.float32)

    def rows_value(self, pred: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """The original-unit values scaled, transformed predictions stand for, after each row."""
        lag = self.transform.lag
        z = self.scaler.inverse(np.asarray(pred, float))
        return self.transform.inverse(z, np.asarray(rows, float)[:, -lag] if lag else None)

    def next_input(self, history: np.ndarray) -> np.ndarray:
        """The model input `(1, W, 1)` that forecasts the point after `history` (original units)."""
        return self.rows_input(np.asarray(history, float)[None, -(self.window + self.transform.lag):])

    def next_value(self, pred: float, history: np.ndarray) -> float:
        """The original-unit value a scaled, transformed prediction stands for, after `history`."""
        return float(self.rows_value(np.array([pred]), np.asarray(history, float)[None, :])[0])


def prepare(raw: np.ndarray, split: SplitSpec, window: int, transform: Transform | None = None, *,
            horizon: int = 1, outputs: int = 1, origin_step: int | None = None,
            origin_count: int | None = None) -> PreparedData:
    """Transform, scale (training part only), window and place the origins.

    Args:
        horizon: the forecast horizon H the validation and test origins are scored at.
        outputs: the values each window position is trained to predict (H for the direct strategy, 1 for
            the recursive one).
        origin_step, origin_count: see `pipeline.core.origins.origins` (defaults: `horizon` apart, every one
            that fits).
    """
    transform = transform or Transform()
    raw = np.asarray(raw, float)
    bounds = split_bounds(len(raw), split)
    (a0, a1), (b0, b1), (s0, s1) = bounds
    z = transform.forward(raw)
    scaler = Scaler.fit(z[a0:a1])  # the training part only
    scaled = scaler.transform(z)
    try:
        val_at = origins(b0, b1, horizon, origin_step, origin_count)
        test_at = origins(s0, s1, horizon, origin_step, origin_count)
    except ValueError as exc:
        raise DataError(str(exc), "horizon") from None
    val_targets = targets(scaled, val_at, horizon)[:, None, :].astype(np.float32)
    validation = (origin_inputs(scaled, window, val_at), val_targets)
    return PreparedData(raw=raw, transform=transform, scaled=scaled, scaler=scaler, bounds=bounds, window=window,
                        train=make_windows(scaled, window, a0, a1, outputs), validation=validation,
                        horizon=horizon, val_origins=val_at, test_origins=test_at)
