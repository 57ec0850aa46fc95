"""A dataset's recommended forecaster: the confirm seeds' networks as one model (the median of their forecasts,
`pipeline.verdict.horizon.ENSEMBLE`), with split conformal intervals, reading and writing long frames. Pure: numpy,
pandas, Keras; what MLflow sees of it is `pipeline.tracking.ensemble`.

On disk (one directory, the pyfunc model's artifact): `ensemble.json` (`EnsembleInfo`, which `ensemble_info` makes
from the seeds' stored test forecasts) and per seed `networks/<run id>/state.json` and `weights.npz`, as each
confirm run logged them.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from pipeline.core.conformal import LEVELS, adaptive_walk, calibration_scores, conformal_half_widths
from pipeline.core.handover import ForecastInputError, History, Network, NetworkState, decode_weights
from pipeline.core.timeaxis import Step, TimeError, format_time, infer_step, parse_times

INFO = "ensemble.json"
NETWORKS = "networks"


class SeriesHistory(BaseModel):
    """A series as the sweep had it: the default history to forecast from (no covariates kept). A confirm run's
    own model keeps no values (`EnsembleInfo.without_history`), only where the series starts."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    values: list[float]
    time: list[str] | None = None
    mase_scale: float
    test_origins: list[int]  # the sweep's test origins (positions in `values`)
    start: str | None = None  # the first time, when `time` is not kept

    @property
    def first_time(self) -> str | None:
        return self.time[0] if self.time else self.start


class EnsembleInfo(BaseModel):
    """What the ensemble is besides its networks."""

    # a test MASE that is not finite stays what it is when read back (JSON's null would not be a float)
    model_config = ConfigDict(frozen=True, extra="forbid", ser_json_inf_nan="constants")

    format: int = 1
    sweep: str
    dataset: str
    arch: str
    combine: Literal["median", "mean"] = "median"  # the seeds' forecasts, per origin and step (the report's)
    parent_run_id: str
    runs: list[str]  # the confirm runs whose networks are the seeds
    horizon: int
    levels: list[int] = list(LEVELS)
    # per level, per step: the half-width in units of a series' MASE scale (`pipeline.core.conformal`); None: inf
    half_widths: dict[str, list[float | None]]
    calibration_origins: int  # scores per step the half-widths come from
    # the scores themselves, `(calibration_origins, H)` (None: no value there), and the series and origin (position in
    # the sweep's series) of each row: what a forecast from newer data recalibrates with (`SeedEnsemble.widths`).
    # Empty in models written before they were kept: those keep the half-widths above.
    scores: list[list[float | None]] = []
    score_origins: list[tuple[str, int]] = []
    test_mase: float  # the ensemble's mean test MASE over series on the sweep's test origins
    series: list[SeriesHistory]
    step: tuple[str, float] | None = None  # the series' time step (`Step`), when they have times
    covariates: tuple[list[str], list[str]] = ([], [])  # past, future
    # `deploy: {refit: true}`: the networks were trained again, same seeds, on every value of each series (through
    # `refit_through`: its last time, or position, used); `test_mase` and `half_widths` stay the confirm runs'
    refit: bool = False
    refit_through: dict[str, str] = {}
    refit_seconds: float | None = None

    def without_history(self) -> EnsembleInfo:
        """The same model keeping no series values: a confirm run's own model, whose series are already in its
        `forecasts.json` (a copy in each of a sweep's confirm runs would grow the store with the data)."""
        return self.model_copy(update={"series": [s.model_copy(update={"values": [], "time": None,
                                                                        "start": s.first_time})
                                                  for s in self.series],
                                       # nor the scores (a 1428-series panel's would be ~0.5 MB a run): its
                                       # intervals stay the sweep's
                                       "scores": [], "score_origins": []})


