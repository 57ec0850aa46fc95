"""Split conformal half-widths: the finite-sample rank, infinite when too few scores, and coverage within 3
points of nominal on held-out origins of a simulated series."""

from __future__ import annotations

import math

import numpy as np

from pipeline.core.conformal import calibration_scores, conformal_half_widths, coverage


def test_the_level_takes_the_ceil_n_plus_1_q_th_smallest_score() -> None:
    scores = np.arange(1, 11, dtype=float)[:, None]  # 10 scores: 1 .. 10
    widths = conformal_half_widths(scores, (80, 95))
    assert widths[80].tolist() == [9.0]  # ceil(11 * 0.8) = 9
    assert math.isinf(widths[95][0])  # ceil(11 * 0.95) = 11 > 10: no finite score promises 95%


def test_coverage_on_held_out_origins_of_a_simulated_series() -> None:
    """AR(1) forecast by its own recursion (3 steps): calibrated on 300 origins, measured on 3000 others."""
    rng = np.random.default_rng(0)
    n, horizon, phi = 3400, 3, 0.7
    y = np.zeros(n)
    for t in range(1, n):
        y[t] = phi * y[t - 1] + rng.normal()
    at = np.arange(1, n - horizon)
    pred = y[at - 1][:, None] * phi ** np.arange(1, horizon + 1)[None, :]
    truth = y[at[:, None] + np.arange(horizon)[None, :]]
    cal, held = slice(0, 300), slice(300, None)
    widths = conformal_half_widths(calibration_scores([pred[cal]], [truth[cal]], [2.0]))
    for level, w in widths.items():
        got = coverage(pred[held], truth[held], w * 2.0)
        assert abs(got - level / 100) < 0.03, (level, got)
    # and the widths grow with the step, as the AR's error variance does
    assert np.all(np.diff(widths[80]) > 0)
