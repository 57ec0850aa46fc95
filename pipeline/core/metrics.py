"""Forecast metrics and the baselines every verdict is checked against. Pure numpy."""

from __future__ import annotations

import numpy as np

from pipeline.core.data import forecast_inputs


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
    m = season or 1
    return np.asarray(series[lo - m: hi - m], float)


def ar_forecast(series: np.ndarray, window: int, train: tuple[int, int], lo: int, hi: int) -> np.ndarray:
    """Linear AR(window) with intercept, fitted by least squares on the training part."""
    a, b = train
    x = forecast_inputs(series, window, a + window, b)[..., 0]
    design = np.column_stack([x, np.ones(len(x))])
    coef, *_ = np.linalg.lstsq(design, series[a + window: b], rcond=None)
    xs = forecast_inputs(series, window, lo, hi)[..., 0]
    return np.column_stack([xs, np.ones(len(xs))]) @ coef


def baselines(series: np.ndarray, bounds: list[tuple[int, int]], window: int,
              season: int | None = None) -> dict[str, float]:
    """Test-split MASE and RMSE of the naive, seasonal naive and AR baselines."""
    (a0, a1), _, (lo, hi) = bounds
    scale = mase_scale(series[a0:a1], season)
    truth = series[lo:hi]
    preds = {"naive": naive_forecast(series, lo, hi), "ar": ar_forecast(series, window, (a0, a1), lo, hi)}
    if season:
        preds["seasonal_naive"] = naive_forecast(series, lo, hi, season)
    out: dict[str, float] = {}
    for name, p in preds.items():
        out[f"{name}_mase"] = mase(p, truth, scale)
        out[f"{name}_rmse"] = rmse(p, truth)
    return out
