"""Confirm runs' stored test forecasts (`forecasts.json`) as paths from their origins, and what the report
computes from them: the seed ensembles, Diebold-Mariano over origins, and the GRU/LSTM ratio at each step.
Pure numpy/scipy.

A `forecasts.json` written before horizons existed has one-step forecasts of every test point: read as
horizon 1 with an origin at each of them. A panel's run stores every series under `series`; a run is then a
list of `Paths`, one per series, and every score is the mean over series of that series' score (as the run's
`test_mase`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from pipeline.core.origins import block_lags, step_mase, targets
from pipeline.verdict.dm import diebold_mariano
from pipeline.verdict.model import SeriesShare, StepRatio
from pipeline.verdict.stats import welch


@dataclass(frozen=True)
class Paths:
    """One run's test forecasts: `pred` and `truth` are `(origins, horizon)`; `scale` the MASE denominator."""

    origins: np.ndarray
    pred: np.ndarray
    truth: np.ndarray
    scale: float | None
    id: str = ""  # the series, in a panel

    @property
    def horizon(self) -> int:
        return int(self.pred.shape[1])

    def step_mase(self) -> np.ndarray:
        assert self.scale is not None
        return step_mase(self.pred, self.truth, self.scale)

    def mase(self) -> float:
        return float(np.mean(self.step_mase()))


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


def series_paths_of(f: dict[str, Any]) -> list[Paths]:
    """A run's test forecasts on every series of its dataset (one for a univariate dataset)."""
    if "series" not in f:
        return [paths_of(f)]
    horizon = int(f["horizon"][0])
    out = []
    for s in f["series"]:
        at = np.asarray(s["test_origins"], int)
        truth = np.asarray(s["truth"], float)
        out.append(Paths(at, np.asarray(s["test_pred"], float).reshape(len(at), horizon), targets(truth, at, horizon),
                         float(s["mase_scale"][0]), str(s["id"])))
    return out


# how the seeds' forecasts combine into the ensemble: measured on stored forecasts (`pipeline.dev.ensemble_choice`)
ENSEMBLE: Literal["mean", "median"] = "median"


def ensemble(paths: list[Paths], how: Literal["mean", "median"] = ENSEMBLE) -> Paths:
    """The seed ensemble: each origin's forecast combined over the seeds (`ENSEMBLE`: their median or mean)."""
    first = paths[0]
    combine = np.median if how == "median" else np.mean
    return Paths(first.origins, combine([p.pred for p in paths], axis=0), first.truth, first.scale, first.id)


def panel_ensemble(runs: list[list[Paths]], how: Literal["mean", "median"] = ENSEMBLE) -> list[Paths]:
    """Each series' seed ensemble."""
    return [ensemble([run[s] for run in runs], how) for s in range(len(runs[0]))]


def ensemble_mase(runs: list[list[Paths]], how: Literal["mean", "median"] = ENSEMBLE) -> float | None:
    """The seed ensemble's test MASE: the mean over the dataset's series of each series' MASE (with that series'
    own scale), as a run's `test_mase`; None without stored forecasts or a scale."""
    if not runs or any(p.scale is None for run in runs for p in run):
        return None
    return float(np.mean([p.mase() for p in panel_ensemble(runs, how)]))


def dm_over_panel(gru: list[Paths], lstm: list[Paths], origin_step: int) -> dict[str, float]:
    """Diebold-Mariano on a panel's ensembles: at each origin (counted back from each series' end, so that
    series ending together line up in time), the mean over series of that origin's MASE contribution (mean
    absolute error over the steps, over the series' scale); then as `dm_over_origins` on that sequence. The
    mean over series at each origin keeps what series share at one time (a common shock) inside one loss,
    so the variance sees it."""

    def losses(paths: list[Paths]) -> np.ndarray:
        longest = max(len(p.origins) for p in paths)
        grid = np.full((len(paths), longest), np.nan)
        for i, p in enumerate(paths):
            assert p.scale is not None
            per_origin = np.mean(np.abs(p.pred - p.truth), axis=1) / p.scale
            grid[i, longest - len(per_origin):] = per_origin  # aligned at the end
        return np.nanmean(grid, axis=0)

    h = block_lags(gru[0].horizon, origin_step) + 1
    loss_gru, loss_lstm = losses(gru), losses(lstm)
    classic = diebold_mariano(loss_gru, loss_lstm, h=h, variance="hln")
    return {**diebold_mariano(loss_gru, loss_lstm, h=h), "hln_statistic": classic["statistic"],
            "hln_p_value": classic["p_value"]}


def series_shares(gru: list[list[Paths]], lstm: list[list[Paths]]) -> list[SeriesShare]:
    """Per series of a panel: each architecture's geometric-mean test MASE over its seeds, and how often a GRU
    seed is better than an LSTM seed (the share of (GRU seed, LSTM seed) pairs where the GRU's MASE on that
    series is lower; ties count half)."""
    if not gru or not lstm or len(gru[0]) < 2:
        return []
    out = []
    for s in range(len(gru[0])):
        g = np.array([run[s].mase() for run in gru])
        l = np.array([run[s].mase() for run in lstm])
        wins = np.mean((g[:, None] < l[None, :]) + 0.5 * (g[:, None] == l[None, :]))
        out.append(SeriesShare(id=gru[0][s].id, gru_better=float(wins), gru_mase=float(np.exp(np.mean(np.log(g)))),
                               lstm_mase=float(np.exp(np.mean(np.log(l))))))
    return out


def dm_over_origins(gru: Paths, lstm: Paths, origin_step: int) -> dict[str, float]:
    """Diebold-Mariano on the ensembles' absolute errors: at horizon 1 on every one-step error; beyond, on each
    origin's mean absolute error over its steps, with a HAC variance covering at least the lags at which
    overlapping horizons correlate (`block_lags`). Keys as `pipeline.verdict.dm.diebold_mariano`, plus the HLN
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


def per_step_ratios(gru: list[list[Paths]], lstm: list[list[Paths]]) -> list[StepRatio]:
    """At each step of the horizon, Welch on log per-seed step MASE (a panel's: the mean over its series): the
    GRU/LSTM ratio of geometric means."""
    if not gru or not lstm or any(p.scale is None for run in gru + lstm for p in run):
        return []
    g = np.log(np.stack([np.mean([p.step_mase() for p in run], axis=0) for run in gru]))  # (seeds, horizon)
    l = np.log(np.stack([np.mean([p.step_mase() for p in run], axis=0) for run in lstm]))
    w = welch(g.T, l.T, 0.0)  # along the seeds, one test per step
    return [StepRatio(step=h + 1, ratio=float(np.exp(w.effect[h])), ci_low=float(np.exp(w.ci_low[h])),
                      ci_high=float(np.exp(w.ci_high[h]))) for h in range(g.shape[1])]
