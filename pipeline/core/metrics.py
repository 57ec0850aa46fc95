"""Forecast metrics and the baselines every verdict is checked against. Pure numpy (statsforecast for the
statistical baselines, `pipeline.core.statistical`)."""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import logging
import multiprocessing as mp
import os
import signal
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.core import statistical as statistical_module  # the parameter `statistical` of `baselines` is not it
from pipeline.core.data import forecast_inputs, origin_inputs, split_bounds
from pipeline.core.errors import BaselineWorkerDied
from pipeline.core.origins import horizon_mase, origins, targets
from pipeline.core.scoring import Scoring
from pipeline.core.statistical import STATISTICAL, statistical_path


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


# what `baselines` reads of a `Scoring` (the cache key holds these and no more)
BASELINE_SCORING = {"split", "season", "horizon", "origin_step", "origin_count", "final_fit"}


def baselines(series: np.ndarray, scoring: Scoring, window: int, *,
              statistical: bool | tuple[str, ...] = True) -> BaselineScores:
    """The naive, seasonal naive and AR(`window`) baselines and ETS, ARIMA and Theta from statsforecast
    (`statistical`: all, none, or the names of those to fit), scored as the networks are (`scoring`: on the test
    part of its split, from the same origins, over the same horizon, against the same MASE scale). AR and the
    statistical models are fitted on what the confirm runs are fitted on (`scoring.final_fit`: the training part,
    or everything before the test part)."""
    season, horizon = scoring.season, scoring.horizon
    (a0, a1), _, (lo, hi) = split_bounds(len(series), scoring.split)
    fit = (a0, lo) if scoring.final_fit == "train+validation" else (a0, a1)
    at = origins(lo, hi, horizon, scoring.origin_step, scoring.origin_count)
    scale = mase_scale(series[:lo], season)  # the networks' test scale: the history before the test part
    truth = targets(series, at, horizon)
    preds = {"naive": naive_paths(series, at, horizon), "ar": ar_paths(series, window, fit, at, horizon)}
    if season:
        preds["seasonal_naive"] = naive_paths(series, at, horizon, season)
    failed: dict[str, str] = {}
    forms: dict[str, str] = {}
    seconds: dict[str, float] = {}
    for name in STATISTICAL if statistical is True else statistical or ():
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
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _baselines_of(kwargs: dict[str, Any]) -> BaselineScores:
    return baselines(**kwargs)


POOL_MIN_SERIES = 8  # below this, starting worker processes (statsforecast's import: ~2 s each) costs more


def baselines_many(calls: list[dict[str, Any]], workers: int | None = None,
                   cache: Path | None = None) -> list[BaselineScores]:
    """`baselines(**call)` for every call, in order; across `workers` processes (default: the machine's CPUs)
    when there are at least `POOL_MIN_SERIES` calls. The workers are spawned (never forked from a driver that
    may hold threads) and terminated if the driver is interrupted.

    `cache`: a directory of earlier results (`baseline_cache`), one JSON file per call keyed by everything the
    result depends on (the series' values, the call's settings, statsforecast's version and this code's): a
    call found there is not fitted again (a nightly run on unchanged data, a benchmark run twice)."""
    keys = [_cache_key(call) for call in calls] if cache is not None else []
    found = {i: r for i, k in enumerate(keys) if cache is not None and (r := _cached(cache, k)) is not None}
    todo = [i for i in range(len(calls)) if i not in found]
    workers = min(workers or os.cpu_count() or 1, len(todo))
    if workers < 2 or len(todo) < POOL_MIN_SERIES:
        fresh = [baselines(**calls[i]) for i in todo]
    else:
        fresh = _pooled([calls[i] for i in todo], workers)
    for i, r in zip(todo, fresh, strict=True):
        found[i] = r
        if cache is not None:
            _store(cache, keys[i], r)
    return [found[i] for i in range(len(calls))]


def _pooled(calls: list[dict[str, Any]], workers: int) -> list[BaselineScores]:
    """`baselines(**call)` for every call across `workers` spawned processes, in order.

    A process pool, not `multiprocessing.Pool`: a Pool replaces a worker that dies and waits forever for the
    results the dead one held (seen: SIGTERM to the process group during the baselines left `gatesweep bench`
    waiting); here a dead worker breaks the pool and `BaselineWorkerDied` says so. On any exception in the
    driver (Ctrl-C, SIGTERM turned into an exception) the workers are terminated at once rather than left to
    finish their chunks."""
    pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=_quiet_worker)
    try:
        return list(pool.map(_baselines_of, calls, chunksize=max(1, len(calls) // (8 * workers))))
    except BrokenProcessPool as exc:
        raise BaselineWorkerDied(f"a baseline worker process died before it finished ({exc}); nothing was "
                                 "started") from None
    finally:
        # the executor has no public way to stop its workers before Python 3.14 (`terminate_workers`): its
        # private process table, read defensively
        for proc in list((getattr(pool, "_processes", None) or {}).values()):
            if proc.is_alive():
                proc.terminate()
        pool.shutdown(wait=True, cancel_futures=True)


def baseline_cache() -> Path | None:
    """Where fitted baselines are kept: `$GATESWEEP_CACHE/baselines` (default `~/.cache/gatesweep`), or None
    with `GATESWEEP_CACHE=off`."""
    root = os.environ.get("GATESWEEP_CACHE", "")
    if root == "off":
        return None
    base = Path(root) if root else Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gatesweep"
    return base / "baselines"


@functools.lru_cache(maxsize=1)
def _code_fingerprint() -> bytes:
    """statsforecast's version and the baseline code: read once per process, not once per series."""
    return (version("statsforecast") + inspect.getsource(statistical_module) + inspect.getsource(baselines)).encode()


def _cache_key(call: dict[str, Any]) -> str:
    h = hashlib.sha256(np.ascontiguousarray(np.asarray(call["series"], float)).tobytes())
    # of the scoring, what the baselines read: a change of the networks' early stopping fits none of them again
    settings = {k: v for k, v in call.items() if k not in ("series", "scoring")} | {
        "scoring": call["scoring"].model_dump(mode="json", include=BASELINE_SCORING)}
    h.update(json.dumps(settings, sort_keys=True, default=str).encode())
    h.update(_code_fingerprint())
    return h.hexdigest()


def _cached(cache: Path, key: str) -> BaselineScores | None:
    path = cache / key[:2] / f"{key}.json"
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # not there, or a file cut short: fitted again and rewritten
        return None
    return BaselineScores(d["metrics"], d["forms"], d["failed"], d["seconds"], np.asarray(d["origins"], int),
                          np.asarray(d["truth"], float), {k: np.asarray(v, float) for k, v in d["paths"].items()},
                          float(d["scale"]))


def _store(cache: Path, key: str, r: BaselineScores) -> None:
    folder = cache / key[:2]
    try:
        folder.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"metrics": r.metrics, "forms": r.forms, "failed": r.failed, "seconds": r.seconds,
                           "origins": np.asarray(r.origins).tolist(), "truth": np.asarray(r.truth).tolist(),
                           "paths": {k: np.asarray(v).tolist() for k, v in (r.paths or {}).items()},
                           "scale": r.scale})
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, folder / f"{key}.json")  # whole or absent, never half-written
    except OSError as exc:  # a read-only home: the sweep goes on, it only fits again next time
        logging.getLogger("gatesweep").warning("could not cache a fitted baseline in %s: %s", cache, exc)
