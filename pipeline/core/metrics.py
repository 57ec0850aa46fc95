"""Forecast metrics and the baselines every verdict is checked against. Pure numpy (statsforecast for the
statistical baselines, `pipeline.core.statistical`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
    """Test-split scores of the baselines over the horizon: `metrics` (`<name>_mase`, `<name>_rmse`,
    `<name>_smape`), the forms the statistical ones chose (`ets`: `ETS(M,Ad,M)`), the baselines that could not be
    fitted with their reason, and the seconds each statistical one took."""

    metrics: dict[str, float]
    forms: dict[str, str]
    failed: dict[str, str]
    seconds: dict[str, float]
    # what they were scored on, for the report's per-series tests: the test origins, the values they forecast
    # `(origins, horizon)`, every baseline's forecasts of them and the MASE denominator
    origins: np.ndarray | None = None
    truth: np.ndarray | None = None
    paths: dict[str, np.ndarray] | None = None
    scale: float = 1.0


def baselines(series: np.ndarray, bounds: list[tuple[int, int]], window: int, season: int | None = None, *,
              horizon: int = 1, origin_step: int | None = None, origin_count: int | None = None,
              statistical: bool = True, final_fit: str = "train+validation") -> BaselineScores:
    """The naive, seasonal naive and AR baselines and (`statistical`) ETS, ARIMA and Theta from statsforecast,
    scored on the test split from the same origins and over the same horizon as the networks. AR and the
    statistical models are fitted on what the confirm runs are fitted on (`final_fit`: the training part, or
    everything before the test part)."""
    import time

    from pipeline.core.origins import horizon_mase, origins, targets
    from pipeline.core.statistical import STATISTICAL, statistical_path

    (a0, a1), _, (lo, hi) = bounds
    fit = (a0, lo) if final_fit == "train+validation" else (a0, a1)
    at = origins(lo, hi, horizon, origin_step, origin_count)
    scale = mase_scale(series[:lo], season)  # the networks' test scale: the history before the test part
    truth = targets(series, at, horizon)
    preds = {"naive": naive_paths(series, at, horizon), "ar": ar_paths(series, window, fit, at, horizon)}
    if season:
        preds["seasonal_naive"] = naive_paths(series, at, horizon, season)
    failed: dict[str, str] = {}
    forms: dict[str, str] = {}
    seconds: dict[str, float] = {}
    for name in STATISTICAL if statistical else ():
        t0 = time.perf_counter()
        result = statistical_path(name, series, fit, at, horizon, season)
        seconds[name] = time.perf_counter() - t0
        if isinstance(result, str):
            failed[name] = result
        else:
            preds[name], forms[name] = result
    out: dict[str, float] = {}
    for name, p in preds.items():
        out[f"{name}_mase"] = horizon_mase(p, truth, scale)
        out[f"{name}_rmse"] = rmse(p, truth)
        out[f"{name}_smape"] = smape(p, truth)
    return BaselineScores(out, forms, failed, seconds, at, truth, preds, scale)


def _quiet_worker() -> None:
    """A baseline worker leaves Ctrl-C to the driver (which terminates the pool); SIGTERM ends it silently."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _baselines_of(kwargs: dict[str, Any]) -> BaselineScores:
    return baselines(**kwargs)


POOL_MIN_SERIES = 8  # below this, starting worker processes (statsforecast's import: ~2 s each) costs more


def baselines_many(calls: list[dict[str, Any]], workers: int | None = None) -> list[BaselineScores]:
    """`baselines(**call)` for every call, in order; across `workers` processes (default: the machine's CPUs)
    when there are at least `POOL_MIN_SERIES` calls. The workers are spawned (never forked from a driver that
    may hold threads) and terminated if the driver is interrupted."""
    import multiprocessing as mp
    import os

    workers = min(workers or os.cpu_count() or 1, len(calls))
    if workers < 2 or len(calls) < POOL_MIN_SERIES:
        return [baselines(**call) for call in calls]
    with mp.get_context("spawn").Pool(workers, initializer=_quiet_worker) as pool:  # exit: terminate()
        return list(pool.imap(_baselines_of, calls, chunksize=max(1, len(calls) // (8 * workers))))
