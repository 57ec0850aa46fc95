"""Split conformal half-widths: the finite-sample rank, infinite when too few scores, and coverage within 3
points of nominal on held-out origins of a simulated series; adaptive conformal inference (ACI) through origins in
time order; the registered ensemble's recalibration."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from pipeline.core.conformal import adaptive_walk, calibration_scores, conformal_half_widths, coverage


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


def test_aci_walks_the_origins_by_hand() -> None:
    """Horizon 1, level 80% (alpha 0.2), gamma 0.1: until 4 scores are known the 80% quantile is infinite and the
    walk stands still; origin 4's interval (the 4th smallest of 1-4) misses 5, so alpha falls by 0.1 x 0.8; each
    cover after it raises alpha by 0.1 x 0.2."""
    scores = np.array([1, 2, 3, 4, 5, 10, 10, 10], float)[:, None]
    walk = adaptive_walk(scores, np.arange(8), 1, 80, gamma=0.1)
    assert walk.alpha[:, 0].tolist() == pytest.approx([0.2] * 5 + [0.12, 0.14, 0.16])
    # origin 5: ceil(6 x 0.88) = 6 > 5 scores, infinite; origin 7: ceil(8 x 0.84) = 7th of 1-5, 10, 10
    assert walk.widths[:, 0].tolist() == [math.inf] * 4 + [4.0, math.inf, math.inf, 10.0]
    assert walk.final_alpha.tolist() == pytest.approx([0.18]) and walk.final_widths.tolist() == [10.0]
    # horizon 2: an origin's score is known, and moves alpha, 2 origins later (origin 5's miss at origin 7)
    walk = adaptive_walk(scores, np.arange(8), 2, 80, gamma=0.1)
    assert walk.widths[:, 0].tolist() == [math.inf] * 5 + [4.0, 5.0, math.inf]
    assert walk.alpha[:, 0].tolist() == pytest.approx([0.2] * 7 + [0.12])
    assert walk.final_alpha.tolist() == pytest.approx([0.06]) and math.isinf(walk.final_widths[0])


def test_aci_without_a_step_is_the_rolling_rule_and_alpha_past_0_or_1_is_an_infinite_or_zero_width() -> None:
    rng = np.random.default_rng(1)
    scores, origins = np.abs(rng.normal(size=(120, 3))), np.arange(120)
    walk = adaptive_walk(scores, origins, 3, 95, gamma=0.0, window=40)
    for t in (60, 119):
        assert walk.widths[t].tolist() == conformal_half_widths(scores[:t - 2][-40:])[95].tolist()
    assert walk.final_widths.tolist() == conformal_half_widths(scores[-40:])[95].tolist()
    assert adaptive_walk(scores, origins, 3, 80, gamma=5.0).final_alpha.max() <= 0  # misses: alpha below 0
    assert np.isinf(adaptive_walk(scores, origins, 3, 80, gamma=5.0).final_widths).all()
    covered = adaptive_walk(np.zeros((20, 1)), np.arange(20), 1, 80, gamma=5.0)  # every 0 within a width of 0
    assert covered.final_alpha[0] >= 1 and covered.final_widths.tolist() == [0.0]


def test_a_shift_in_the_scores_makes_alpha_fall_and_the_widths_grow() -> None:
    """200 origins of errors of one size, then 60 three times as large: while the latest 50 errors still hold old
    ones, the intervals miss, ACI's alpha falls, and its widths exceed the plain quantile of the same errors (the
    rolling rule's)."""
    rng = np.random.default_rng(2)
    scores = np.abs(rng.normal(size=(260, 2))) * np.where(np.arange(260) < 200, 1.0, 3.0)[:, None]
    shifted = slice(205, 235)
    for level in (80, 95):
        walk = adaptive_walk(scores, np.arange(260), 2, level, window=50)
        rolling = adaptive_walk(scores, np.arange(260), 2, level, gamma=0.0, window=50)
        assert np.all(walk.alpha[shifted].mean(axis=0) < walk.alpha[199])
        assert np.all(walk.widths[shifted] >= rolling.widths[shifted])
        assert walk.widths[shifted].sum() > rolling.widths[shifted].sum()


def test_aci_misses_at_the_nominal_rate_on_a_long_drifting_sequence() -> None:
    """2000 origins (horizon 2) whose error scale grows by e every 400: the latest 50 errors lag behind, so their
    plain 80% quantile misses 22%; ACI's miss rate, per step, stays within a point of nominal at both levels."""
    rng = np.random.default_rng(0)
    scores = np.abs(rng.normal(size=(2000, 2))) * np.exp(np.arange(2000) / 400)[:, None]
    origins = np.arange(2000)
    for level in (80, 95):
        walk = adaptive_walk(scores, origins, 2, level, window=50)
        missed = np.mean(scores[50:] > walk.widths[50:], axis=0)
        assert np.all(np.abs(missed - (1 - level / 100)) < 0.01), (level, missed)
        assert not np.isinf(walk.widths[50:]).any()
    rolling = adaptive_walk(scores, origins, 2, 80, gamma=0.0, window=50)
    assert np.all(np.mean(scores[50:] > rolling.widths[50:], axis=0) > 0.21)


