"""Forecast origins and multi-step scores. Pure numpy.

A forecast from origin `o` with horizon `H` predicts the points `o, o+1, ..., o+H-1` from what is known
before `o` (the series up to `o-1`, nothing after). A split `[lo, hi)` is scored from origins spaced
`step` apart that end at the split's end (the last origin forecasts the split's last `H` points), as
NeuralForecast's `cross_validation(n_windows, step_size, refit=False)` places its windows: `count` of them,
or every one that fits when `count` is None. With `H = 1`, `step = 1` and every origin, each point of the
split is forecast one step ahead: gatesweep's scoring before horizons existed.

Scores over a horizon follow the M4 convention: the absolute error of every (origin, step) pair divided by
the training part's in-sample (seasonal) naive error, averaged; per step, the same average over origins.
The mean over steps equals the mean over all pairs.
"""

from __future__ import annotations

import numpy as np


def origins(lo: int, hi: int, horizon: int, step: int | None = None, count: int | None = None) -> np.ndarray:
    """Origins scoring the split `[lo, hi)` at `horizon`, spaced `step` (default `horizon`) apart, the last
    at `hi - horizon`; `count` of them (default: every one that fits).

    Raises:
        ValueError: the split is shorter than the horizon, or `count` origins do not fit in it.
    """
    step = step or horizon
    last = hi - horizon
    if last < lo:
        raise ValueError(f"horizon {horizon} is longer than the split ({hi - lo} points)")
    fit = (last - lo) // step + 1
    if count is not None and count > fit:
        raise ValueError(f"{count} origins {step} apart with horizon {horizon} need {(count - 1) * step + horizon} "
                         f"points; the split has {hi - lo}")
    n = fit if count is None else count
    return last - step * np.arange(n)[::-1]


def targets(series: np.ndarray, at: np.ndarray, horizon: int) -> np.ndarray:
    """The values each origin forecasts: `series[o + h]`, shape `(origins, horizon)`."""
    return np.asarray(series, float)[np.asarray(at)[:, None] + np.arange(horizon)[None, :]]


def step_mase(pred: np.ndarray, truth: np.ndarray, scale: float) -> np.ndarray:
    """MASE at each step of the horizon (mean over origins), shape `(horizon,)`."""
    return np.mean(np.abs(np.asarray(pred, float) - np.asarray(truth, float)), axis=0) / scale


def horizon_mase(pred: np.ndarray, truth: np.ndarray, scale: float) -> float:
    """MASE over every (origin, step) pair: the mean of `step_mase`."""
    return float(np.mean(step_mase(pred, truth, scale)))


def block_lags(horizon: int, step: int) -> int:
    """Forecasts from origins `step` apart share targets up to `ceil(H / step) - 1` origins away, so their
    per-origin losses are correlated up to that lag (the least a HAC variance must cover)."""
    return max(0, -(-horizon // step) - 1)
