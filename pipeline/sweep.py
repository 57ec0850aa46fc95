"""What `gatesweep run` does: tune phase, confirm phase, report — wired together at the edge.

Ray lives in `pipeline.tuning`, MLflow in `pipeline.tracking`; the report stage comes in as a `Reporter`
(the `reports` package), so the sweep never imports it.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from pipeline.config import SweepSpec
from pipeline.data import load_datasets, split_bounds
from pipeline.errors import IncompleteSweep, StoreUnavailable
from pipeline.hparams import HParams
from pipeline.jobs import Candidates, Job
from pipeline.metrics import baselines
from pipeline.state import SweepState, new_run_dir

log = logging.getLogger("gatesweep")
FLUSH_TIMEOUT_S = float(os.environ.get("GATESWEEP_MLFLOW_FLUSH_TIMEOUT_S", "120"))


class Reporter(Protocol):
    """The report stage, as the sweep uses it (`reports` provides both)."""

    def build_report(self, client: Any, parent_run_id: str, out_dir: Path) -> dict[str, Any]: ...

    def compute_verdict(self, client: Any, parent_run_id: str) -> tuple[dict[str, Any], dict[str, Any]]: ...


@dataclass
class SweepOutcome:
    parent_run_id: str
    out_dir: Path  # the sweep's own directory (outbox, Ray results, state, report)
    verdict: dict[str, Any]
    seconds: dict[str, float]


def dataset_baselines(spec: SweepSpec, series: dict[str, np.ndarray]) -> dict[str, float]:
    """Naive / seasonal naive / AR test-split metrics per dataset, keyed for the parent run.

    The AR baseline uses the smallest window of the dataset's search space (the fixed one when not searched).
    """
    out: dict[str, float] = {}
    for ds in spec.datasets:
        window = int(min(spec.space_for(ds.name).values("window")))
        bounds = split_bounds(len(series[ds.name]), spec.split)
        for k, v in baselines(series[ds.name], bounds, window, ds.season).items():
            out[f"baseline.{ds.name}.{k}"] = v
        out[f"baseline.{ds.name}.ar_window"] = float(window)
    return out


Finished = list[tuple[Job, dict[str, Any] | None, str]]  # (job, final result, status) of a phase's trials


def tune_candidates(finished: Finished, spec: SweepSpec, k: int) -> Candidates:
    """Each cell's `k` best distinct configurations of the tune phase by validation MASE, the objective
    (the test split is never used), with the trial each comes from."""
    best: Candidates = {}
    for cell in spec.cells():
        done = sorted(((r["val_mase"], job.index, job) for job, r, status in finished
                       if status == "FINISHED" and r and job.phase == "trial" and job.cell == cell),
                      key=lambda t: (t[0], t[1]))
        distinct: list[tuple[HParams, int | None]] = []
        for _, _, job in done:  # a sampler may propose the same configuration twice: keep the better trial
            if all(job.hp != hp for hp, _ in distinct):
                distinct.append((job.hp, job.index))
        best[cell] = distinct[:k]
        if not best[cell]:
            raise RuntimeError(f"no finished tune-phase trial for {cell[0]}/{cell[1]}; cannot confirm")
    return best


def selected(finished: Finished, candidates: Candidates, spec: SweepSpec) -> Candidates:
    """Each cell's `confirm.top_k` candidates with the lowest mean validation MASE over their selection
    seeds (ties: the better tune-phase score)."""
    best: Candidates = {}
    for cell, configs in candidates.items():
        scores = {rank: [r["val_mase"] for job, r, status in finished
                         if status == "FINISHED" and r and job.cell == cell and job.rank == rank]
                  for rank in range(len(configs))}
        ranked = sorted((float(np.mean(v)), rank) for rank, v in scores.items() if v)
        if not ranked:
            raise RuntimeError(f"every selection run of {cell[0]}/{cell[1]} failed; cannot confirm")
        best[cell] = [configs[rank] for _, rank in ranked[: spec.confirm.top_k]]
    return best


def run_sweep(spec: SweepSpec, series: dict[str, np.ndarray], spec_path: Path, *, tracking_uri: str,
              address: str | None, home: Path, reporter: Reporter, nightly: bool = False) -> SweepOutcome:
    """Run the whole sweep and its report in a new directory under `home`. The tracking store is checked
    before Ray starts.

    Raises:
        StoreUnavailable: MLflow went away and did not come back within the flush timeout; the results
            are in `out_dir/outbox` and `gatesweep sync out_dir` writes them later.
    """
    from pipeline.tracking import SweepTracker

    t_start = time.perf_counter()
    tracker = SweepTracker(tracking_uri, spec.name)
    tracker.check()
    parent = tracker.start_parent(spec, spec_path.read_text(encoding="utf-8"), str(spec_path))
    out_dir = new_run_dir(home, parent, "nightly-" if nightly else "")
    tags = {"gatesweep.out_dir": str(out_dir.resolve())}  # lets `gatesweep resume PARENT_RUN_ID` find the sweep
    if nightly:
        from pipeline.nightly import nightly_tags

        tags |= nightly_tags(spec, series)
    tracker.set_parent_tags(tags)
    log.info("parent run %s in experiment %r (%s)", parent, spec.name, tracking_uri)
    state = SweepState(tracking_uri=tracking_uri, experiment=spec.name, parent_run_id=parent, phase="tune",
                       spec_path=str(spec_path.resolve()), spec=spec)
    state.save(out_dir)
    tracker.log_parent_metrics(dataset_baselines(spec, series))
    return _drive(spec, series, tracker, out_dir, state, address, t_start, reporter)


def resume(out_dir: Path, address: str | None, reporter: Reporter) -> SweepOutcome:
    """Continue a sweep whose driver died: unfinished phases are restored from Ray Tune's experiment
    state (finished trials are not rerun, the Optuna search continues from its checkpoint), results that
    never reached MLflow are written, and the report is made. Child runs are never duplicated."""
    state, tracker = _attach(out_dir, None)
    if state.phase == "done":
        return SweepOutcome(state.parent_run_id, out_dir, reporter.compute_verdict(tracker.client,
                                                                                   state.parent_run_id)[0],
                            state.seconds)
    return _drive(state.spec, load_datasets(state.spec), tracker, out_dir, state, address, None, reporter)


def _attach(out_dir: Path, tracking_uri: str | None) -> tuple[SweepState, Any]:
    """An existing sweep's state and a tracker writing to its parent run (resume, sync)."""
    from pipeline.tracking import SweepTracker

    state = SweepState.load(out_dir)
    tracker = SweepTracker(tracking_uri or state.tracking_uri, state.experiment)
    tracker.check()
    tracker.attach(state.parent_run_id)
    return state, tracker


