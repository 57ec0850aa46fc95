"""The statistical baselines a forecaster must beat, from statsmodels: exponential smoothing (ETS) and Theta,
forecasting from the same origins and horizon as the networks. Pure (statsmodels, numpy).

- ETS: additive error state-space forms (`statsmodels.tsa.statespace.exponential_smoothing`): level; level +
  trend; level + damped trend; each also with an additive season when the dataset has one of at most
  `MAX_ETS_SEASON` points (longer seasons make the state space slow: 10 s a fit at 52). The form with the
  lowest AICc, fitted on the training part only, forecasts from every origin without refitting: its
  parameters are applied to the series and each forecast is dynamic from the origin, so it reads only the
  values before it.
- Theta (`statsmodels.tsa.forecasting.theta.ThetaModel`, the M3 winner's method: SES with half the OLS
  trend, deseasonalised when a season is given): fitted at each origin on the values before it (an expanding
  window; its two parameters have closed forms or a one-dimensional fit, so refitting is cheap).

A baseline that cannot be fitted gives its reason instead of forecasts; the sweep reports it as failed for
that dataset and goes on.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

MAX_ETS_SEASON = 24


def ets_paths(series: np.ndarray, train: tuple[int, int], at: np.ndarray, horizon: int,
              season: int | None = None) -> tuple[np.ndarray, str]:
    """ETS forecasts `(origins, horizon)` and the chosen form (`A,N,N`, `A,Ad,A`, ...)."""
    from statsmodels.tsa.statespace.exponential_smoothing import ExponentialSmoothing

    a0, a1 = train
    y = np.asarray(series, float)
    seasons = [None] + ([season] if season and season <= MAX_ETS_SEASON and a1 - a0 >= 2 * season + 2 else [])
    best: tuple[float, Any, str] | None = None
    errors = []
    for s in seasons:
        for trend, damped in ((False, False), (True, False), (True, True)):
            form = f"A,{'Ad' if damped else 'A' if trend else 'N'},{'A' if s else 'N'}"
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # the optimiser's convergence chatter; a failed fit raises
                    fit = ExponentialSmoothing(y[a0:a1], trend=trend, damped_trend=damped,
                                               seasonal=s).fit(disp=False)
            except (ValueError, np.linalg.LinAlgError) as exc:
                errors.append(f"{form}: {exc}")
                continue
            if not np.isfinite(fit.aicc):
                errors.append(f"{form}: AICc {fit.aicc}")
            elif best is None or fit.aicc < best[0]:
                best = (float(fit.aicc), fit, form)
    if best is None:
        raise ValueError("no ETS form could be fitted on the training part (" + "; ".join(errors)[:240] + ")")
    _, fit, form = best
    applied = fit.apply(y[a0: int(np.max(at))])  # the training fit's parameters, filtered over the series
    paths = np.stack([np.asarray(applied.get_prediction(start=int(o) - a0, end=int(o) - a0 + horizon - 1,
                                                        dynamic=True).predicted_mean, float) for o in at])
    return paths, form


def theta_paths(series: np.ndarray, train: tuple[int, int], at: np.ndarray, horizon: int,
                season: int | None = None) -> np.ndarray:
    """Theta forecasts `(origins, horizon)`, refitted on the values before each origin."""
    from statsmodels.tsa.forecasting.theta import ThetaModel

    a0 = train[0]
    y = np.asarray(series, float)
    out = []
    for o in at:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = ThetaModel(y[a0:int(o)], period=season or 1, deseasonalize=bool(season)).fit()
            out.append(np.asarray(fit.forecast(horizon), float))
    return np.stack(out)


def statistical_paths(series: np.ndarray, train: tuple[int, int], at: np.ndarray, horizon: int,
                      season: int | None = None) -> dict[str, np.ndarray | str]:
    """`ets` and `theta` forecasts from every origin, or for a baseline that fails, its one-line reason."""
    out: dict[str, np.ndarray | str] = {}
    for name, make in (("ets", lambda: ets_paths(series, train, at, horizon, season)[0]),
                       ("theta", lambda: theta_paths(series, train, at, horizon, season))):
        try:
            paths = make()
            if not np.all(np.isfinite(paths)):
                raise ValueError("forecasts are not finite")
            out[name] = paths
        except Exception as exc:  # any fitting error: this baseline is reported as failed, the sweep goes on
            first = str(exc).splitlines()[0][:200] if str(exc) else ""
            out[name] = f"{exc.__class__.__name__}: {first}"
    return out
