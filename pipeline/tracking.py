"""MLflow writes: the only pipeline module that imports MLflow (the report stage reads on its own).

Everything goes through `MlflowClient` from the Ray driver in batched calls, so workers never touch
the tracking store and an embedded SQLite store works on a multi-node cluster.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag

from pipeline.config import HPARAM_TYPES, SweepSpec
from pipeline.errors import TrackingError

# MLflow's log_batch limits: 1000 metrics, 100 params, 100 tags, 1000 entities in all.
_MAX_METRICS, _MAX_PARAMS, _MAX_TAGS = 1000, 100, 100
FINAL_METRICS = ("val_rmse", "val_mase", "test_rmse", "test_mase", "test_smape", "closed_loop_rmse",
                 "n_params", "seconds_per_epoch", "train_seconds", "compile_seconds", "epochs_trained", "best_epoch",
                 "objective_val_loss")


class CallTimes:
    """Seconds spent inside MLflow calls, from any thread, and by method."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.blocking_seconds = 0.0  # spent in calls on the main thread: time the sweep itself waited
        self.by_method: dict[str, list[float]] = {}  # name -> [calls, seconds]
        self._lock = threading.Lock()

    def add(self, name: str, dt: float) -> None:
        with self._lock:
            self.seconds += dt
            if threading.current_thread() is threading.main_thread():
                self.blocking_seconds += dt
            entry = self.by_method.setdefault(name, [0, 0.0])
            entry[0] += 1
            entry[1] += dt


class _Timed:
    """A proxy that adds the time of every method call on `target` to `times` (as `prefix + name`)."""

    def __init__(self, target: Any, times: CallTimes, prefix: str = "") -> None:
        self._target, self._times, self._prefix = target, times, prefix

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if not callable(attr):
            return attr

        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return attr(*args, **kwargs)
            finally:
                self._times.add(self._prefix + name, time.perf_counter() - t0)

        return timed


class _TimedClient(_Timed):
    """An `MlflowClient` whose calls are timed, including those of the artifact repositories it hands out."""

    def __init__(self, client: MlflowClient) -> None:
        super().__init__(client, CallTimes())

    @property
    def times(self) -> CallTimes:
        return self._times

    def artifact_repository(self, artifact_uri: str) -> Any:
        return _Timed(artifact_repository(self._target, artifact_uri), self._times, "artifacts.")


def artifact_repository(client: Any, artifact_uri: str) -> Any:
    """The artifact store behind a run's `artifact_uri`.

    Going to it directly costs one request per file; `MlflowClient.log_dict` first fetches the run
    (to learn that URI), and `download_artifacts` makes about six requests per file over HTTP.
    A client that times its calls (the sweep's) hands out a timed repository instead.
    """
    make = getattr(client, "artifact_repository", None)
    if make is not None:
        return make(artifact_uri)
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    return get_artifact_repository(artifact_uri, tracking_uri=client.tracking_uri)


def record_key(job: dict[str, Any]) -> str:
    """A child run's identity within its sweep: the same job always gets the same key."""
    variant = f"-{job['variant']}" if job.get("variant") else ""
    attempt = f"-attempt{job['attempt']}" if job.get("attempt") is not None else ""
    return (f"{job['phase']}-{job['dataset']}-{job['arch']}{variant}-r{job.get('rank', 0)}-{int(job['index']):04d}"
            f"{attempt}")


def child_runs(client: Any, parent_run_id: str) -> list[Any]:
    """Every child run of a parent run, all pages."""
    parent = client.get_run(parent_run_id)
    runs, token = [], None
    while True:
        page = client.search_runs([parent.info.experiment_id],
                                  filter_string=f"tags.mlflow.parentRunId = '{parent_run_id}'",
                                  max_results=1000, page_token=token)
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def _now_ms() -> int:
    return int(time.time() * 1000)


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