def _drive(spec: SweepSpec, series: dict[str, np.ndarray], tracker: Any, out_dir: Path, state: SweepState,
           address: str | None, t_start: float | None, reporter: Reporter) -> SweepOutcome:
    """The phases still to do for this sweep (all of them for a new one), then the report."""
    from pipeline.outbox import Outbox

    outbox = Outbox(out_dir / "outbox", tracker.push_record, state.parent_run_id)
    outbox.load_pending()  # left by a driver that died (none for a new sweep)
    outbox.start()
    seconds = state.seconds
    try:
        if state.phase in ("tune", "select", "confirm"):
            _run_phases(spec, series, outbox, out_dir, state, address)
        t0 = time.perf_counter()
        remaining = outbox.flush(FLUSH_TIMEOUT_S)
        seconds["mlflow_flush_wait"] = time.perf_counter() - t0
        seconds["mlflow_writer_cpu"] = seconds.get("mlflow_writer_cpu", 0.0) + outbox.cpu_seconds
        state.phase = "trained"
        state.save(out_dir)
        if remaining:
            raise StoreUnavailable(f"{state.tracking_uri}: {remaining} finished runs not yet in MLflow "
                                   f"({outbox.last_error}); they are kept in {out_dir / 'outbox'}: "
                                   f"run `gatesweep sync {out_dir}` when the tracking store is back")
        _check_all_in_mlflow(outbox, tracker, out_dir)
        verdict = _finish(tracker, out_dir, state, t_start, reporter)
    except StoreUnavailable:
        raise
    except BaseException:
        _mark_failed(tracker)
        raise
    finally:
        outbox.close()
    return SweepOutcome(state.parent_run_id, out_dir, verdict, state.seconds)


