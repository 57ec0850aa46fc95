"""What `gatesweep run` does: tune phase, confirm phase, report — wired together at the edge.

Ray lives in `pipeline.engine.tuning`, MLflow in `pipeline.tracking.tracker`; the report stage comes in as a `Reporter`
(the `reports` package), so the sweep never imports it.
"""

from __future__ import annotations

import json
import logging
import os
import time
import traceback
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from pipeline.app.nightly import nightly_tags
from pipeline.core.config import HPARAM_TYPES, ChoiceParam, SweepSpec
from pipeline.core.data import Panel, load_datasets
from pipeline.core.errors import BaselineWorkerDied, IncompleteSweep, ReportFailed, StoreUnavailable
from pipeline.core.hparams import HParams
from pipeline.core.metrics import baseline_cache, baselines_many
from pipeline.core.models import configure_tensorflow
from pipeline.core.outcome import TrialOutcome
from pipeline.core.scoring import Scoring
from pipeline.core.training import fit_and_score
from pipeline.core.version import code_version
from pipeline.engine import progress as progress_module
from pipeline.engine.cluster import check_code_versions, check_resources, start_ray
from pipeline.engine.interrupts import ACTIVE, Interrupted
from pipeline.engine.phases import Judge, planned, run_phases
from pipeline.engine.progress import Progress
from pipeline.tracking.client import TrackingClient
from pipeline.tracking.contract import Artifacts, Metrics, Tags
from pipeline.tracking.outbox import FLUSH_TIMEOUT_S, Outbox
from pipeline.tracking.state import REPORT_ERROR, SweepState, new_run_dir
from pipeline.verdict.model import Verdict
from pipeline.verdict.sequential import Design, replay

log = logging.getLogger("gatesweep")
INTERRUPT_FLUSH_S = 10.0  # an interrupted sweep waits this long for MLflow; the rest stays in the outbox


class Reporter(Protocol):
    """The report stage, as the sweep uses it (the `reports` package provides it)."""

    def build_report(self, client: TrackingClient, parent_run_id: str, out_dir: Path, link: str | None = None
                     ) -> Verdict: ...

    def compute_verdict(self, client: TrackingClient, parent_run_id: str) -> tuple[Verdict, object]: ...

    def stored_verdict(self, out_dir: Path) -> Verdict | None: ...


@dataclass
class SweepOutcome:
    parent_run_id: str
    out_dir: Path  # the sweep's own directory (outbox, Ray results, state, report)
    verdict: Verdict
    seconds: dict[str, float]
    mlflow: str  # where to see it: the parent run's page, or how to open the UI on a local store


