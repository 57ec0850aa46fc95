"""ETS and Theta baselines: the forecasts statsmodels itself makes, from the networks' origins, and a failure
that is reported instead of raised."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from pipeline.core.config import SplitSpec
from pipeline.core.data import split_bounds
from pipeline.core.metrics import baselines
from pipeline.core.origins import origins
from pipeline.core.statistical import ets_paths, statistical_paths, theta_paths

T = np.arange(96)
SERIES = 20 + 0.3 * T + 3 * np.sin(2 * np.pi * T / 12) + np.random.default_rng(5).normal(0, 0.5, 96)
TRAIN = (0, 67)


def test_ets_from_the_end_of_training_is_statsmodels_own_forecast_of_the_chosen_form() -> None:
    from statsmodels.tsa.statespace.exponential_smoothing import ExponentialSmoothing

    paths, form = ets_paths(SERIES, TRAIN, np.array([67]), 5, season=12)
    trend, season = form.split(",")[1:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = ExponentialSmoothing(SERIES[:67], trend=trend != "N", damped_trend=trend == "Ad",
                                   seasonal=12 if season == "A" else None).fit(disp=False)
    np.testing.assert_allclose(paths[0], fit.forecast(5), rtol=1e-6)


def test_ets_later_origins_read_only_the_values_before_them() -> None:
    at = np.array([70, 75, 80])
    clean, _ = ets_paths(SERIES, TRAIN, at, 4, season=12)
    planted = SERIES.copy()
    planted[75] += 100.0
    dirty, _ = ets_paths(planted, TRAIN, at, 4, season=12)
    np.testing.assert_allclose(dirty[:2], clean[:2])  # origins 70 and 75 forecast 70-78 without reading 75
    assert np.abs(dirty[2] - clean[2]).max() > 1e-3  # origin 80 reads it


def test_theta_at_each_origin_is_statsmodels_theta_fitted_on_the_values_before_it() -> None:
    from statsmodels.tsa.forecasting.theta import ThetaModel

    paths = theta_paths(SERIES, TRAIN, np.array([70, 80]), 6, season=12)
    for row, o in zip(paths, (70, 80), strict=True):
        expected = ThetaModel(SERIES[:o], period=12, deseasonalize=True).fit().forecast(6)
        np.testing.assert_allclose(row, expected, rtol=1e-9)


def test_a_baseline_that_cannot_be_fitted_is_reported_not_raised() -> None:
    flat = np.r_[np.full(67, 5.0), SERIES[67:]]  # a constant training part: no ETS likelihood is finite
    out = statistical_paths(flat, TRAIN, np.array([70]), 3)
    assert isinstance(out["ets"], str) and out["ets"].startswith("ValueError: no ETS form could be fitted")
    assert isinstance(out["theta"], np.ndarray)
    bounds = split_bounds(len(flat), SplitSpec())
    scores = baselines(flat, bounds, 4, horizon=3)
    assert set(scores.failed) == {"ets"} and "ets_mase" not in scores.metrics
    assert {"naive_mase", "ar_mase", "theta_mase"} <= set(scores.metrics)


@pytest.mark.parametrize("horizon", [1, 4])
def test_baselines_score_the_networks_origins(horizon: int) -> None:
    bounds = split_bounds(len(SERIES), SplitSpec())
    scores = baselines(SERIES, bounds, 4, 12, horizon=horizon, origin_step=2)
    at = origins(*bounds[2], horizon, 2)
    assert len(at) >= 3 and scores.seconds > 0
    assert scores.metrics["ets_mase"] < scores.metrics["naive_mase"]  # a trend and a season: ETS models both
