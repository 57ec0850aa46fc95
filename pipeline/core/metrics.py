"""Forecast metrics and the baselines every verdict is checked against. Pure numpy."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.core.data import forecast_inputs, origin_inputs


def rmse(pred: np.ndarray, truth: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(pred) - np.asarray(truth)) ** 2)))


def mase_scale(train: np.ndarray, season: int | None = None) -> float:
    """Mean absolute error of the in-sample (seasonal) naive forecast on the training part."""
    m = season or 1
    scale = float(np.mean(np.abs(train[m:] - train[:-m])))
    return scale if scale > 0 else 1.0


def mase(pred: np.ndarray, truth: np.ndarray, scale: float) -> float:
    return float(np.mean(np.abs(np.asarray(pred) - np.asarray(truth))) / scale)


def smape(pred: np.ndarray, truth: np.ndarray) -> float:
    pred, truth = np.asarray(pred), np.asarray(truth)
    denom = np.abs(pred) + np.abs(truth)
    ratio = np.divide(2 * np.abs(pred - truth), denom, out=np.zeros_like(denom), where=denom > 0)
    return float(100 * np.mean(ratio))


def naive_forecast(series: np.ndarray, lo: int, hi: int, season: int | None = None) -> np.ndarray:
    """Last value (or the value one season back) as the forecast of every point in `[lo, hi)`."""
    return naive_paths(series, np.arange(lo, hi), 1, season)[:, 0]


def naive_paths(series: np.ndarray, at: np.ndarray, horizon: int, season: int | None = None) -> np.ndarray:
    """From each origin, the last value (or, seasonal, the value a whole number of seasons back that is known
    at the origin) for each of the next `horizon` points: `(origins, horizon)`."""
    m = season or 1
    h = np.arange(horizon)
    back = m * (h // m + 1)  # the latest same-season point before the origin
    return np.asarray(series, float)[np.asarray(at)[:, None] + h[None, :] - back[None, :]]


def ar_fit(series: np.ndarray, window: int, train: tuple[int, int]) -> np.ndarray:
    """Linear AR(window) with intercept, fitted by least squares on the training part: its coefficients."""
    a, b = train
    x = forecast_inputs(series, window, a + window, b)[..., 0]
    design = np.column_stack([x, np.ones(len(x))])
    coef, *_ = np.linalg.lstsq(design, series[a + window: b], rcond=None)
    return coef


def ar_forecast(series: np.ndarray, window: int, train: tuple[int, int], lo: int, hi: int) -> np.ndarray:
    """One-step forecasts of `[lo, hi)` by the AR(window) model fitted on the training part."""
    return ar_paths(series, window, train, np.arange(lo, hi), 1)[:, 0]


def ar_paths(series: np.ndarray, window: int, train: tuple[int, int], at: np.ndarray, horizon: int) -> np.ndarray:
    """The AR(window) model's forecasts from each origin, its own forecasts fed back: `(origins, horizon)`."""
    coef = ar_fit(series, window, train)
    rows = origin_inputs(series, window, at)[..., 0]
    out = np.empty((len(at), horizon))
    for h in range(horizon):
        out[:, h] = rows @ coef[:-1] + coef[-1]
        rows = np.column_stack([rows[:, 1:], out[:, h]])
    return out


@dataclass(frozen=True)
class BaselineScores:
    """Test-split scores of the baselines over the horizon: `metrics` (`<name>_mase`, `<name>_rmse`), the
    baselines that could not be fitted with their reason, and the seconds the statistical ones took."""

    metrics: dict[str, float]
    failed: dict[str, str]
    seconds: float


def baselines(series: np.ndarray, bounds: list[tuple[int, int]], window: int, season: int | None = None, *,
              horizon: int = 1, origin_step: int | None = None, origin_count: int | None = None,
              statistical: bool = True) -> BaselineScores:
    """The naive, seasonal naive and AR baselines and (`statistical`) ETS and Theta from statsmodels, scored
    on the test split from the same origins and over the same horizon as the networks."""
    import time

    from pipeline.core.origins import horizon_mase, origins, targets
    from pipeline.core.statistical import statistical_paths

    (a0, a1), _, (lo, hi) = bounds
    at = origins(lo, hi, horizon, origin_step, origin_count)
    scale = mase_scale(series[:lo], season)  # the networks' test scale: the history before the test part
    truth = targets(series, at, horizon)
    preds = {"naive": naive_paths(series, at, horizon), "ar": ar_paths(series, window, (a0, a1), at, horizon)}
    if season:
        preds["seasonal_naive"] = naive_paths(series, at, horizon, season)
    failed: dict[str, str] = {}
    t0 = time.perf_counter()
    if statistical:
        for name, result in statistical_paths(series, (a0, a1), at, horizon, season).items():
            if isinstance(result, str):
                failed[name] = result
            else:
                preds[name] = result
    seconds = time.perf_counter() - t0
    out: dict[str, float] = {}
    for name, p in preds.items():
        out[f"{name}_mase"] = horizon_mase(p, truth, scale)
        out[f"{name}_rmse"] = rmse(p, truth)
    return BaselineScores(out, failed, seconds)