def dataset_baselines(spec: SweepSpec, series: dict[str, Panel]
                      ) -> tuple[dict[str, float], dict[str, str], float, dict[str, Any]]:
    """Naive, seasonal naive, AR, ETS, ARIMA and Theta test-split metrics per dataset, keyed for the parent run;
    tags: the forms the statistical baselines chose, and the baselines that failed (with the reason); the seconds
    the statistical ones took (summed over series, whichever process fitted them); and the `baselines.json`
    artifact: per dataset and series, the test origins, the values forecast, every baseline's forecasts and
    MASE, and the MASE denominator (what the report tests a network's per-series scores against).

    The AR baseline uses the smallest window of the dataset's search space (the fixed one when not searched).
    AR and the statistical models are fitted on what the confirm runs are fitted on (`evaluation.final_fit`).
    On a panel each baseline is fitted on each series alone (the series across the machine's CPUs) and its
    metrics are the mean over series (as the networks'); a baseline that fails on some series has no metric for
    the dataset, and its tag names each series it failed on and why.
    """
    calls, owners = [], []
    for ds in spec.datasets:
        scoring = Scoring.of(spec, ds.name)
        window = int(min(spec.space_for(ds.name).values("window")))
        for s in series[ds.name].series:
            calls.append({"series": s.y, "scoring": scoring, "window": window,
                          "statistical": tuple(spec.evaluation.statistical_baselines)})
            owners.append((ds.name, s.id))
    results = baselines_many(calls, cache=baseline_cache())
    metrics: dict[str, float] = {}
    tags: dict[str, str] = {}
    artifact: dict[str, Any] = {"schema_version": 1, "datasets": {}}
    for ds in spec.datasets:
        panel = series[ds.name]
        mine = [r for (name, _), r in zip(owners, results, strict=True) if name == ds.name]
        ids = [sid for name, sid in owners if name == ds.name]
        per_series = [r.metrics for r in mine]
        why: dict[str, list[str]] = {}
        forms: dict[str, Counter[str]] = {}
        for sid, r in zip(ids, mine, strict=True):
            for name, reason in r.failed.items():
                why.setdefault(name, []).append(reason if len(panel.series) == 1 else f"series {sid!r}: {reason}")
            for name, form in r.forms.items():
                forms.setdefault(name, Counter())[form] += 1
        everywhere = set.intersection(*(set(m) for m in per_series))
        metrics |= {Metrics.baseline(ds.name, k): float(np.mean([m[k] for m in per_series]))
                    for k in per_series[0] if k in everywhere}
        metrics[Metrics.baseline(ds.name, "ar_window")] = float(min(spec.space_for(ds.name).values("window")))
        tags |= {Tags.baseline_failed(ds.name, name): "; ".join(reasons)[:4000] for name, reasons in why.items()}
        artifact["datasets"][ds.name] = {"horizon": ds.horizon, "series": [
            {"id": sid, "test_origins": [int(o) for o in np.asarray(r.origins)], "mase_scale": r.scale,
             "truth": np.asarray(r.truth).tolist(),  # a diverged AR has no forecasts here and a null MASE
             "mase": {k.removesuffix("_mase"): v if np.isfinite(v) else None for k, v in r.metrics.items()
                      if k.endswith("_mase")},
             "pred": {name: np.round(p, 10).tolist() for name, p in (r.paths or {}).items()
                      if np.all(np.isfinite(p))}}
            for sid, r in zip(ids, mine, strict=True)]}
        if forms:
            tags[Tags.baseline_forms(ds.name)] = "; ".join(
                f"{name}: " + ", ".join(f if n == 1 and len(c) == 1 else f"{f} x{n}" for f, n in c.most_common(8))
                + (f", {len(c) - 8} more forms" if len(c) > 8 else "") for name, c in forms.items())[:4000]
    return metrics, tags, sum(sum(r.seconds.values()) for r in results), artifact


def run_sweep(spec: SweepSpec, series: dict[str, Panel], spec_path: Path, *, tracking_uri: str,
              address: str | None, home: Path, reporter: Reporter, nightly: bool = False) -> SweepOutcome:
    """Run the whole sweep and its report in a new directory under `home`.

    Before anything is created: the tracking store is checked, Ray is started (or joined), and the
    cluster must be able to hold one trial and run the driver's code.

    Raises:
        StoreUnavailable: MLflow went away and did not come back within the flush timeout; the results
            are in `out_dir/outbox` and `gatesweep sync out_dir` writes them later.
        Interrupted: Ctrl-C or SIGTERM; finished runs are kept, `note` says how to continue.
        SweepFailed: a cell where every run failed, a phase that ended short, or a baseline worker killed.
    """
    from pipeline.tracking.tracker import SweepTracker  # lazy: the tracker imports MLflow

    t_start = time.perf_counter()
    tracker = SweepTracker(tracking_uri, spec.name)
    tracker.check()
    progress = _open_progress(spec, None)
    try:
        # pure computation on the data (seconds for long series): done before anything starts, so a Ctrl-C
        # here leaves nothing behind, and a resumed sweep never lacks them
        names = [{"ets": "ETS", "arima": "ARIMA", "theta": "Theta"}[n] for n in spec.evaluation.statistical_baselines]
        what = " and ".join(part for part in (", ".join(names[:-1]), names[-1] if names else "") if part)
        progress.set_note(f"fitting the {what} baseline{'s' * (len(names) > 1)}" if names
                          else "scoring the naive and AR baselines")
        t_baselines = time.perf_counter()
        baseline_metrics, baseline_tags, baseline_seconds, baseline_paths = dataset_baselines(spec, series)
        baseline_wall = time.perf_counter() - t_baselines
        ray_start = _prepare_cluster(spec, address, progress)
        parent = tracker.start_parent(spec, spec_path.read_text(encoding="utf-8"), str(spec_path))
    except (Interrupted, BaselineWorkerDied) as exc:
        progress.stop()
        if isinstance(exc, Interrupted):
            stop = exc
        elif ACTIVE.signum is not None:  # the workers died of our own stop signal
            stop = Interrupted(ACTIVE.signum)
        else:
            raise  # a worker killed by something else: SweepFailed's one line
        stop.note = "nothing was started"
        raise stop from None
    out_dir = new_run_dir(home, parent, "nightly-" if nightly else "")
    tags = {Tags.OUT_DIR: str(out_dir.resolve())}  # lets `gatesweep resume PARENT_RUN_ID` find the sweep
    tags |= {Tags.data_span(name): panel.describe() for name, panel in series.items()}
    tags |= {Tags.dropped_series(name): json.dumps([list(d) for d in panel.dropped])
             for name, panel in series.items() if panel.dropped}
    if nightly:
        tags |= nightly_tags(spec, series)
    tracker.set_parent_tags(tags)
    log.info("parent run %s in experiment %r (%s)", parent, spec.name, tracking_uri)
    # baselines: once per sweep, not per trial; their time is in timings.json
    state = SweepState(tracking_uri=tracking_uri, experiment=spec.name, parent_run_id=parent, phase="tune",
                       spec_path=str(spec_path.resolve()), spec=spec,
                       seconds={"baselines": baseline_seconds, "baselines_wall": baseline_wall,
                                "ray_start": ray_start})
    state.save(out_dir)
    tracker.log_parent_metrics(baseline_metrics)
    if baseline_tags:
        tracker.set_parent_tags(baseline_tags)
    tracker.log_parent_artifact(Artifacts.BASELINES, json.dumps(baseline_paths, separators=(",", ":"),
                                                                allow_nan=False))
    progress.publish = _publisher(tracker)
    return _drive(spec, series, tracker, out_dir, state, t_start, reporter, progress, cluster=None)


