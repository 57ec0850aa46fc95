"""The statistical baselines a forecaster must beat, from statsforecast: ETS, ARIMA and Theta as the
M-competitions and Hewamalage, Bergmeir & Bandara (2021) fit them, forecasting from the same origins and
horizon as the networks. Pure (statsforecast, numpy).

- ETS: `AutoETS(model="ZZZ")`, R's `forecast::ets`: additive or multiplicative error and season, none, additive
  or damped trend, the form with the lowest AICc.
- ARIMA: `AutoARIMA`, R's `auto.arima` (stepwise search, seasonal when the dataset has a season), on the log of
  the series when it is positive (Hewamalage et al.'s `auto.arima(lambda = 0)`: no negative forecasts from a
  positive series), on the series itself otherwise.
- Theta: the M3 winner's method (`Theta`: a seasonality test, multiplicative decomposition, SES with half the
  OLS trend).
- A season longer than 24 (weekly data, season 52): R's `ets` refuses such seasons and `auto.arima`'s seasonal
  search is impractical (measured: more than 4 minutes on one series of 2,284 weekly points, unfinished), so ETS
  and ARIMA are fitted as R's `stlm` does: STL takes the season out (`MSTL`; at each origin from the history
  before it only) and a non-seasonal ETS / ARIMA forecasts what is left; the form says `STL + ...`.

Each is fitted once per series on its fit part (`[a0, a1)`: train, or train + validation under the default
`evaluation.final_fit`) and forecasts every origin with the fitted parameters (`forward`: the model's filter
run over the history up to the origin; expanding windows from `a0`, so ETS's initial states stay in phase).
Every model sees the series divided by the fit part's mean absolute value and its forecasts are multiplied back:
MASE has no units, and ARIMA's and Theta's optimisers are not scale-free (a series x1000 moved one series' MASE by
0.25 without this; measured). A series that never went below 0 is never forecast below 0 (the competitions'
convention). A baseline that cannot be fitted gives its reason instead of forecasts; the sweep reports it as
failed for that dataset and goes on.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

STATISTICAL = ("ets", "arima", "theta")


LONG_SEASON = 24  # R's `ets` limit: above it, ETS and ARIMA forecast the STL-adjusted series (R's `stlm`)


def _models(season: int | None) -> dict[str, Callable[[], Any]]:
    from statsforecast.models import MSTL, AutoARIMA, AutoETS, Theta  # lazy: loads statsforecast

    m = season if season and season > 1 else 1
    if m > LONG_SEASON:
        return {"ets": lambda: MSTL(season_length=m, trend_forecaster=AutoETS(season_length=1, model="ZZN")),
                "arima": lambda: MSTL(season_length=m, trend_forecaster=AutoARIMA(season_length=1)),
                "theta": lambda: Theta(season_length=m)}
    return {"ets": lambda: AutoETS(season_length=m), "arima": lambda: AutoARIMA(season_length=m),
            "theta": lambda: Theta(season_length=m)}


def _scale(y: np.ndarray) -> float:
    c = float(np.mean(np.abs(y)))
    return c if np.isfinite(c) and c > 0 else 1.0


def model_paths(name: str, series: np.ndarray, fit: tuple[int, int], at: np.ndarray, horizon: int,
                season: int | None = None) -> tuple[np.ndarray, str]:
    """One statistical baseline's forecasts `(origins, horizon)` and the form it chose (`ETS(M,Ad,M)`,
    `ARIMA(1,1,0)(0,1,1)[12] on log`, `Theta`).

    Raises:
        ValueError: the model could not be fitted or its forecasts are not finite.
    """
    a0, a1 = fit
    y = np.asarray(series, float)
    c = _scale(y[a0:a1])
    log = name == "arima" and bool(np.all(y[a0:int(np.max(at))] > 0))
    z = np.log(y / c) if log else y / c

    def back(f: np.ndarray) -> np.ndarray:
        return (np.exp(f) if log else f) * c

    model = _models(season)[name]()
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # the optimisers' convergence chatter; a failed fit raises
        model.fit(z[a0:a1])
        paths = np.stack([back(np.asarray(model.forward(y=z[a0:int(o)], h=horizon)["mean"], float)) for o in at])
    if not np.all(np.isfinite(paths)):
        raise ValueError("forecasts are not finite")
    if np.all(y[a0:int(np.max(at))] >= 0):
        paths = np.maximum(paths, 0.0)
    return paths, _form(name, model) + (" on log" if log else "")


def _form(name: str, model: Any) -> str:
    if name != "theta" and hasattr(model, "trend_forecaster"):  # a long season: STL, then the model
        return "STL + " + _form(name, model.trend_forecaster)
    fitted = getattr(model, "model_", {})
    if name == "ets":  # `method` is absent when the search fell back to a simple form (a constant fit part)
        c = str(fitted.get("components", "???"))
        return str(fitted.get("method") or f"ETS({c[0]},{c[1]},{c[2]})")
    if name == "arima":
        from statsforecast.arima import arima_string  # lazy: loads statsforecast

        return " ".join(str(arima_string(fitted)).split())
    return "Theta"


def statistical_path(name: str, series: np.ndarray, fit: tuple[int, int], at: np.ndarray, horizon: int,
                     season: int | None = None) -> tuple[np.ndarray, str] | str:
    """`model_paths`, or for a baseline that fails, its one-line reason."""
    try:
        return model_paths(name, series, fit, at, horizon, season)
    except Exception as exc:  # any fitting error: this baseline is reported as failed, the sweep goes on
        first = str(exc).splitlines()[0][:200] if str(exc) else ""
        return f"{exc.__class__.__name__}: {first}"


def statistical_paths(series: np.ndarray, fit: tuple[int, int], at: np.ndarray, horizon: int,
                      season: int | None = None) -> dict[str, tuple[np.ndarray, str] | str]:
    """`ets`, `arima` and `theta` forecasts from every origin with their forms, or for a baseline that fails,
    its one-line reason."""
    return {name: statistical_path(name, series, fit, at, horizon, season) for name in STATISTICAL}
