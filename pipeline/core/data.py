"""Series, chronological splits, transforms, scaling and windows. Pure numpy/pandas; no Ray, no MLflow.

Conventions used everywhere:
- A split is a half-open index range `[a, b)` of the series.
- The network models `z`, the series after its target transform (`pipeline.core.transforms`), standardised
  with the mean and spread of the training part only.
- A *training window* is the source article's pair `x = z[i : i+W]`, `target = z[i+1 : i+W+1]` (the
  model predicts the next value at every position). Training windows have **all their targets inside
  the training split**, so no training target is a validation or test value.
- A *one-step forecast* of point `t` reads the `W` points before `t` (the past, whatever split it lies
  in) and uses the model's last output. Every validation and test point gets one; this is also the
  validation loss. So a window may be longer than the validation or test split: the only limit is that
  training keeps at least `MIN_TRAIN_WINDOWS` windows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

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
    from pipeline.core.transforms import Transform, check_transform

    out: dict[str, np.ndarray] = {}
    for i, ds in enumerate(spec.datasets):
        try:
            series = load_series(ds)
        except DataError as exc:
            raise DataError(str(exc), f"datasets[{i}]" + (f".{exc.field}" if exc.field else "")) from None
        space = spec.space_for(ds.name)

        def field(key: str, i: int = i, ds: Any = ds) -> str:  # where the user set it: the dataset or the sweep
            own = ds.search_space is not None and getattr(ds.search_space, key) is not None
            return f"datasets[{i}].search_space.{key}" if own else f"search_space.{key}"

        n_train, _, n_test = (b - a for a, b in split_bounds(len(series), spec.split))
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
        if n_train - window - lag < MIN_TRAIN_WINDOWS:
            raise DataError(f"window {window} leaves {max(n_train - window - lag, 0)} training windows for dataset "
                            f"{ds.name!r} ({n_train} training points" + (f", transform lag {lag}" if lag else "")
                            + f"); at least {MIN_TRAIN_WINDOWS} are needed", field("window"))
        out[ds.name] = series
    return out


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


def make_windows(series: np.ndarray, window: int, lo: int = 0, hi: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Seed-style windows whose targets all lie in `[lo, hi)` and whose inputs are all defined:
    x `(n, W, 1)`, targets `(n, W, 1)`."""
    hi = len(series) if hi is None else hi
    starts = np.arange(max(lo - 1, _first_valid(series)), hi - window)
    if len(starts) == 0:
        raise DataError(f"window {window} does not fit in [{lo}, {hi})")
    idx = starts[:, None] + np.arange(window)[None, :]
    x = series[idx][..., None].astype(np.float32)
    y = series[idx + 1][..., None].astype(np.float32)
    return x, y


def forecast_inputs(series: np.ndarray, window: int, lo: int, hi: int) -> np.ndarray:
    """Inputs for one-step forecasts of every point `t` in `[lo, hi)`: `series[t-W : t]`, shape `(n, W, 1)`."""
    if lo - window < _first_valid(series):
        raise DataError(f"window {window} longer than the history before index {lo}")
    idx = np.arange(lo, hi)[:, None] + np.arange(-window, 0)[None, :]
    return series[idx][..., None].astype(np.float32)


@dataclass(frozen=True)
class PreparedData:
    """A series made ready for one window length and transform: transformed, scaled, split, windowed."""

    raw: np.ndarray  # original units
    transform: Transform
    scaled: np.ndarray  # the transformed series, standardised (NaN before the transform's lag)
    scaler: Scaler
    bounds: list[tuple[int, int]]
    window: int
    train: tuple[np.ndarray, np.ndarray]  # seed-style windows, targets in the training split
    validation: tuple[np.ndarray, np.ndarray]  # one-step inputs (n, W, 1) and targets (n, 1, 1)

    def inputs(self, lo: int, hi: int) -> np.ndarray:
        """Model inputs for one-step forecasts of the points `[lo, hi)`."""
        return forecast_inputs(self.scaled, self.window, lo, hi)

    def to_original(self, pred: np.ndarray, lo: int, hi: int) -> np.ndarray:
        """One-step predictions (scaled, transformed) of the points `[lo, hi)` in original units."""
        lag = self.transform.lag
        return self.transform.inverse(self.scaler.inverse(pred), self.raw[lo - lag: hi - lag] if lag else None)

    def next_input(self, history: np.ndarray) -> np.ndarray:
        """The model input `(1, W, 1)` that forecasts the point after `history` (original units)."""
        lag = self.transform.lag
        z = self.transform.forward(np.asarray(history[-(self.window + lag):], float))[lag:]
        return self.scaler.transform(z).reshape(1, -1, 1).astype(np.float32)

    def next_value(self, pred: float, history: np.ndarray) -> float:
        """The original-unit value a scaled, transformed prediction stands for, after `history`."""
        lag = self.transform.lag
        z = self.scaler.inverse(np.array([pred]))
        return float(self.transform.inverse(z, np.array([history[-lag]]) if lag else None)[0])


def prepare(raw: np.ndarray, split: SplitSpec, window: int, transform: Transform | None = None) -> PreparedData:
    transform = transform or Transform()
    raw = np.asarray(raw, float)
    bounds = split_bounds(len(raw), split)
    (a0, a1), (b0, b1), _ = bounds
    z = transform.forward(raw)
    scaler = Scaler.fit(z[a0:a1])  # the training part only
    scaled = scaler.transform(z)
    validation = (forecast_inputs(scaled, window, b0, b1), scaled[b0:b1].reshape(-1, 1, 1).astype(np.float32))
    return PreparedData(raw=raw, transform=transform, scaled=scaled, scaler=scaler, bounds=bounds, window=window,
                        train=make_windows(scaled, window, a0, a1), validation=validation)