def resume(out_dir: Path, address: str | None, reporter: Reporter) -> SweepOutcome:
    """Continue a sweep whose driver died or was interrupted: unfinished phases are restored from Ray
    Tune's experiment state (finished trials are not rerun, the Optuna search continues from its
    checkpoint), results that never reached MLflow are written, and the report is made. Child runs are
    never duplicated."""
    state, tracker = _attach(out_dir, None)
    if state.phase == "done":
        return SweepOutcome(state.parent_run_id, out_dir, _done_verdict(reporter, tracker, out_dir, state),
                            state.seconds, _where(tracker))
    tracker.reopen_parent()
    progress = _open_progress(state.spec, tracker)
    return _drive(state.spec, load_datasets(state.spec), tracker, out_dir, state, None, reporter, progress,
                  cluster=address or "")


def _open_progress(spec: SweepSpec, tracker: Any) -> Progress:
    progress = Progress(planned(spec), publish=_publisher(tracker) if tracker is not None else None)
    progress_module.CURRENT = progress
    progress.start()
    return progress


def _publisher(tracker: Any) -> Any:
    def publish(summary: str) -> None:
        tracker.set_parent_tags({Tags.PROGRESS: summary})

    return publish


def _prepare_cluster(spec: SweepSpec, address: str | None, progress: Progress) -> float:
    """Start or join Ray, then check that a node can hold one trial and that every node runs our code.
    Returns the seconds it took."""
    t0 = time.perf_counter()
    progress.set_note("starting Ray" if address is None and not os.environ.get("RAY_ADDRESS") else "joining Ray")
    with ACTIVE.deferred():  # a signal here stops the sweep after the Ray call it landed in, not inside it
        start_ray(address, after=ACTIVE.install, stop=ACTIVE.check)  # Ray sets handlers: ours again
        ACTIVE.check()
        check_resources(spec, wait_s=spec.resources.wait_for_nodes, note=progress.set_note, stop=ACTIVE.check)
        check_code_versions(code_version())
    progress.set_note("")
    return time.perf_counter() - t0


def _attach(out_dir: Path, tracking_uri: str | None) -> tuple[SweepState, Any]:
    """An existing sweep's state and a tracker writing to its parent run (resume, sync)."""
    from pipeline.tracking.tracker import SweepTracker  # lazy: the tracker imports MLflow

    state = SweepState.load(out_dir)
    tracker = SweepTracker(tracking_uri or state.tracking_uri, state.experiment)
    tracker.check()
    tracker.attach(state.parent_run_id, state.spec)
    return state, tracker