class SeedEnsemble:
    """The networks of one configuration's confirm seeds, forecasting as one."""

    def __init__(self, info: EnsembleInfo, networks: list[Network]) -> None:
        self.info, self.networks = info, networks
        self.scales = {s.id: s.mase_scale for s in info.series}
        self.by_id = {s.id: s for s in info.series}
        self.recalibrated = 0  # newer origins the last `predict_frame` recalibrated its intervals on

    @classmethod
    def load(cls, directory: Path) -> SeedEnsemble:
        info = EnsembleInfo.model_validate_json((directory / INFO).read_text(encoding="utf-8"))
        nets = [Network(NetworkState.model_validate_json((directory / NETWORKS / r / "state.json").read_text()),
                        decode_weights((directory / NETWORKS / r / "weights.npz").read_bytes())) for r in info.runs]
        return cls(info, nets)

    def forecast(self, histories: list[History], at: list[np.ndarray] | None = None) -> list[np.ndarray]:
        """Each series' median-of-seeds forecasts `(origins, H)` (default origin: after its last value)."""
        runs = [net.forecast(histories, at) for net in self.networks]
        combine = np.median if self.info.combine == "median" else np.mean
        return [combine([run[i] for run in runs], axis=0) for i in range(len(histories))]

    def predict_frame(self, frame: Any, origins: str = "end") -> Any:
        """Forecasts of a long frame (`id`, `value`, optional `time`, covariates by name; future covariates with
        rows through the horizon, their `value` empty): per series and step the point forecast and the
        intervals. `origins="test"`: from the sweep's test origins instead (the history must then be the
        sweep's series), one row per origin and step, with the sweep's intervals.

        From the end, a frame whose values run past the sweep's gets intervals recalibrated on the newer origins
        (`widths`); `self.recalibrated` says on how many."""
        histories, times = self.histories(frame)
        widths = self.info.half_widths
        self.recalibrated = 0
        if origins == "test":
            at = [self._test_origins(h) for h in histories]
            paths = self.forecast(histories, at)
        elif origins == "end":
            at = [np.array([len(h.y)]) for h in histories]
            paths = self.forecast(histories)
            widths, self.recalibrated = self.widths(histories)
        else:
            raise ForecastInputError(f"origins {origins!r}: expected 'end' or 'test'")
        return self._frame(histories, times, at, paths, widths)

    def newer_origins(self, h: History) -> np.ndarray:
        """Origins of `h` (positions in its values) after the sweep's last test origin, as far apart as the test
        origins, whose whole horizon is known: the errors the sweep never saw."""
        known = self.by_id.get(h.id)
        if known is None or not known.test_origins:
            return np.zeros(0, int)
        tests = np.asarray(known.test_origins, int)
        step = int(np.min(np.diff(tests))) if len(tests) > 1 else self.info.horizon
        first = int(tests[-1]) + step - h.offset  # the sweep's positions are the frame's plus its offset
        return np.arange(max(first, 0), len(h.y) - self.info.horizon + 1, step)

    def widths(self, histories: list[History]) -> tuple[dict[str, list[float | None]], int]:
        """The half-widths to forecast `histories` from their ends with, and on how many newer origins they were
        recalibrated: the sweep's when no history runs past the sweep's test origins (or the model keeps no
        scores), else adaptive conformal ones (`adaptive_walk`): ACI walks the sweep's test origins and the newer
        ones in time order, each interval from the latest errors known at its origin, as many as the sweep
        calibrated on, and its final level takes its quantile of the latest of them. Measured
        (`python -m pipeline.dev.coverage`, README): on real series the sweep's intervals under-cover later origins
        (80% -> 66-73%) and the latest errors at the nominal level still fall short (76-77%): the errors keep
        growing past the window, and ACI lowers the level the interval takes while they miss (on simulated drifts
        and jumps: 77.6-79.7% at 80%, `pipeline.core.conformal.GAMMA_SHARE`).

        The sweep's own history keeps the sweep's intervals rather than ACI's final level through the test origins
        alone: on 100 simulated series of each kind (`python -m pipeline.dev.aci_gamma`, `aci-sweep`) that level
        spread a series' 80% coverage wider (standard deviation 5.6 -> 7.7 points, stationary), barely followed a
        drift (63.3% -> 68.0% with 109 test origins, 64.6% -> 64.5% with 48) and not a jump after the test origins
        (64.9% -> 62.4%); on 8 simulated series with GRU networks
        (`pipeline.dev.coverage`, `adaptive-sweep`) it was mixed: 80% 82.8% -> 80.3%, 95% 96.7% -> 97.1%."""
        newer = [(h, self.newer_origins(h)) for h in histories]
        newer = [(h, at) for h, at in newer if len(at)]
        if not newer or not self.info.scores:
            return self.info.half_widths, 0
        hz = self.info.horizon
        paths = self.forecast([h for h, _ in newer], [at for _, at in newer])
        rows = [(o, np.array([np.nan if x is None else x for x in r], float))
                for (_, o), r in zip(self.info.score_origins, self.info.scores, strict=True)]
        for (h, at), path in zip(newer, paths, strict=True):
            truth = np.asarray(h.y, float)[at[:, None] + np.arange(hz)[None, :]]
            scores = calibration_scores([path], [truth], [self.scales[h.id]])
            rows += [(int(o) + h.offset, r) for o, r in zip(at, scores, strict=True)]
        rows.sort(key=lambda r: r[0])  # stable: the sweep's rows first at a tie
        origins, scores = np.array([o for o, _ in rows]), np.vstack([r for _, r in rows])
        window = len(self.info.scores)
        widths = {level: adaptive_walk(scores, origins, hz, level, window=window).final_widths
                  for level in self.info.levels}
        return _stored(widths), sum(len(at) for _, at in newer)

    def default_frame(self) -> Any:
        """The sweep's own series as a long frame (what `gatesweep forecast` reads without `--data`)."""
        past, future = self.info.covariates
        if past or future:
            raise ForecastInputError(f"dataset {self.info.dataset!r}: the model reads covariates "
                                     f"({', '.join(past + future)}), which it does not keep; pass --data")
        if not all(s.values for s in self.info.series):
            raise ForecastInputError(f"dataset {self.info.dataset!r}: the model keeps no history (a confirm run's "
                                     "own network: its series are in the run's forecasts.json); pass --data")
        rows = [{"id": s.id, "value": v, **({"time": s.time[i]} if s.time else {})}
                for s in self.info.series for i, v in enumerate(s.values)]
        return pd.DataFrame(rows)

    def histories(self, frame: Any) -> tuple[list[History], list[np.ndarray | None]]:
        """The frame's series as `History`s (in time order when it has a time column) and their times."""
        frame = pd.DataFrame(frame)
        past, future = self.info.covariates
        for column in ["id", "value", *past, *future]:
            if column not in frame.columns:
                what = "column" if column in ("id", "value") else "covariate"
                raise ForecastInputError(f"missing {what} {column!r} (the frame has {', '.join(map(str, frame))})")
        out, times = [], []
        for sid, rows in frame.groupby(frame["id"].astype(str), sort=False):
            t = None
            if "time" in rows:
                try:
                    t = parse_times(rows["time"].to_numpy(), "the frame", "time")
                except TimeError as exc:
                    raise ForecastInputError(str(exc)) from None
                order = np.argsort(t, kind="stable")
                rows, t = rows.iloc[order], t[order]
            value = pd.to_numeric(rows["value"], errors="coerce").to_numpy(float)
            known = np.flatnonzero(np.isfinite(value))
            n = int(known[-1]) + 1 if len(known) else 0  # rows after the last value: the horizon's covariates
            cov = {c: pd.to_numeric(rows[c], errors="coerce").to_numpy(float) for c in past + future}
            out.append(History(str(sid), value[:n], np.column_stack([cov[c][:n] for c in past]) if past
                               else np.zeros((n, 0)),
                               np.column_stack([cov[c] for c in future]) if future else np.zeros((len(rows), 0)),
                               self._offset(str(sid), t)))
            times.append(None if t is None else t[:n])
        if not out:
            raise ForecastInputError("the frame has no rows")
        return out, times

    def _offset(self, sid: str, t: np.ndarray | None) -> int:
        """Where the frame's first value lies in the sweep's series (what a deseasonalising transform's cycle
        needs): by the times when both have them, else the frame is taken to start where the sweep's did."""
        known = self.by_id.get(sid)
        if t is None or known is None or known.first_time is None or self.info.step is None:
            return 0
        step = Step(*self.info.step)  # type: ignore[arg-type]
        first = parse_times(np.array([known.first_time], dtype=object), "the model", "time")[0]
        return int(round(float(step.positions(np.array([first, t[0]]))[1])))

    def _test_origins(self, h: History) -> np.ndarray:
        known = self.by_id.get(h.id)
        if known is None:
            raise ForecastInputError(f"series {h.id!r}: the model was not trained on it")
        return np.asarray(known.test_origins, int)

    def _frame(self, histories: list[History], times: list[np.ndarray | None], at: list[np.ndarray],
               paths: list[np.ndarray], widths: dict[str, list[float | None]]) -> Any:
        hz = self.info.horizon
        rows = []
        for h, t, a, p in zip(histories, times, at, paths, strict=True):
            scale = self.scales.get(h.id)
            if scale is None:
                raise ForecastInputError(f"series {h.id!r}: the model was not trained on it")
            future = self._future_times(t, hz)
            # a series that never went below 0 gets no interval below 0 (the baselines' convention for forecasts)
            floor = 0.0 if bool(np.all(np.asarray(h.y, float)[np.isfinite(h.y)] >= 0)) else -math.inf
            for o, path in zip(a, p, strict=True):
                for k in range(hz):
                    row: dict[str, Any] = {"id": h.id, "origin": int(o), "step": k + 1}
                    if future is not None and o == len(h.y):
                        row["time"] = future[k]
                    row["forecast"] = float(path[k])
                    for level in self.info.levels:
                        w = widths[str(level)][k]
                        half = math.inf if w is None else w * scale
                        row[f"lo_{level}"], row[f"hi_{level}"] = max(path[k] - half, floor), path[k] + half
                    rows.append(row)
        return pd.DataFrame(rows)

    def _future_times(self, t: np.ndarray | None, horizon: int) -> list[str] | None:
        if t is None or len(t) < 2:
            return None
        try:
            step = infer_step(t, "the frame")[0]
        except TimeError:
            return None
        return [format_time(x, step) for x in step.times_at(t[-1], np.arange(1, horizon + 1))]


