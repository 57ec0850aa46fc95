"""What an analyst looks at per series: each series' history, actuals and test forecasts (every confirm seed, the
seed ensemble, the baselines) on its own time axis, and the test MASE of every forecaster per series and per step
of the horizon. Pure numpy.

Inputs are what MLflow holds: each confirm run's `forecasts.json` (a panel's under `series`, one entry per series)
and the dataset's entry of the parent's `baselines.json` (None: a sweep from before it was logged, whose report
then shows the networks alone).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeline.core.origins import targets
from pipeline.verdict.horizon import Paths, panel_ensemble
from pipeline.verdict.model import BASELINE_NAMES, DatasetVerdict, ScoreTable
from reports.useful import baseline_paths

SHOWN_SERIES = 6  # series drawn in a dataset's forecast figure (the most important, `importance`); the rest behind
# the report's series selector
TABLE_SERIES = 25  # rows of the per-series table in the report (the most important); verdict.json keeps every series


@dataclass(frozen=True)
class SeriesView:
    """One series as the forecast figure draws it. `seeds[arch]` is `(seeds, origins, horizon)`; `baselines[name]`
    the baseline's forecasts from the same origins (scored on their own MASE scale, as the usefulness rule scores
    them); `time` the series' own times (None: positions)."""

    id: str
    truth: np.ndarray
    time: list[str] | None
    origins: np.ndarray
    seeds: dict[str, np.ndarray]
    baselines: dict[str, Paths]

    @property
    def horizon(self) -> int:
        return int(next(iter(self.seeds.values())).shape[2])

    def level(self) -> float:
        """Mean absolute value over the test targets: how large the series is where it is forecast."""
        return float(np.mean(np.abs(targets(self.truth, self.origins, self.horizon))))


def _series_of(f: dict[str, Any]) -> list[dict[str, Any]]:
    """A run's `forecasts.json` per series: `id`, `truth`, `time`, `test_origins`, `test_pred` (one entry for a
    univariate dataset, whose keys are at the top level)."""
    if "series" in f:
        return [{"time": None, **s} for s in f["series"]]
    # a file from before horizons: a one-step forecast of every test point
    origins = f.get("test_origins") or list(range(int(f["test_start"][0]), len(f["truth"])))
    return [{"id": "", "truth": f["truth"], "time": f.get("time"), "test_pred": f["test_pred"],
             "test_origins": origins}]


def series_views(runs: dict[str, list[dict[str, Any]]], baselines: dict[str, Any] | None) -> list[SeriesView]:
    """Per series of a dataset: every architecture's seed forecasts and each baseline's on the same origins.

    Args:
        runs: per architecture, the `forecasts.json` of each confirm seed.
        baselines: the dataset's entry of `baselines.json`, or None.
    """
    kept = {arch: [f for f in fs if "test_pred" in f] for arch, fs in runs.items()}
    kept = {arch: fs for arch, fs in kept.items() if fs}
    if not kept:
        return []
    first = next(iter(kept.values()))[0]
    horizon = int(first.get("horizon", [1])[0])
    per_arch = {arch: [_series_of(f) for f in fs] for arch, fs in kept.items()}
    ids = [str(s["id"]) for s in per_arch[next(iter(per_arch))][0]]
    base_by_id: dict[str, dict[str, Paths]] = {}
    if baselines is not None:
        for name, paths in baseline_paths(baselines, horizon, ids).items():
            # paired by position, as `baseline_paths` orders them and the usefulness test pairs them (a single
            # series' forecasts carry no id, its baselines the dataset's name)
            for j, p in enumerate(paths):
                base_by_id.setdefault(ids[j] if len(paths) == len(ids) else p.id, {})[name] = p
    out = []
    for i, sid in enumerate(ids):
        head = next(iter(per_arch.values()))[0][i]
        origins = np.asarray(head["test_origins"], int)
        seeds = {arch: np.stack([np.asarray(run[i]["test_pred"], float).reshape(len(origins), horizon)
                                 for run in runs_]) for arch, runs_ in per_arch.items()}
        same = {k: p for k, p in base_by_id.get(sid, {}).items() if np.array_equal(p.origins, origins)}
        out.append(SeriesView(id=sid, truth=np.asarray(head["truth"], float), time=head.get("time"), origins=origins,
                              seeds=seeds, baselines=same))
    return out


def most_important(views: list[SeriesView], n: int = SHOWN_SERIES) -> list[SeriesView]:
    """The `n` series with the largest level over the test part (all of them when there are no more), in the
    dataset's order: a run's own forecast picture, which has no baselines or other runs to rank by."""
    if len(views) <= n:
        return views
    keep = set(sorted(range(len(views)), key=lambda i: -views[i].level())[:n])
    return [v for i, v in enumerate(views) if i in keep]