def _drive(spec: SweepSpec, series: dict[str, Panel], tracker: Any, out_dir: Path, state: SweepState,
           t_start: float | None, reporter: Reporter, progress: Progress, *, cluster: str | None) -> SweepOutcome:
    """The phases still to do for this sweep (all of them for a new one), then the report. `cluster`: the
    Ray address to start or join first ("" for the default), or None when that is already done."""
    outbox = Outbox(out_dir / "outbox", tracker.push_record, state.parent_run_id,
                    writers=tracker.writers)
    outbox.load_pending()  # left by a driver that died (none for a new sweep)
    outbox.start()
    progress.already_done(outbox.done_keys() | {p.stem for p in outbox.pending_dir.glob("*.json")}, outbox.scores())
    seconds = state.seconds
    try:
        if state.phase in ("tune", "select", "confirm"):
            if cluster is not None:
                seconds["ray_start"] = seconds.get("ray_start", 0.0) + _prepare_cluster(spec, cluster or None, progress)
            run_phases(spec, series, outbox, out_dir, state, judge=_judge(spec))
            if state.confirm_stop is not None:  # the report says why some datasets got no further round
                tracker.set_parent_tags({Tags.CONFIRM_CUT: state.confirm_stop})
        else:
            progress.trained()
        progress.set_note("writing to MLflow")
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
        progress.set_note("making the report")
        verdict = _finish(tracker, out_dir, state, t_start, reporter)
    except Interrupted as exc:
        exc.note = _stop_interrupted(exc, tracker, outbox, out_dir, state, progress)
        raise
    except (StoreUnavailable, ReportFailed):  # the runs are kept (outbox) or finished (the parent says so)
        raise
    except BaseException:
        _mark_failed(tracker)
        raise
    finally:
        progress.stop()
        outbox.close()
    return SweepOutcome(state.parent_run_id, out_dir, verdict, state.seconds, _where(tracker))


def _judge(spec: SweepSpec) -> Judge:
    """After a confirm round: the datasets still undecided, by the report's own sequential rule
    (`pipeline.verdict.sequential`) on the confirm runs so far, so the report later reaches the same decisions."""
    design = Design.of(spec.confirm)

    def judge(finished: list[TrialOutcome], rounds_done: int) -> list[str]:
        rows = [{"dataset": run.job.dataset, "arch": run.job.arch, "round": spec.confirm.round_of(run.job.index),
                 "test_mase": m.test_mase} for run in finished
                if (m := run.final) is not None and m.test_mase is not None and run.job.variant is None]
        if not rows:
            return []
        return replay(pd.DataFrame(rows), design, spec.report).open_datasets()

    return judge


def _where(tracker: Any) -> str:
    link = tracker.link()
    if link:
        return link
    return (f"mlflow ui --backend-store-uri {tracker.tracking_uri} (then http://127.0.0.1:5000/#/experiments/"
            f"{tracker.experiment_id}/runs/{tracker.parent_id}?workflowType=machine_learning)")


def _stop_interrupted(exc: Interrupted, tracker: Any, outbox: Any, out_dir: Path, state: SweepState,
                      progress: Progress) -> str:
    """Keep everything finished (MLflow, or the outbox), mark the parent KILLED; the line to print."""
    ACTIVE.second_note = f"interrupted twice: exiting now; finished runs are on disk in {out_dir / 'outbox'}"
    remaining = outbox.flush(INTERRUPT_FLUSH_S)
    state.save(out_dir)
    where = ("everything finished is in MLflow" if not remaining else
             f"{remaining} finished runs are kept in {out_dir / 'outbox'} until the store takes them")
    try:
        tracker.set_parent_tags({Tags.INTERRUPTED: str(exc), Tags.PROGRESS: progress.summary()})
        tracker.finish_parent("KILLED")
    except Exception as err:  # the store may be gone too; the runs are safe on disk either way
        log.warning("could not mark the parent run KILLED: %s", err)
    return (f"{progress.summary()} ({state.phase} phase); {where}; continue with "
            f"`gatesweep resume {out_dir}`")


