"""What `gatesweep run` does: tune phase, confirm phase, report — wired together at the edge."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.config import SweepSpec
from pipeline.data import load_series, split_bounds
from pipeline.metrics import baselines

log = logging.getLogger("gatesweep")


@dataclass
class SweepOutcome:
    parent_run_id: str
    report_dir: Path
    verdict: dict[str, Any]
    seconds: dict[str, float]


def dataset_baselines(spec: SweepSpec, series: dict[str, np.ndarray]) -> dict[str, float]:
    """Naive / seasonal naive / AR test-split metrics per dataset, keyed for the parent run.

    The AR baseline uses the smallest window of the search space (the fixed one when not searched).
    """
    window = int(min(spec.search_space.values("window")))
    out: dict[str, float] = {}
    for ds in spec.datasets:
        bounds = split_bounds(len(series[ds.name]), spec.split)
        for k, v in baselines(series[ds.name], bounds, window, ds.season).items():
            out[f"baseline.{ds.name}.{k}"] = v
        out[f"baseline.{ds.name}.ar_window"] = float(window)
    return out


def best_configs(logged: list[tuple[dict[str, Any], dict[str, Any] | None, str]], spec: SweepSpec,
                 ) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Each cell's top-k finished trials by their validation objective (the test split is never used)."""
    from pipeline.config import HPARAM_TYPES

    best: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for cell in spec.cells():
        done = [(r["val_loss"], job) for job, r, status in logged
                if status == "FINISHED" and r and job["phase"] == "trial" and (job["dataset"], job["arch"]) == cell]
        done.sort(key=lambda t: (t[0], t[1]["index"]))
        best[cell] = [{k: job[k] for k in HPARAM_TYPES} for _, job in done[: spec.confirm.top_k]]
        if not best[cell]:
            raise RuntimeError(f"no finished tune-phase trial for {cell[0]}/{cell[1]}; cannot confirm")
    return best


def run_sweep(spec: SweepSpec, spec_path: Path, *, tracking_uri: str, address: str | None,
              out_dir: Path) -> SweepOutcome:
    """Run the whole sweep and its report. The tracking store is checked before Ray starts."""
    from pipeline.tracking import SweepTracker

    t_start = time.perf_counter()
    tracker = SweepTracker(tracking_uri, spec.name)
    tracker.check()
    series = {d.name: load_series(d) for d in spec.datasets}
    parent = tracker.start_parent(spec, spec_path.read_text(encoding="utf-8"), str(spec_path))
    log.info("parent run %s in experiment %r (%s)", parent, spec.name, tracking_uri)
    seconds: dict[str, float] = {}
    try:
        tracker.log_parent_metrics(dataset_baselines(spec, series))
        import ray

        from pipeline import tuning

        t0 = time.perf_counter()
        if not ray.is_initialized():
            ray.init(address=address, include_dashboard=False, log_to_driver=False,
                     runtime_env={"env_vars": {"TF_CPP_MIN_LOG_LEVEL": "3"}})
        seconds["ray_start"] = time.perf_counter() - t0
        storage = out_dir / "ray_results"
        callback = tuning.MlflowCallback(tracker)
        if spec.budget.trials_per_cell > 0:
            t0 = time.perf_counter()
            tuning.run_phase(spec, series, storage=storage, name=f"{spec.name}-tune-{parent[:8]}",
                             callbacks=[callback])
            seconds["tune"] = time.perf_counter() - t0
            best = best_configs(callback.logged, spec)
        else:
            fixed = tuning.fixed_params(spec.search_space)
            best = {cell: [fixed] for cell in spec.cells()}
        t0 = time.perf_counter()
        jobs = tuning.confirm_jobs(spec, best)
        tuning.run_phase(spec, series, storage=storage, name=f"{spec.name}-confirm-{parent[:8]}",
                         callbacks=[callback], jobs=jobs)
        seconds["confirm"] = time.perf_counter() - t0

        from reports import build_report

        t0 = time.perf_counter()
        verdict = build_report(tracker.client, parent, out_dir)
        seconds["report"] = time.perf_counter() - t0
        seconds["total"] = time.perf_counter() - t_start
        tracker.log_parent_metrics({f"seconds.{k}": v for k, v in seconds.items()})
        tracker.finish_parent("FINISHED")
    except BaseException:
        tracker.finish_parent("FAILED")
        raise
    return SweepOutcome(parent, out_dir, verdict, seconds)



def train_once(spec: SweepSpec, *, dataset: str | None, arch: str | None, overrides: dict[str, str],
               seed: int) -> dict[str, Any]:
    """`gatesweep train`: one trial in this process, no Ray, no MLflow; confirm-style scoring."""
    from pipeline.models import configure_tensorflow

    configure_tensorflow(os.cpu_count() or 1)
    from pipeline.training import HParams, fit_and_score

    ds = spec.dataset(dataset) if dataset else spec.datasets[0]
    params = {name: _default(spec, name) for name in spec.search_space.searched()}
    from pipeline.space import fixed_params

    params = {**fixed_params(spec.search_space), **params, **overrides, "arch": arch or spec.architectures[0]}
    hp = HParams.from_dict(params)
    result = fit_and_score(hp, load_series(ds), spec.split, seed=seed, evaluate_test=True, season=ds.season,
                           patience=spec.evaluation.patience, horizon=spec.evaluation.closed_loop_horizon)
    return {"dataset": ds.name, **hp.params(), "seed": seed, **result.metrics,
            "final_loss": result.loss[-1], "final_val_loss": result.val_loss[-1]}


def _default(spec: SweepSpec, name: str) -> Any:
    """A searched hyperparameter's value for a single trial: the first choice, or the range's middle."""
    from pipeline.config import HPARAM_TYPES, ChoiceParam

    p = getattr(spec.search_space, name)
    if isinstance(p, ChoiceParam):
        return p.choice[0]
    mid = float(np.sqrt(p.low * p.high)) if p.log else (p.low + p.high) / 2
    return round(mid) if HPARAM_TYPES[name] is int else mid
