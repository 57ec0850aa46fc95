"""Forecast paths over origins and steps (`pipeline.verdict.horizon`): the seed ensemble and its MASE."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.verdict.horizon import Paths, ensemble, ensemble_mase

H = 2


def _run(pred: np.ndarray, truth: np.ndarray) -> list[Paths]:
    """One run's forecasts of one series: origins H apart, MASE scale 1."""
    return [Paths(np.arange(len(pred)) * H, pred, truth, 1.0, "")]


def test_the_ensemble_is_the_median_of_the_seeds_and_scored_per_series() -> None:
    truth = np.zeros((3, H))
    seeds = [_run(np.full((3, H), x), truth) for x in (1.0, 2.0, 30.0)]  # one seed diverged
    assert np.all(ensemble([s[0] for s in seeds]).pred == 2.0)
    assert ensemble_mase(seeds) == pytest.approx(2.0) and ensemble_mase(seeds, "mean") == pytest.approx(11.0)