def _check_all_in_mlflow(outbox: Any, tracker: Any, out_dir: Path) -> None:
    """Every run the outbox wrote must be a child run in MLflow before a report is made on them.

    Runs missing from MLflow (deleted by hand, or lost by a store) are pushed once more from the records
    kept on disk; if some are still missing, the sweep stops here, saying how many and where they are.

    Raises:
        StoreUnavailable: runs are missing from MLflow; their records are in `out_dir/outbox`.
    """
    if dead := outbox.dead():
        key, reason = next(iter(dead.items()))
        raise StoreUnavailable(f"{tracker.tracking_uri}: MLflow refused {len(dead)} finished run(s), e.g. {key} "
                               f"({reason}); no report is made on an incomplete sweep; they are kept in "
                               f"{out_dir / 'outbox' / 'dead'}: fix the cause, then `gatesweep sync {out_dir}`")
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
    tracker.set_parent_tags({Tags.CHILD_RUNS: str(len(written))})


def _mark_failed(tracker: Any) -> None:
    try:
        tracker.finish_parent("FAILED")
    except Exception as exc:  # the store may be the reason we are failing; the original error matters more
        log.warning("could not mark the parent run FAILED: %s", exc)


def _finish(tracker: Any, out_dir: Path, state: SweepState, t_start: float | None,
            reporter: Reporter) -> Verdict:
    """Report, timing metrics and the parent's final status: the last steps, once MLflow has every run.

    Raises:
        ReportFailed: the report could not be built; the parent is FINISHED all the same (its training is) and
            tagged `gatesweep.report_failed`, the state is `report_failed`, and `gatesweep resume` tries again.
    """
    seconds = state.seconds
    t0 = time.perf_counter()
    verdict: Verdict | None = None
    failed: ReportFailed | None = None
    try:
        verdict = reporter.build_report(tracker.client, state.parent_run_id, out_dir, tracker.link())
    except Exception as exc:  # every run is trained and in MLflow: a failing report must not undo that
        failed = _report_failed(exc, tracker, out_dir, state)
    seconds["report"] = time.perf_counter() - t0
    if t_start is not None:
        seconds["total"] = time.perf_counter() - t_start
        times = tracker.times
        seconds["mlflow_calls"] = times.seconds
        seconds["mlflow_share"] = times.seconds / seconds["total"]
        # what the sweep waited for: calls on the main thread plus the final flush of the outbox
        seconds["mlflow_blocking"] = times.blocking_seconds + seconds.get("mlflow_flush_wait", 0.0)
        seconds["mlflow_blocking_share"] = seconds["mlflow_blocking"] / seconds["total"]
        state.mlflow_calls_by_method = {k: list(v) for k, v in times.by_method.items()}  # as of now
    # where the time went: an artifact, not metrics that would bury the verdict's few on the run page
    tracker.log_parent_artifact(Artifacts.TIMINGS, json.dumps({"seconds": seconds,
                                                            "mlflow_calls_by_method": state.mlflow_calls_by_method},
                                                           indent=2, sort_keys=True))
    tracker.finish_parent("FINISHED")
    state.phase = "done" if failed is None else "report_failed"
    state.save(out_dir)
    if failed is not None:
        raise failed
    assert verdict is not None
    return verdict


def _report_failed(exc: Exception, tracker: Any, out_dir: Path, state: SweepState) -> ReportFailed:
    """What a failed report leaves: its traceback in the sweep's directory, the parent's tag, and the one line
    (`ReportFailed` and its note) the command prints instead of a traceback."""
    failed = exc if isinstance(exc, ReportFailed) else ReportFailed("building the report", exc)
    where = out_dir / REPORT_ERROR
    where.write_text("".join(traceback.format_exception(exc)), encoding="utf-8")
    try:
        tracker.set_parent_tags({Tags.REPORT_FAILED: str(failed)[:5000]})
    except Exception as err:  # the store may be the cause; the line and the file still say it
        log.warning("could not tag the parent run %s: %s", Tags.REPORT_FAILED, err)
    failed.note = "; ".join(filter(None, (
        failed.note, f"the training finished and is in MLflow (parent run {state.parent_run_id}, FINISHED, tagged "
                     f"{Tags.REPORT_FAILED}); traceback in {where}; `gatesweep resume {out_dir}` builds the report "
                     "once the cause is fixed")))
    return failed


