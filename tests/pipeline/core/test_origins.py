"""Forecast horizons and origins: where origins are, windows that stay inside their split, exact multi-step
inversion, no value after an origin reaching its forecast, and H = 1 giving the one-step scores."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.core.config import SplitSpec
from pipeline.core.data import make_windows, prepare
from pipeline.core.hparams import HParams
from pipeline.core.origins import horizon_mase, origins, step_mase, targets
from pipeline.core.scoring import Scoring
from pipeline.core.training import fit_and_score
from pipeline.core.transforms import TRANSFORMS, Transform

SEASON = 4
T = np.arange(120)
SERIES = (50 + 0.5 * T) * (1 + 0.2 * np.sin(2 * np.pi * T / SEASON)) + np.random.default_rng(1).normal(0, 1, 120)
TINY = dict(hidden_size=8, window=8, batch_size=16, epochs=3, optimizer="adam", learning_rate=0.01)


def test_origins_end_at_the_split_end_and_are_a_step_apart() -> None:
    assert origins(100, 130, 6, 2).tolist() == list(range(100, 125, 2))
    assert origins(100, 130, 6, 2, count=3).tolist() == [120, 122, 124]  # the last 3, like cross_validation
    assert origins(100, 130, 6).tolist() == [100, 106, 112, 118, 124]  # step defaults to the horizon
    assert origins(100, 130, 1).tolist() == list(range(100, 130))  # H = 1: every point, one step ahead
    with pytest.raises(ValueError, match="horizon 31 is longer than the split"):
        origins(100, 130, 31)
    with pytest.raises(ValueError, match="10 origins 4 apart with horizon 6 need 42 points"):
        origins(100, 130, 6, 4, count=10)


def test_horizon_windows_keep_every_target_inside_their_split() -> None:
    z = np.arange(60, dtype=float)
    x, y = make_windows(z, 5, 20, 40, horizon=3)
    assert x.shape[1:] == (5, 1) and y.shape[1:] == (5, 3)
    # each position's targets are the next 3 values; every target lies in [20, 40)
    np.testing.assert_array_equal(y[:, :, 0], x[:, :, 0] + 1)
    np.testing.assert_array_equal(y[:, :, 2], x[:, :, 0] + 3)
    assert y.min() >= 20 - 1 + 1 and y.max() == 39


@pytest.mark.parametrize("kind", TRANSFORMS)
def test_true_paths_invert_to_the_truth_beyond_the_season(kind: str) -> None:
    """With the true transformed values as the forecast, each path inverts to the series, also for steps
    whose lagged value is the path's own earlier forecast (H = 7 > season 4)."""
    data = prepare(SERIES, SplitSpec(), 8, Transform(kind, SEASON), horizon=7, outputs=7)
    for at in (data.val_origins, data.test_origins):
        true_z = targets(data.scaled, at, 7)
        np.testing.assert_allclose(data.paths_to_original(true_z, at), targets(SERIES, at, 7), rtol=1e-9)


def test_step_mase_averages_to_the_horizon_mase() -> None:
    rng = np.random.default_rng(0)
    pred, truth = rng.normal(size=(9, 4)), rng.normal(size=(9, 4))
    assert np.mean(step_mase(pred, truth, 2.0)) == pytest.approx(horizon_mase(pred, truth, 2.0))
    assert horizon_mase(pred, truth, 2.0) == pytest.approx(np.mean(np.abs(pred - truth)) / 2.0)


@pytest.mark.parametrize(("strategy", "transform"), [("direct", "seasonal_diff"), ("recursive", "seasonal_diff"),
                                                     ("direct", "log_stl"), ("recursive", "stl")])
def test_no_value_at_or_after_an_origin_reaches_its_forecast(strategy: str, transform: str) -> None:
    """A value planted in the test split changes no forecast from an origin at or before it, and changes the
    forecasts from the origins whose windows read it (so the check can fail). H = 6 > season 4, seasonal
    differencing: later steps invert from the path's own forecasts, never from the planted truth; STL: the
    season is fitted on the training part and carried forward."""
    hp = HParams(arch="gru", transform=transform, strategy=strategy, **TINY)
    scoring = Scoring(season=SEASON, horizon=6, origin_step=1)
    clean = fit_and_score(hp, SERIES, scoring, seed=3, evaluate_test=True)
    assert clean.forecasts is not None
    at = np.asarray(clean.forecasts["test_origins"], int)
    planted_at = int(at[len(at) // 2])
    planted = SERIES.copy()
    planted[planted_at] += 500.0
    dirty = fit_and_score(hp, planted, scoring, seed=3, evaluate_test=True)
    assert dirty.forecasts is not None
    a = np.asarray(clean.forecasts["test_pred"]).reshape(len(at), 6)
    b = np.asarray(dirty.forecasts["test_pred"]).reshape(len(at), 6)
    before = at <= planted_at
    np.testing.assert_array_equal(a[before], b[before])  # bitwise: the same network, the same inputs
    assert (np.abs(a[~before] - b[~before]).max(axis=1) > 1e-6).any()
    assert clean.metrics["val_mase"] == dirty.metrics["val_mase"]  # training and validation never saw it


def test_at_horizon_1_direct_and_recursive_agree_and_score_every_point_one_step_ahead() -> None:
    results = {s: fit_and_score(HParams(arch="lstm", strategy=s, **TINY), SERIES, Scoring(), seed=2,
                                evaluate_test=True) for s in ("direct", "recursive")}
    direct, recursive = results["direct"], results["recursive"]
    for key in ("val_mase", "test_mase", "test_rmse", "closed_loop_rmse"):
        assert direct.metrics[key] == recursive.metrics[key], key
    assert direct.forecasts is not None
    s0 = int(direct.forecasts["test_start"][0])
    assert direct.forecasts["test_origins"] == [float(o) for o in range(s0, len(SERIES))]


def test_a_horizon_the_test_split_cannot_hold_is_a_data_error() -> None:
    from pipeline.core.data import DataError

    with pytest.raises(DataError, match="horizon 30 is longer than the split"):
        prepare(SERIES, SplitSpec(), 8, horizon=30)