class _Zero:
    """A stand-in network that forecasts 0 from every origin (its errors are the values themselves)."""

    def forecast(self, histories: list[Any], at: list[np.ndarray] | None = None) -> list[np.ndarray]:
        ats = at if at is not None else [np.array([len(h.y)]) for h in histories]
        return [np.zeros((len(a), 2)) for a in ats]


def _ensemble(scores: list[float] | None = [0.1] * 10) -> Any:  # noqa: B006 (never mutated)
    """10 test origins, 2 apart, horizon 2, in a sweep's series of 30 values (scale 2), each origin's scores at both
    steps as given and the half-widths from them; None: a model written before the scores were kept."""
    from pipeline.core.ensemble import EnsembleInfo, SeedEnsemble, SeriesHistory, _stored

    origins = list(range(10, 30, 2))
    rows = np.repeat(np.array(scores or [0.1] * 10, float)[:, None], 2, axis=1)
    info = EnsembleInfo(sweep="s", dataset="d", arch="gru", parent_run_id="p", runs=["r"], horizon=2,
                        half_widths=_stored(conformal_half_widths(rows)), calibration_origins=10, test_mase=1.0,
                        series=[SeriesHistory(id="a", values=[0.0] * 30, mase_scale=2.0, test_origins=origins)],
                        scores=rows.tolist() if scores else [],
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
    # the latest 10 rows: 5 of the sweep's (0.1) and 5 newer (2.5); ACI's level ends at 79.6%: the 9th smallest
    assert (out["hi_80"] - out["forecast"]).tolist() == pytest.approx([5.0, 5.0])
    same = ens.predict_frame(pd.DataFrame({"id": "a", "value": swings[:30]}))
    assert ens.recalibrated == 0 and (same["hi_80"] - same["forecast"]).tolist() == pytest.approx([0.2, 0.2])
    old = _ensemble(scores=None)
    kept = old.predict_frame(pd.DataFrame({"id": "a", "value": swings}))
    assert old.recalibrated == 0 and (kept["hi_80"] - kept["forecast"]).tolist() == pytest.approx([0.2, 0.2])
    test = ens.predict_frame(pd.DataFrame({"id": "a", "value": swings}), origins="test")
    assert ens.recalibrated == 0 and (test["hi_80"] - test["forecast"]).tolist() == pytest.approx([0.2] * 20)


def test_errors_that_keep_growing_past_the_sweep_widen_the_interval_beyond_the_latest_errors_quantile() -> None:
    """After the sweep's 10 origins (errors 0.1) the values climb 1, 2, 3, ... from a forecast of 0: the 6 newer
    origins' step-1 errors are 0.5, 1.5, ..., 5.5 scale units and every interval misses. The rolling rule would
    take the 9th smallest of the latest 10 (4.5); ACI's level, up 6 x 0.004 through the sweep's covered origins
    and down 6 x 0.016 through the misses, ends at 87.2%: ceil(11 x 0.872) = 10th, the largest, 5.5."""
    ens = _ensemble()
    out = ens.predict_frame(pd.DataFrame({"id": "a", "value": np.concatenate([np.zeros(30), np.arange(1.0, 13)])}))
    assert ens.recalibrated == 6
    assert (out["hi_80"] - out["forecast"]).tolist() == pytest.approx([2 * 5.5, 2 * 6.0])  # x the scale, 2


def test_the_sweeps_own_history_keeps_the_sweeps_intervals_whatever_aci_would_make_of_its_test_origins() -> None:
    """Test-origin errors growing from 0.1 to 1.0: ACI through them alone would end at the largest (1.0), the
    sweep's 80% is the 9th smallest (0.9). A forecast right after the sweep keeps the sweep's: on simulated series
    ACI's level through the test origins alone was more noise than signal (`pipeline.dev.aci_gamma`, aci-sweep)."""
    growing = [0.1 * (i + 1) for i in range(10)]
    walk = adaptive_walk(np.array(growing)[:, None], np.arange(10, 30, 2), 2, 80, window=10)
    assert walk.final_widths.tolist() == pytest.approx([1.0])
    ens = _ensemble(growing)
    out = ens.predict_frame(pd.DataFrame({"id": "a", "value": np.zeros(30)}))
    assert ens.recalibrated == 0 and (out["hi_80"] - out["forecast"]).tolist() == pytest.approx([1.8, 1.8])