class SweepTracker:
    """One sweep's parent run and its children in one experiment."""

    def __init__(self, tracking_uri: str, experiment: str) -> None:
        self.client: Any = _TimedClient(MlflowClient(tracking_uri=tracking_uri))
        self.tracking_uri = tracking_uri
        self.experiment = experiment
        self.experiment_id: str | None = None
        self.parent_id: str | None = None
        self.multi_dataset = False

    def check(self, timeout_s: float = 5.0) -> None:
        """Fail fast (well within 15 s) if the store is unreachable; creates the experiment if needed.

        MLflow's own HTTP retries (minutes by default) are switched off for this one probe.
        """
        saved = {k: os.environ.get(k) for k in ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_TIMEOUT")}
        os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
        os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = str(int(timeout_s))
        try:
            exp = self.client.get_experiment_by_name(self.experiment)
            self.experiment_id = exp.experiment_id if exp else self.client.create_experiment(self.experiment)
        except Exception as exc:  # any transport or store error means the same thing to the user
            first = str(exc).splitlines()[0][:300] if str(exc) else exc.__class__.__name__
            raise TrackingError(f"{self.tracking_uri}: --tracking-uri: tracking store unusable ({first})") from None
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    def attach(self, parent_run_id: str) -> None:
        """Continue writing to an existing sweep (sync, resume)."""
        run = self.client.get_run(parent_run_id)
        self.parent_id, self.experiment_id = parent_run_id, run.info.experiment_id
        self.multi_dataset = "," in run.data.params.get("datasets", "")

    def start_parent(self, spec: SweepSpec, spec_text: str, spec_path: str) -> str:
        assert self.experiment_id is not None, "call check() first"
        self.multi_dataset = len(spec.datasets) > 1
        tags = {"gatesweep.role": "sweep", "gatesweep.spec_path": spec_path}
        run = self.client.create_run(self.experiment_id, run_name=f"{spec.name}-sweep", start_time=_now_ms(),
                                     tags=tags)
        self.parent_id = run.info.run_id
        params = {"datasets": ",".join(d.name for d in spec.datasets),
                  "architectures": ",".join(spec.architectures), "sampler": spec.sampler,
                  "trials_per_cell": spec.budget.trials_per_cell, "confirm_top_k": spec.confirm.top_k,
                  "confirm_seeds": spec.confirm.seeds, "seed": spec.seed,
                  "equivalence_margin": spec.report.equivalence_margin, "alpha": spec.report.alpha,
                  "param_matched": spec.confirm.param_matched, "patience": spec.evaluation.patience,
                  "closed_loop_horizon": spec.evaluation.closed_loop_horizon,
                  "scheduler": spec.scheduler.kind, "max_failures": spec.max_failures,
                  "cpus_per_trial": spec.resources.cpus, "gpus_per_trial": spec.resources.gpus}
        self.client.log_batch(self.parent_id, params=[Param(k, str(v)) for k, v in params.items()])
        self.client.log_text(self.parent_id, spec_text, "sweep.yaml")
        return self.parent_id

    def log_parent_metrics(self, metrics: dict[str, float]) -> None:
        ms = [Metric(k, float(v), _now_ms(), 0) for k, v in metrics.items()]
        for chunk in _chunks(ms, _MAX_METRICS):
            self.client.log_batch(self.parent_id, metrics=chunk)

    def set_parent_tags(self, tags: dict[str, str]) -> None:
        rts = [RunTag(k, str(v)) for k, v in tags.items()]
        for chunk in _chunks(rts, _MAX_TAGS):
            self.client.log_batch(self.parent_id, tags=chunk)

    def child_keys(self) -> set[str]:
        """The `gatesweep.key` of every child run of the parent in MLflow."""
        return {run.data.tags.get("gatesweep.key", "") for run in child_runs(self.client, self.parent_id)} - {""}

    def finish_parent(self, status: str = "FINISHED") -> None:
        self.client.set_terminated(self.parent_id, status=status, end_time=_now_ms())

    def run_name(self, job: dict[str, Any]) -> str:
        prefix = f"{job['dataset']}-" if self.multi_dataset else ""
        attempt = f"-attempt-{job['attempt']}" if job.get("attempt") is not None else ""
        if job["phase"] == "confirm":
            rank = f"top{job['rank'] + 1}-" if job.get("rank", 0) else ""
            variant = "matched-" if job.get("variant") == "param_matched" else ""
            return f"{prefix}{job['arch']}-{variant}confirm-{rank}seed-{job['index']}{attempt}"
        return f"{prefix}{job['arch']}-trial-{job['index']:03d}{attempt}"

    def push_record(self, record: dict[str, Any], maybe_partial: bool) -> str:
        """Write one outbox record as a child run, idempotently (see `pipeline.outbox`).

        A run with the record's key and a terminal status is complete (the status is written last):
        nothing to do. A non-terminal one is the remains of an interrupted push: deleted, then redone.
        """
        if record.get("parent", self.parent_id) != self.parent_id:  # never write one sweep's run into another
            raise ValueError(f"record {record['key']} belongs to parent run {record['parent']}, not {self.parent_id}")
        if maybe_partial:
            existing = self.client.search_runs(
                [self.experiment_id], f"tags.mlflow.parentRunId = '{self.parent_id}' and "
                                      f"tags.`gatesweep.key` = '{record['key']}'")
            for run in existing:
                if run.info.status in ("FINISHED", "FAILED", "KILLED"):
                    return run.info.run_id
                self.client.delete_run(run.info.run_id)
        return self.log_child(record["job"], record["history"], record["result"], status=record["status"],
                              error=record.get("error"), start_ms=record.get("start_ms"),
                              end_ms=record.get("end_ms"), key=record["key"])

    def log_child(self, job: dict[str, Any], history: dict[str, list[float]], result: dict[str, Any] | None,
                  *, status: str, error: str | None = None, start_ms: int | None = None,
                  end_ms: int | None = None, key: str | None = None) -> str:
        """One child run with the contract's tags, params, per-epoch and final metrics, in batches."""
        tags = {"mlflow.parentRunId": self.parent_id, "gatesweep.role": job["phase"],
                "gatesweep.arch": job["arch"], "gatesweep.dataset": job["dataset"],
                "gatesweep.seed": str(job["seed"]), "gatesweep.index": str(job["index"])}
        if job["phase"] == "confirm":
            tags["gatesweep.rank"] = str(job.get("rank", 0))
        if job.get("variant"):
            tags["gatesweep.variant"] = job["variant"]
        if job.get("attempt") is not None:
            tags["gatesweep.attempt"] = str(job["attempt"])
        if job.get("stopped_early"):
            tags["gatesweep.stopped_early"] = "true"
        if result and result.get("node"):
            tags["gatesweep.node"] = result["node"]
        if error:
            tags["gatesweep.error"] = error[:5000]
        tags["gatesweep.key"] = key or record_key(job)
        run = self.client.create_run(self.experiment_id, start_time=start_ms or _now_ms(), tags=tags,
                                     run_name=self.run_name(job))
        run_id = run.info.run_id
        params = [Param(k, str(job[k])) for k in HPARAM_TYPES if k in job]
        now = end_ms or _now_ms()
        # each epoch's row carries the wall-clock time it ended on its worker (records from older versions
        # have no times, or too few: the run's end then)
        stamps = history.get("time_ms") or []
        if len(stamps) != len(history["epoch"]):
            stamps = [now] * len(history["epoch"])
        metrics = [Metric(name, float(v), int(ts), int(step)) for name in ("loss", "val_loss")
                   for step, v, ts in zip(history["epoch"], history[name], stamps, strict=True)]
        if result:
            metrics += [Metric(k, float(result[k]), now, 0) for k in FINAL_METRICS if k in result]
        # one log_batch carries up to 100 params and 1000 entities in all: usually the whole run
        room = 1000 - len(params)
        self.client.log_batch(run_id, params=params, metrics=metrics[:room])
        for chunk in _chunks(metrics[room:], _MAX_METRICS):
            self.client.log_batch(run_id, metrics=chunk)
        if result and result.get("forecasts"):
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "forecasts.json"
                path.write_text(json.dumps(result["forecasts"]), encoding="utf-8")
                self.client.artifact_repository(run.info.artifact_uri).log_artifact(str(path))
        self.client.set_terminated(run_id, status=status, end_time=now)  # last: marks it complete
        return run_id