def _check_all_in_mlflow(outbox: Any, tracker: Any, out_dir: Path) -> None:
    """Every run the outbox wrote must be a child run in MLflow before a report is made on them.

    Runs missing from MLflow (deleted by hand, or lost by a store) are pushed once more from the records
    kept on disk; if some are still missing, the sweep stops here, saying how many and where they are.

    Raises:
        StoreUnavailable: runs are missing from MLflow; their records are in `out_dir/outbox`.
    """
    written = outbox.done_keys()
    missing = written - tracker.child_keys()
    if missing:
        log.warning("%d finished runs are missing from MLflow; writing them again", len(missing))
        outbox.requeue(missing)
        outbox.flush(FLUSH_TIMEOUT_S)
        missing = (written | outbox.done_keys()) - tracker.child_keys()
    if missing:
        raise StoreUnavailable(f"{tracker.tracking_uri}: {len(missing)} of {len(written)} finished runs are not in "
                               f"MLflow ({outbox.last_error or 'written, but not found'}); no report is made on an "
                               f"incomplete sweep; they are kept in {out_dir / 'outbox'}: run `gatesweep sync "
                               f"{out_dir}`")
    tracker.set_parent_tags({"gatesweep.child_runs": str(len(written))})


def _run_phases(spec: SweepSpec, series: dict[str, np.ndarray], outbox: Any, out_dir: Path,
                state: SweepState, address: str | None) -> None:
    from pipeline import tuning

    seconds = state.seconds
    t0 = time.perf_counter()
    tuning.start_ray(address)
    seconds["ray_start"] = time.perf_counter() - t0
    storage = out_dir / "ray_results"
    tag = state.parent_run_id[:8]
    callback = tuning.OutboxCallback(outbox)

    def phase(name: str, jobs: list[Job] | None) -> Finished:
        """Run a phase, or continue it from Tune's experiment state (a finished one returns at once)."""
        path = storage / f"{spec.name}-{name}-{tag}"
        t0 = time.perf_counter()
        if tuning.can_restore(path):
            results = tuning.restore_phase(spec, series, path)
        else:
            results = tuning.run_phase(spec, series, storage=storage, name=path.name, callbacks=[callback], jobs=jobs)
        seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - t0
        return tuning.finished_results(results)

    if spec.budget.trials_per_cell > 0:
        candidates = tune_candidates(phase("tune", None), spec, spec.confirm.candidates)
        if max(len(c) for c in candidates.values()) > 1:
            state.phase = "select"
            state.save(out_dir)
            best = selected(phase("select", tuning.select_jobs(spec, candidates)), candidates, spec)
        else:
            best = candidates
    else:
        best = {(ds, arch): [(HParams.of(arch, spec.space_for(ds).fixed()), None)] for ds, arch in spec.cells()}
    state.phase = "confirm"
    state.save(out_dir)
    phase("confirm", tuning.confirm_jobs(spec, best))


def _mark_failed(tracker: Any) -> None:
    try:
        tracker.finish_parent("FAILED")
    except Exception as exc:  # the store may be the reason we are failing; the original error matters more
        log.warning("could not mark the parent run FAILED: %s", exc)


