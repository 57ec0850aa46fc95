"""Expected best score against the tune budget (`pipeline.verdict.budget`)."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.verdict.budget import budget_curve, expected_best


def test_expected_best_runs_from_the_mean_to_the_minimum() -> None:
    v = np.array([3.0, 1.0, 2.0, 5.0])
    curve = expected_best(v, np.array([1, 2, 50]))
    assert curve[0] == pytest.approx(v.mean())
    assert curve[0] > curve[1] > curve[2] > 1.0 and curve[2] == pytest.approx(1.0, abs=1e-5)
    band = budget_curve(v, n_boot=200)
    assert all(lo <= m + 1e-12 for lo, m in zip(band["low"], band["mean"], strict=True))
