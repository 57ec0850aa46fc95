"""Split conformal half-widths: the finite-sample rank, infinite when too few scores, and coverage within 3
points of nominal on held-out origins of a simulated series."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

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



class _Zero:
    """A stand-in network that forecasts 0 from every origin (its errors are the values themselves)."""

    def forecast(self, histories: list[Any], at: list[np.ndarray] | None = None) -> list[np.ndarray]:
        ats = at if at is not None else [np.array([len(h.y)]) for h in histories]
        return [np.zeros((len(a), 2)) for a in ats]


def _ensemble(scores: bool = True) -> Any:
    from pipeline.core.ensemble import EnsembleInfo, SeedEnsemble, SeriesHistory

    origins = list(range(10, 30, 2))  # 10 test origins, 2 apart, horizon 2, in a sweep's series of 30 values
    info = EnsembleInfo(sweep="s", dataset="d", arch="gru", parent_run_id="p", runs=["r"], horizon=2,
                        half_widths={"80": [0.1, 0.1], "95": [None, None]}, calibration_origins=10, test_mase=1.0,
                        series=[SeriesHistory(id="a", values=[0.0] * 30, mase_scale=2.0, test_origins=origins)],
                        scores=[[0.1, 0.1]] * 10 if scores else [],
                        score_origins=[("a", o) for o in origins] if scores else [])
    return SeedEnsemble(info, [_Zero()])  # type: ignore[list-item]


def test_intervals_are_recalibrated_on_the_newest_origins_when_the_data_runs_past_the_sweeps() -> None:
    """The sweep's errors were 0.1 scale units; after its data the series swings by ±5 (2.5 scale units of 2 from a
    forecast of 0): a forecast from data that runs past the sweep's takes its interval from the latest origins'
    errors, while the sweep's own history keeps the sweep's intervals, and so does a model written before the
    scores were kept and a forecast from the test origins."""
    from pipeline.core.handover import History

    ens = _ensemble()
    swings = np.concatenate([np.zeros(30), 5.0 * (-1.0) ** np.arange(20)])
    assert ens.newer_origins(History("a", swings, np.zeros((50, 0)), np.zeros((50, 0)))).tolist() == list(
        range(30, 49, 2))
    out = ens.predict_frame(pd.DataFrame({"id": "a", "value": swings}))
    assert ens.recalibrated == 10  # the latest 10 rows are all newer
    assert (out["hi_80"] - out["forecast"]).tolist() == pytest.approx([5.0, 5.0])  # 2.5 scale units x scale 2
    out = ens.predict_frame(pd.DataFrame({"id": "a", "value": swings[:40]}))  # 5 newer origins: 30, ..., 38
    assert ens.recalibrated == 5
    # the latest 10 rows: 5 of the sweep's (0.1) and 5 newer (2.5); 80% takes the 9th smallest of 10
    assert (out["hi_80"] - out["forecast"]).tolist() == pytest.approx([5.0, 5.0])
    same = ens.predict_frame(pd.DataFrame({"id": "a", "value": swings[:30]}))
    assert ens.recalibrated == 0 and (same["hi_80"] - same["forecast"]).tolist() == pytest.approx([0.2, 0.2])
    old = _ensemble(scores=False)
    kept = old.predict_frame(pd.DataFrame({"id": "a", "value": swings}))
    assert old.recalibrated == 0 and (kept["hi_80"] - kept["forecast"]).tolist() == pytest.approx([0.2, 0.2])
    test = ens.predict_frame(pd.DataFrame({"id": "a", "value": swings}), origins="test")
    assert ens.recalibrated == 0 and (test["hi_80"] - test["forecast"]).tolist() == pytest.approx([0.2] * 20)