def write_ensemble(directory: Path, info: EnsembleInfo, networks: dict[str, tuple[str, bytes]]) -> None:
    """The on-disk form `SeedEnsemble.load` reads: `networks`, run id -> (state JSON, weights npz)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / INFO).write_text(info.model_dump_json(), encoding="utf-8")
    for run_id, (state, weights) in networks.items():
        d = directory / NETWORKS / run_id
        d.mkdir(parents=True, exist_ok=True)
        (d / "state.json").write_text(state, encoding="utf-8")
        (d / "weights.npz").write_bytes(weights)


def series_of(fc: dict[str, Any]) -> list[dict[str, Any]]:
    """A run's `forecasts.json` as one entry per series (a panel's `series`, else the top-level keys)."""
    if fc.get("series"):
        return list(fc["series"])
    return [{**{k: fc[k] for k in ("truth", "test_pred", "test_origins", "mase_scale", "time")
                                if k in fc}}]


def ensemble_info(sweep: str, dataset: str, arch: str, combine: str, parent_run_id: str, runs: list[str],
                  forecasts: list[list[dict[str, Any]]], state: dict[str, Any],
                  levels: tuple[int, ...] = LEVELS) -> EnsembleInfo:
    """The ensemble's description: its seeds' test forecasts combined, the conformal half-widths from their
    errors, the test MASE, and each series' history (to forecast from without new data)."""
    horizon = int(state["horizon"])
    combined = np.median if combine == "median" else np.mean
    preds, truths, scales, series = [], [], [], []
    for i, first in enumerate(forecasts[0]):
        at = np.asarray(first["test_origins"], int)
        truth = np.asarray(first["truth"], float)
        pred = combined([np.asarray(run[i]["test_pred"], float).reshape(len(at), horizon) for run in forecasts],
                        axis=0)
        scale = float(np.asarray(first["mase_scale"], float).reshape(-1)[0])
        preds.append(pred)
        truths.append(truth[at[:, None] + np.arange(horizon)[None, :]])
        scales.append(scale)
        # a single series' forecasts carry no id: the network's state names it (the dataset's series)
        series.append(SeriesHistory(id=str(first.get("id", state["series"][i]["id"])), values=truth.tolist(),
                                    time=first.get("time"), mase_scale=scale, test_origins=at.tolist()))
    scores = calibration_scores(preds, truths, scales)
    widths = conformal_half_widths(scores, levels)
    test_mase = float(np.mean([np.mean(np.abs(t - p)) / s for p, t, s in zip(preds, truths, scales, strict=True)]))
    return EnsembleInfo(sweep=sweep, dataset=dataset, arch=arch, combine=combine,  # type: ignore[arg-type]
                        parent_run_id=parent_run_id, runs=runs, horizon=horizon, levels=list(levels),
                        half_widths=_stored(widths),
                        calibration_origins=sum(len(p) for p in preds), test_mase=test_mase, series=series,
                        scores=[[float(f"{x:.6g}") if math.isfinite(x) else None for x in row] for row in scores],
                        score_origins=[(h.id, int(o)) for h in series for o in h.test_origins],
                        step=_step(series[0].time), covariates=(list(state.get("past", [])),
                                                                list(state.get("future", []))))


def _stored(widths: dict[int, np.ndarray]) -> dict[str, list[float | None]]:
    """Half-widths as `EnsembleInfo` keeps them: by level name, None for infinite."""
    return {str(k): [float(x) if math.isfinite(x) else None for x in w] for k, w in widths.items()}


def _step(labels: list[str] | None) -> tuple[str, float] | None:
    if not labels or len(labels) < 2:
        return None
    try:
        step = infer_step(parse_times(np.array(labels, dtype=object), "forecasts.json", "time"), "the series")[0]
    except TimeError:
        return None
    return step.kind, step.size
