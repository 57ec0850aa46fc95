from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.config import SearchSpace
from reports.bayes import bayesian_signed_rank
from reports.budget import budget_curve, expected_best
from reports.dm import diebold_mariano
from reports.importance import fanova_importance


def test_dm_matches_a_hand_computation_at_horizon_one() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 1.0, 40), rng.normal(0, 1.3, 40)
    d = a**2 - b**2
    t = len(d)
    expected = np.sqrt((t - 1) / t) * d.mean() / np.sqrt(d.var() / t)  # HLN factor at h = 1
    res = diebold_mariano(a, b)
    assert res["statistic"] == pytest.approx(expected)
    assert res["statistic"] < 0 and res["p_value"] < 0.05  # A clearly more accurate


def test_dm_identical_forecasts_are_not_different() -> None:
    e = np.linspace(-1, 1, 20)
    assert diebold_mariano(e, e)["p_value"] == 1.0


def test_bayesian_signed_rank_sides_and_rope() -> None:
    assert bayesian_signed_rank(np.full(8, -0.3), rope=0.02)["p_left"] > 0.95
    assert bayesian_signed_rank(np.full(8, 0.3), rope=0.02)["p_right"] > 0.95
    assert bayesian_signed_rank(np.linspace(-0.005, 0.005, 8), rope=0.02)["p_rope"] > 0.95


def test_expected_best_runs_from_the_mean_to_the_minimum() -> None:
    v = np.array([3.0, 1.0, 2.0, 5.0])
    curve = expected_best(v, np.array([1, 2, 50]))
    assert curve[0] == pytest.approx(v.mean())
    assert curve[0] > curve[1] > curve[2] > 1.0 and curve[2] == pytest.approx(1.0, abs=1e-5)
    band = budget_curve(v, n_boot=200)
    assert all(lo <= m + 1e-12 for lo, m in zip(band["low"], band["mean"], strict=True))


def test_fanova_finds_the_hyperparameter_that_matters() -> None:
    rng = np.random.default_rng(0)
    rows = []
    for _ in range(30):
        lr, hidden = 10 ** rng.uniform(-3, -1), int(rng.choice([16, 32, 64]))
        rows.append({"learning_rate": str(lr), "hidden_size": str(hidden),
                     "val_loss": (np.log10(lr) + 2) ** 2 + 0.001 * rng.normal()})
    space = SearchSpace(learning_rate={"low": 0.001, "high": 0.1, "log": True}, hidden_size={"choice": [16, 32, 64]})
    imp = fanova_importance(pd.DataFrame(rows), space)
    assert imp is not None and imp["learning_rate"] > 0.8