def _done_verdict(reporter: Reporter, tracker: Any, out_dir: Path, state: SweepState) -> Verdict:
    """A finished sweep's verdict as its report stored it; computed again only when that file is gone."""
    stored = reporter.stored_verdict(out_dir)
    return stored if stored is not None else reporter.compute_verdict(tracker.client, state.parent_run_id)[0]


def sync(out_dir: Path, reporter: Reporter, tracking_uri: str | None = None) -> SweepOutcome:
    """Write a sweep's results that never reached MLflow, then finish its report. Idempotent.

    Raises:
        StoreUnavailable: the store still does not take every record (nothing lost; try again).
        IncompleteSweep: the sweep stopped before its end: its runs are written, but there is no verdict.
        ReportFailed: as `_finish`.
    """
    state, tracker = _attach(out_dir, tracking_uri)
    outbox = Outbox(out_dir / "outbox", tracker.push_record, state.parent_run_id,
                    writers=tracker.writers)
    outbox.load_pending(dead=True)  # records refused before are tried again: their cause may be fixed
    outbox.start()
    try:
        remaining = outbox.flush(FLUSH_TIMEOUT_S)
        if remaining:
            raise StoreUnavailable(f"{tracker.tracking_uri}: {remaining} runs still not written "
                                   f"({outbox.last_error}); nothing lost, try again")
        if state.phase in ("trained", "done", "report_failed"):
            _check_all_in_mlflow(outbox, tracker, out_dir)
    finally:
        outbox.close()
    if state.phase in ("trained", "report_failed"):
        verdict = _finish(tracker, out_dir, state, None, reporter)
    elif state.phase == "done":
        verdict = _done_verdict(reporter, tracker, out_dir, state)
    else:
        raise IncompleteSweep(f"{out_dir}: the sweep stopped in its {state.phase} phase; its finished runs are now "
                              f"in MLflow, but there is no verdict until it completes: `gatesweep resume {out_dir}`")
    return SweepOutcome(state.parent_run_id, out_dir, verdict, state.seconds, _where(tracker))


def sync_models(out_dir: Path, tracking_uri: str) -> dict[str, dict[str, str]]:
    """Register the models a report (`gatesweep report --out out_dir`) kept in `out_dir` while MLflow was away:
    parent run -> dataset -> the parent's tag. Idempotent.

    Raises:
        StoreUnavailable: the store still does not take them (nothing lost; try again).
    """
    from pipeline.tracking.mlflow_io import TimedClient  # lazy: loads MLflow
    from pipeline.tracking.uploads import ModelsPending, ModelUploads, kept_parents  # lazy: loads MLflow

    client = TimedClient(tracking_uri)
    try:
        return {parent: ModelUploads(out_dir, client, parent).finish() for parent in kept_parents(out_dir)}
    except ModelsPending as exc:
        raise StoreUnavailable(f"{tracking_uri}: {exc}; try again") from None


def train_once(spec: SweepSpec, series: dict[str, Panel], *, dataset: str | None, arch: str | None,
               overrides: dict[str, Any], seed: int) -> dict[str, Any]:
    """`gatesweep train`: one trial in this process, no Ray, no MLflow; confirm-style scoring."""
    configure_tensorflow(os.cpu_count() or 1)
    ds = spec.dataset(dataset) if dataset else spec.datasets[0]
    space = spec.space_for(ds.name)
    searched = {name: _default(space, name) for name in space.searched()}
    hp = HParams.of(arch or spec.architectures[0], {**space.fixed(), **searched, **overrides})
    result = fit_and_score(hp, series[ds.name], Scoring.of(spec, ds.name), seed=seed, evaluate_test=True)
    return {"dataset": ds.name, **hp.model_dump(), "seed": seed, **result.metrics,
            "final_loss": result.loss[-1], "final_val_loss": result.val_loss[-1]}


def _default(space: Any, name: str) -> Any:
    """A searched hyperparameter's value for a single trial: the first choice, or the range's middle."""
    p = getattr(space, name)
    if isinstance(p, ChoiceParam):
        return p.choice[0]
    mid = float(np.sqrt(p.low * p.high)) if p.log else (p.low + p.high) / 2
    return round(mid) if HPARAM_TYPES[name] is int else mid
