"""Target transforms: exact inversion, no leakage, the split boundaries, and training on them."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.core.config import SplitSpec
from pipeline.core.data import prepare, split_bounds
from pipeline.core.hparams import HParams
from pipeline.core.scoring import Scoring
from pipeline.core.training import fit_and_score
from pipeline.core.transforms import TRANSFORMS, Transform, check_transform

SEASON = 12
# a monthly series with trend and growing seasonality, positive throughout (like the airline data)
T = np.arange(144)
TRENDING = (100 + 2.0 * T) * (1 + 0.2 * np.sin(2 * np.pi * T / SEASON)) + np.random.default_rng(0).normal(0, 2, 144)


@pytest.mark.parametrize("kind", TRANSFORMS)
def test_every_transform_round_trips_exactly(kind: str) -> None:
    tr = Transform(kind, SEASON).fitted(TRENDING, (0, 100))
    z = tr.forward(TRENDING)
    assert np.isnan(z[: tr.lag]).all() and np.isfinite(z[tr.lag:]).all()
    lagged = TRENDING[: len(TRENDING) - tr.lag] if tr.lag else None
    at = np.arange(tr.lag, len(TRENDING))
    np.testing.assert_allclose(tr.inverse(z[tr.lag:], lagged, at), TRENDING[tr.lag:], rtol=1e-12)


@pytest.mark.parametrize("kind", TRANSFORMS)
def test_one_step_inversion_at_each_split_boundary_reads_only_the_past(kind: str) -> None:
    """With the true transformed value, the prepared data's inverse gives back each split's first points."""
    data = prepare(TRENDING, SplitSpec(), 24, Transform(kind, SEASON))
    for lo, hi in split_bounds(len(TRENDING), SplitSpec())[1:]:  # validation and test starts
        true_scaled = data.scaled[lo:hi]
        np.testing.assert_allclose(data.to_original(true_scaled, lo, hi), TRENDING[lo:hi], rtol=1e-9)
        history = TRENDING[:lo]
        z_next = float(data.scaled[lo])
        assert data.next_value(z_next, history) == pytest.approx(TRENDING[lo], rel=1e-9)


def test_nothing_from_validation_or_test_reaches_the_fitted_scaling() -> None:
    (a0, a1), _, _ = split_bounds(len(TRENDING), SplitSpec())
    changed = TRENDING.copy()
    changed[a1:] *= 50  # wildly different future
    for kind in TRANSFORMS:
        a = prepare(TRENDING, SplitSpec(), 12, Transform(kind, SEASON))
        b = prepare(changed, SplitSpec(), 12, Transform(kind, SEASON))
        assert a.scaler == b.scaler, kind
        np.testing.assert_array_equal(a.train[0], b.train[0])
        np.testing.assert_array_equal(a.train[1], b.train[1])


def test_log_and_seasonal_transforms_say_what_they_need() -> None:
    assert "positive series" in (check_transform("log_diff", np.array([1.0, 0.0, 2.0]), None, "d") or "")
    assert "needs a season" in (check_transform("seasonal_diff", TRENDING, None, "d") or "")
    assert check_transform("log_seasonal_diff", TRENDING, SEASON, "d") is None
    with_zeros = np.array([3.0, 0.0, 5.0, 0.0])  # intermittent sales: log refuses, log(1 + y) takes them
    assert check_transform("log1p", with_zeros, None, "d") is None and check_transform("log", with_zeros, None, "d")
    assert "without negative values" in (check_transform("log1p_diff", np.array([1.0, -2.0]), None, "d") or "")
    np.testing.assert_allclose(Transform("log1p").forward(with_zeros), np.log1p(with_zeros))
    with pytest.raises(ValueError, match="unknown transform"):
        Transform("boxcox")


def test_a_window_longer_than_the_validation_and_test_splits_trains_and_scores_every_point() -> None:
    """144 points: 22 in validation and test each; a two-year window (24) reads history from earlier splits."""
    hp = HParams(arch="gru", hidden_size=8, window=24, batch_size=16, epochs=2, optimizer="adam",
                 learning_rate=0.01, transform="log_seasonal_diff")
    result = fit_and_score(hp, TRENDING, Scoring(season=SEASON), seed=0, evaluate_test=True)
    _, (v0, v1), (s0, s1) = split_bounds(len(TRENDING), SplitSpec())
    assert 24 > v1 - v0 and 24 > s1 - s0
    assert result.forecasts is not None and len(result.forecasts["test_pred"]) == s1 - s0
    assert np.isfinite(result.metrics["test_mase"]) and np.isfinite(result.metrics["closed_loop_rmse"])
    # the free run starts after the first full window of the transformed series
    assert result.forecasts["start"] == [24 + SEASON]
    assert len(result.forecasts["generated"]) == len(TRENDING) - 24 - SEASON


def test_stl_removes_the_season_fitted_on_the_fit_part_and_carries_it_forward() -> None:
    """log_stl on a series with a multiplicative season: what is left has (almost) no season in the fitted
    part; after it, each point gets the seasonal effect of the same month in the fitted part's last year; a
    value changed after the fitted part changes nothing fitted."""
    tr = Transform("log_stl", SEASON).fitted(TRENDING, (0, 96))
    z = tr.forward(TRENDING)
    season = tr.season_at(np.arange(144))
    np.testing.assert_allclose(season[96:], season[np.arange(96, 144) % 12 + 84])
    assert np.ptp(season[:12]) > 0.2  # log of a +-20% season
    t = np.arange(96)
    left = z[:96] - np.polyval(np.polyfit(t, z[:96], 3), t)  # z without its trend
    monthly = np.array([left[m::12].mean() for m in range(12)])  # the month effects left in z
    assert np.ptp(monthly) < 0.1 * np.ptp(season[:12])
    changed = TRENDING.copy()
    changed[96:] *= 3
    np.testing.assert_array_equal(Transform("log_stl", SEASON).fitted(changed, (0, 96)).seasonal, tr.seasonal)
    # a part shorter than two seasons is left as it is (after the log)
    short = Transform("log_stl", SEASON).fitted(TRENDING, (0, 20))
    np.testing.assert_allclose(short.forward(TRENDING[:20]), np.log(TRENDING[:20]))
    with pytest.raises(ValueError, match="before it is fitted"):
        Transform("stl", SEASON).forward(TRENDING)
    assert "needs a season" in (check_transform("stl", TRENDING, None, "d") or "")
