from __future__ import annotations

import numpy as np

from pipeline.core.config import SplitSpec
from pipeline.core.data import damped_oscillation, split_bounds
from pipeline.core.metrics import ar_forecast, baselines, mase, mase_scale, naive_forecast, rmse, smape
from pipeline.core.scoring import Scoring


def test_mase_of_the_naive_forecast_on_training_data_is_one() -> None:
    y = np.array([1.0, 3.0, 2.0, 5.0, 4.0])
    assert mase(naive_forecast(y, 1, 5), y[1:], mase_scale(y)) == 1.0


def test_rmse_and_smape() -> None:
    assert rmse(np.array([1.0, 3.0]), np.array([1.0, 1.0])) == np.sqrt(2)
    assert smape(np.array([1.0]), np.array([1.0])) == 0.0


def test_ar_recovers_a_linear_recurrence() -> None:
    # exp(-x/tau)·cos(x) sampled evenly obeys y[t] = a·y[t-1] + b·y[t-2]: AR(2) is exact on it
    y = damped_oscillation()
    bounds = split_bounds(len(y), SplitSpec())
    pred = ar_forecast(y, 2, bounds[0], *bounds[2])
    np.testing.assert_allclose(pred, y[bounds[2][0]:], atol=1e-8)
    assert baselines(y, Scoring(), 2, statistical=False).metrics["ar_mase"] < 1e-6