def drawn(v: DatasetVerdict) -> tuple[str | None, str | None]:
    """The architecture a dataset's forecast figures draw with its seeds' band, and the baseline they overlay: the
    ones the usefulness rule compares (the lower seed-ensemble MASE, the best baseline), else the lower geometric
    mean over seeds and the best baseline by the headline's scores."""
    better: str | None = None
    if v.useful is not None and v.useful.arch is not None:
        better = v.useful.arch
    else:
        scores = {"gru": v.gmean_mase_gru, "lstm": v.gmean_mase_lstm}
        known = {a: x for a, x in scores.items() if np.isfinite(x)}
        better = min(known, key=lambda a: known[a]) if known else None
    best = v.useful.best_baseline if v.useful is not None and v.useful.best_baseline else v.best_baseline
    return better, best


def importance(v: DatasetVerdict) -> tuple[list[int], str]:
    """A dataset's series from the most to the least important to its decision, and the rule in words.

    A panel's scores are means over its series, so a series matters as much as it moves the comparison the
    decision makes: first the series where the drawn network's seed ensemble is furthest from the best baseline
    (its share of the gap the usefulness rule tests), else where the GRU and LSTM ensembles are furthest apart;
    the series the network forecasts worst comes within the first `SHOWN_SERIES` whatever its gap. Without
    scores (no test forecasts): by level.
    """
    t = v.scores
    if t is None:
        return [], ""
    n = len(t.series)
    col = {name: np.array([np.nan if (x := row[j]) is None else float(x) for row in t.per_series])
           for j, name in enumerate(t.forecasters)}
    better, best = drawn(v)
    net = col.get(f"{better}_ensemble")
    if net is not None and best in col:
        gap, rule = np.abs(net - col[best]), (f"how far the {(better or '').upper()} ensemble's test MASE is from "
                                              f"{BASELINE_NAMES.get(best, best)}'s, plus the series it forecasts worst")
    elif "gru_ensemble" in col and "lstm_ensemble" in col:
        gap, rule = np.abs(col["gru_ensemble"] - col["lstm_ensemble"]), ("how far the GRU and LSTM ensembles' test "
                                                                          "MASE are apart, plus the series the "
                                                                          f"{(better or 'network').upper()} forecasts "
                                                                          "worst")
        net = col.get(f"{better}_ensemble", col["gru_ensemble"])
    else:
        return sorted(range(n), key=lambda i: -t.series_mean_level[i]), "the largest (mean absolute value)"
    order = sorted(range(n), key=lambda i: (not np.isfinite(gap[i]), -np.nan_to_num(gap[i])))
    if np.isfinite(net).any():
        worst = int(np.nanargmax(net))
        if worst not in order[:SHOWN_SERIES]:
            order.remove(worst)
            order.insert(min(SHOWN_SERIES, n) - 1, worst)
    return order, rule


def score_table(paths: dict[str, list[list[Paths]]], views: list[SeriesView]) -> ScoreTable | None:
    """Test MASE per series and per step: each architecture per seed (geometric mean over seeds), its seed
    ensemble (`pipeline.verdict.horizon.ENSEMBLE`), and every baseline with forecasts on the networks' origins.

    Args:
        paths: per architecture, per confirm seed, one `Paths` per series (`pipeline.verdict.horizon.series_paths_of`).
        views: the dataset's `series_views` (for the baselines and the series' levels).
    """
    archs = [a for a in sorted(paths) if paths[a] and all(p.scale is not None for run in paths[a] for p in run)]
    if not archs or not views:
        return None
    # a baseline missing on some series (a failed fit) has no panel score; the rest from best to worst
    everywhere = set.intersection(*(set(v.baselines) for v in views))
    baselines = sorted(everywhere, key=lambda k: float(np.mean([v.baselines[k].mase() for v in views])))
    n, horizon = len(views), paths[archs[0]][0][0].horizon
    cols: list[str] = []
    by_series: list[np.ndarray] = []  # one column each: (series,)
    by_step: list[np.ndarray] = []  # (horizon,)
    for arch in archs:
        runs = paths[arch]
        seed_series = np.array([[run[s].mase() for s in range(n)] for run in runs])  # (seeds, series)
        seed_steps = np.array([np.mean([p.step_mase() for p in run], axis=0) for run in runs])  # (seeds, horizon)
        ens = panel_ensemble(runs)
        cols += [arch, f"{arch}_ensemble"]
        by_series += [_gmean(seed_series), np.array([p.mase() for p in ens])]
        by_step += [_gmean(seed_steps), np.mean([p.step_mase() for p in ens], axis=0)]
    for name in baselines:
        cols.append(name)
        by_series.append(np.array([v.baselines[name].mase() for v in views]))
        by_step.append(np.mean([v.baselines[name].step_mase() for v in views], axis=0))
    return ScoreTable(forecasters=cols, series=[v.id for v in views],
                      per_series=[[float(c[s]) for c in by_series] for s in range(n)],
                      per_step=[[float(c[h]) for c in by_step] for h in range(horizon)],
                      series_mean_level=[v.level() for v in views])


def _gmean(x: np.ndarray) -> np.ndarray:
    """Geometric mean over the first axis (seeds); NaN where a seed scored 0 or less."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.exp(np.mean(np.log(x), axis=0))
    return np.where(np.all(x > 0, axis=0), out, np.nan)