def _finish(tracker: Any, out_dir: Path, state: SweepState, t_start: float | None,
            reporter: Reporter) -> dict[str, Any]:
    """Report, timing metrics and the parent's final status: the last steps, once MLflow has every run."""
    seconds = state.seconds
    t0 = time.perf_counter()
    verdict = reporter.build_report(tracker.client, state.parent_run_id, out_dir)
    seconds["report"] = time.perf_counter() - t0
    if t_start is not None:
        seconds["total"] = time.perf_counter() - t_start
        times = tracker.client.times
        seconds["mlflow_calls"] = times.seconds
        seconds["mlflow_share"] = times.seconds / seconds["total"]
        # what the sweep waited for: calls on the main thread plus the final flush of the outbox
        seconds["mlflow_blocking"] = times.blocking_seconds + seconds.get("mlflow_flush_wait", 0.0)
        seconds["mlflow_blocking_share"] = seconds["mlflow_blocking"] / seconds["total"]
        state.mlflow_calls_by_method = {k: list(v) for k, v in times.by_method.items()}  # as of now
    tracker.log_parent_metrics({f"seconds.{k}": v for k, v in seconds.items()})
    tracker.finish_parent("FINISHED")
    state.phase = "done"
    state.save(out_dir)
    return verdict


def sync(out_dir: Path, reporter: Reporter, tracking_uri: str | None = None) -> SweepOutcome:
    """Write a sweep's results that never reached MLflow, then finish its report. Idempotent.

    Raises:
        StoreUnavailable: the store still does not take every record (nothing lost; try again).
        IncompleteSweep: the sweep stopped before its end: its runs are written, but there is no verdict.
    """
    from pipeline.outbox import Outbox

    state, tracker = _attach(out_dir, tracking_uri)
    outbox = Outbox(out_dir / "outbox", tracker.push_record, state.parent_run_id)
    outbox.load_pending()
    outbox.start()
    try:
        remaining = outbox.flush(FLUSH_TIMEOUT_S)
        if remaining:
            raise StoreUnavailable(f"{tracker.tracking_uri}: {remaining} runs still not written "
                                   f"({outbox.last_error}); nothing lost, try again")
        if state.phase in ("trained", "done"):
            _check_all_in_mlflow(outbox, tracker, out_dir)
    finally:
        outbox.close()
    if state.phase == "trained":
        verdict = _finish(tracker, out_dir, state, None, reporter)
    elif state.phase == "done":
        verdict = reporter.compute_verdict(tracker.client, state.parent_run_id)[0]
    else:
        raise IncompleteSweep(f"{out_dir}: the sweep stopped in its {state.phase} phase; its finished runs are now "
                              f"in MLflow, but there is no verdict until it completes: `gatesweep resume {out_dir}`")
    return SweepOutcome(state.parent_run_id, out_dir, verdict, state.seconds)


def train_once(spec: SweepSpec, series: dict[str, np.ndarray], *, dataset: str | None, arch: str | None,
               overrides: dict[str, Any], seed: int) -> dict[str, Any]:
    """`gatesweep train`: one trial in this process, no Ray, no MLflow; confirm-style scoring."""
    from pipeline.models import configure_tensorflow

    configure_tensorflow(os.cpu_count() or 1)
    from pipeline.training import fit_and_score

    ds = spec.dataset(dataset) if dataset else spec.datasets[0]
    space = spec.space_for(ds.name)
    searched = {name: _default(space, name) for name in space.searched()}
    hp = HParams.of(arch or spec.architectures[0], {**space.fixed(), **searched, **overrides})
    result = fit_and_score(hp, series[ds.name], spec.split, seed=seed, evaluate_test=True, season=ds.season,
                           patience=spec.evaluation.patience, horizon=spec.evaluation.closed_loop_horizon)
    return {"dataset": ds.name, **hp.model_dump(), "seed": seed, **result.metrics,
            "final_loss": result.loss[-1], "final_val_loss": result.val_loss[-1]}


def _default(space: Any, name: str) -> Any:
    """A searched hyperparameter's value for a single trial: the first choice, or the range's middle."""
    from pipeline.config import HPARAM_TYPES, ChoiceParam

    p = getattr(space, name)
    if isinstance(p, ChoiceParam):
        return p.choice[0]
    mid = float(np.sqrt(p.low * p.high)) if p.log else (p.low + p.high) / 2
    return round(mid) if HPARAM_TYPES[name] is int else mid
