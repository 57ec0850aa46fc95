"""Confirm runs' stored test forecasts (`forecasts.json`) as paths from their origins, and what the report
computes from them: the seed ensembles, Diebold-Mariano over origins, and the GRU/LSTM ratio at each step.
Pure numpy/scipy.

A `forecasts.json` written before horizons existed has one-step forecasts of every test point: read as
horizon 1 with an origin at each of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeline.core.origins import block_lags, step_mase, targets
from reports.dm import diebold_mariano
from reports.stats import welch
from reports.verdict import StepRatio


@dataclass(frozen=True)
class Paths:
    """One run's test forecasts: `pred` and `truth` are `(origins, horizon)`; `scale` the MASE denominator."""

    origins: np.ndarray
    pred: np.ndarray
    truth: np.ndarray
    scale: float | None

    @property
    def horizon(self) -> int:
        return int(self.pred.shape[1])

    def step_mase(self) -> np.ndarray:
        assert self.scale is not None
        return step_mase(self.pred, self.truth, self.scale)


def paths_of(f: dict[str, Any]) -> Paths:
    truth = np.asarray(f["truth"], float)
    horizon = int(f.get("horizon", [1])[0])
    if "test_origins" in f:
        at = np.asarray(f["test_origins"], int)
    else:  # before horizons: a one-step forecast of every test point
        at = np.arange(int(f["test_start"][0]), len(truth))
    pred = np.asarray(f["test_pred"], float).reshape(len(at), horizon)
    scale = float(f["mase_scale"][0]) if "mase_scale" in f else None
    return Paths(at, pred, targets(truth, at, horizon), scale)


def ensemble(paths: list[Paths]) -> Paths:
    """The seed ensemble: each origin's forecast averaged over the seeds."""
    first = paths[0]
    return Paths(first.origins, np.mean([p.pred for p in paths], axis=0), first.truth, first.scale)


def dm_over_origins(gru: Paths, lstm: Paths, origin_step: int) -> dict[str, float]:
    """Diebold-Mariano on the ensembles' absolute errors: at horizon 1 on every one-step error; beyond, on each
    origin's mean absolute error over its steps, with a HAC variance covering at least the lags at which
    overlapping horizons correlate (`block_lags`). Keys as `reports.dm.diebold_mariano`, plus the HLN
    variant's `hln_statistic` and `hln_p_value`."""
    if gru.horizon == 1:
        err_gru, err_lstm, h = (gru.pred - gru.truth)[:, 0], (lstm.pred - lstm.truth)[:, 0], 1
    else:  # |mean over steps| of absolute errors: the per-origin loss MASE averages
        err_gru = np.mean(np.abs(gru.pred - gru.truth), axis=1)
        err_lstm = np.mean(np.abs(lstm.pred - lstm.truth), axis=1)
        h = block_lags(gru.horizon, origin_step) + 1
    classic = diebold_mariano(err_gru, err_lstm, h=h, variance="hln")
    return {**diebold_mariano(err_gru, err_lstm, h=h), "hln_statistic": classic["statistic"],
            "hln_p_value": classic["p_value"]}


def per_step_ratios(gru: list[Paths], lstm: list[Paths]) -> list[StepRatio]:
    """At each step of the horizon, Welch on log per-seed step MASE: the GRU/LSTM ratio of geometric means."""
    if not gru or not lstm or any(p.scale is None for p in gru + lstm):
        return []
    g = np.log(np.stack([p.step_mase() for p in gru]))  # (seeds, horizon)
    l = np.log(np.stack([p.step_mase() for p in lstm]))
    w = welch(g.T, l.T, 0.0)  # along the seeds, one test per step
    return [StepRatio(step=h + 1, ratio=float(np.exp(w.effect[h])), ci_low=float(np.exp(w.ci_low[h])),
                      ci_high=float(np.exp(w.ci_high[h]))) for h in range(g.shape[1])]
