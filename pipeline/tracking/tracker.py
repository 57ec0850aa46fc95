"""A sweep's writes to MLflow: its parent run and one child run per job. With `pipeline.tracking.mlflow_io`, the only
modules of a sweep that import MLflow.

Everything goes through `MlflowClient` from the Ray driver in batched calls, so workers never touch
the tracking store and an embedded SQLite store works on a multi-node cluster.
"""

from __future__ import annotations

import base64
import json
import math
import os
import time
from collections.abc import Iterable, Sequence
from typing import Any

from mlflow.entities import Metric, Param, RunTag
from pydantic import ValidationError

from pipeline.core.config import SweepSpec, fit_on
from pipeline.core.errors import TrackingError
from pipeline.core.outcome import FinalMetrics
from pipeline.core.version import code_version
from pipeline.tracking.client import TrackingClient
from pipeline.tracking.contract import Artifacts, Metrics, Params, RunsView, Tags
from pipeline.tracking.mlflow_io import TimedClient, child_runs, refusal, run_link, write_artifact, write_artifact_bytes
from pipeline.tracking.outbox import CorruptRecord
from pipeline.tracking.records import RunRecord
from pipeline.tracking.run_model import log_run_model, run_model_info

# MLflow writer threads: several for a server (it serves requests in parallel; measured in the README's
# scale table), one for an embedded store (its writes run in this process under the GIL and one lock)
WRITERS_ENV = "GATESWEEP_MLFLOW_WRITERS"
# MLflow's log_batch limits: 1000 metrics, 100 params, 100 tags, 1000 entities in all.
_MAX_METRICS, _MAX_TAGS = 1000, 100


# the experiment's description in the MLflow UI (set when gatesweep creates the experiment)
_EXPERIMENT_NOTE = ("**gatesweep: GRU or LSTM?** Sweep `{name}`: Keras GRU and LSTM networks tuned with the same "
                    "search space and budget, then retrained on fresh seeds and compared on a held-out test split. "
                    "Each sweep is one parent run (`gatesweep.role = sweep`) whose description opens on the verdict "
                    "(tag `gatesweep.verdict`) and whose `report.html` artifact holds the full report; its "
                    "trial, select and confirm runs are nested under it. "
                    "[Open the runs table](#/experiments/{id}/runs?{query}) with gatesweep's columns (phase, dataset, "
                    "architecture, seed, verdict, test and validation MASE, seconds per epoch).")


def _now_ms() -> int:
    return int(time.time() * 1000)


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def writers_for(tracking_uri: str) -> int:
    """How many outbox writer threads push to `tracking_uri` (${WRITERS_ENV} overrides)."""
    value = os.environ.get(WRITERS_ENV, "").strip()
    if value:
        if not value.isdigit() or int(value) < 1:
            raise TrackingError(f"${WRITERS_ENV}: {value!r} is not a whole number >= 1")
        return int(value)
    return 4 if tracking_uri.startswith(("http://", "https://")) else 1


class SweepTracker:
    """One sweep's parent run and its children in one experiment."""

    def __init__(self, tracking_uri: str, experiment: str) -> None:
        timed = TimedClient(tracking_uri)
        self.client: TrackingClient = timed
        self.times = timed.times  # seconds in MLflow calls, by method (the sweep's `seconds` line)
        self.tracking_uri = tracking_uri
        self.experiment = experiment
        self.experiment_id: str | None = None
        self.parent_id: str | None = None
        self.multi_dataset = False
        self.horizons: dict[str, int] = {}  # dataset -> forecast horizon (a child param), from the sweep file
        self.patience: int | None = None  # early stopping (a child param), from the sweep file
        self.final_fit = "train"  # what confirm runs are fitted on (`evaluation.final_fit`), from the sweep file
        self.writers = 1  # outbox writer threads for this store, set by check()

    @property
    def _parent(self) -> str:
        assert self.parent_id is not None, "start or attach the parent run first"
        return self.parent_id

    @property
    def _experiment(self) -> str:
        assert self.experiment_id is not None, "call check() or attach() first"
        return self.experiment_id

    def check(self, timeout_s: float = 5.0) -> None:
        """Fail fast (well within 15 s) if the store is unreachable, refuses the user (wrong password) or
        refuses writes to the experiment (no EDIT permission); creates the experiment if needed.

        MLflow's own HTTP retries (minutes by default) are switched off for this one probe. Also settles
        how many writer threads push to this store (`writers_for`: a bad setting ends it here too).
        """
        self.writers = writers_for(self.tracking_uri)
        saved = {k: os.environ.get(k) for k in ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_TIMEOUT")}
        os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
        os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = str(int(timeout_s))
        action = f"read experiment '{self.experiment}'"
        try:
            exp = self.client.get_experiment_by_name(self.experiment)
            if exp is None:
                action = f"create experiment '{self.experiment}'"
                self.experiment_id = self.client.create_experiment(
                    self.experiment, tags={Tags.EXPERIMENT_KIND: "custom_model_development"})
                # the note links the runs table, so it needs the new experiment's id; the link opens the table
                # with gatesweep's columns, a view saved in the experiment's tags (`RunsView`)
                self.client.set_experiment_tag(self.experiment_id, RunsView.TAG, RunsView.state())
                self.client.set_experiment_tag(self.experiment_id, Tags.NOTE, _EXPERIMENT_NOTE.format(
                    name=self.experiment, id=self.experiment_id, query=RunsView.query()))
            else:
                # the write a sweep needs, tried now: a server with permissions (basic-auth) refuses it
                # here, before anything starts, not at the first child run
                action = f"write to experiment '{self.experiment}'"
                self.client.set_experiment_tag(exp.experiment_id, Tags.WRITE_PROBE, "true")
                self.experiment_id = exp.experiment_id
        except Exception as exc:  # any transport or store error means the same thing to the user
            first = str(exc).splitlines()[0][:300] if str(exc) else exc.__class__.__name__
            why = refusal(exc, action) or f"tracking store unusable ({first})"
            raise TrackingError(f"{self.tracking_uri}: --tracking-uri: {why}") from None
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    def attach(self, parent_run_id: str, spec: SweepSpec | None = None) -> None:
        """Continue writing to an existing sweep (sync, resume)."""
        run = self.client.get_run(parent_run_id)
        self.parent_id, self.experiment_id = parent_run_id, run.info.experiment_id
        self.multi_dataset = "," in run.data.params.get("datasets", "")
        if spec is not None:
            self.horizons = {d.name: d.horizon for d in spec.datasets}
            self.patience = spec.evaluation.patience
            self.final_fit = spec.evaluation.final_fit

    def start_parent(self, spec: SweepSpec, spec_text: str, spec_path: str) -> str:
        assert self.experiment_id is not None, "call check() first"
        self.multi_dataset = len(spec.datasets) > 1
        self.horizons = {d.name: d.horizon for d in spec.datasets}
        self.patience = spec.evaluation.patience
        self.final_fit = spec.evaluation.final_fit
        tags = {Tags.ROLE: "sweep", Tags.SPEC_PATH: spec_path, Tags.CODE_VERSION: code_version()}
        run = self.client.create_run(self.experiment_id, run_name=f"{spec.name}-sweep", start_time=_now_ms(),
                                     tags=tags)
        self.parent_id = run.info.run_id
        params = {"datasets": ",".join(d.name for d in spec.datasets),
                  "architectures": ",".join(spec.architectures), "sampler": spec.sampler,
                  "trials_per_cell": spec.budget.trials_per_cell, "confirm_top_k": spec.confirm.top_k,
                  "confirm_seeds": spec.confirm.seeds, Params.SEEDS_PER_ROUND: spec.confirm.seeds_per_round,
                  Params.MAX_SEEDS: spec.confirm.seed_cap, Params.MAX_MINUTES: spec.confirm.max_minutes,
                  "seed": spec.seed,
                  "equivalence_margin": spec.report.equivalence_margin, "alpha": spec.report.alpha,
                  "min_seeds": spec.report.min_seeds, "smallest_effect": spec.report.smallest_effect,
                  "param_matched": spec.confirm.param_matched, "patience": spec.evaluation.patience,
                  Params.FINAL_FIT: spec.evaluation.final_fit,
                  "closed_loop_horizon": spec.evaluation.closed_loop_horizon,
                  "scheduler": spec.scheduler.kind, "max_failures": spec.max_failures,
                  "cpus_per_trial": spec.resources.cpus, "gpus_per_trial": spec.resources.gpus,
                  "history_every": spec.tracking.history_every}
        self.client.log_batch(self.parent_id, params=[Param(k, str(v)) for k, v in params.items()])
        self.client.log_text(self.parent_id, spec_text, Artifacts.SWEEP_FILE)
        return self.parent_id

    def log_parent_metrics(self, metrics: dict[str, float]) -> None:
        ms = [Metric(k, Metrics.shown(float(v)), _now_ms(), 0) for k, v in metrics.items()]
        for chunk in _chunks(ms, _MAX_METRICS):
            self.client.log_batch(self._parent, metrics=chunk)

    def set_parent_tags(self, tags: dict[str, str]) -> None:
        rts = [RunTag(k, str(v)) for k, v in tags.items()]
        for chunk in _chunks(rts, _MAX_TAGS):
            self.client.log_batch(self._parent, tags=chunk)

    def link(self) -> str | None:
        """The parent run's page in the MLflow UI (None for a store without a server)."""
        assert self.experiment_id is not None and self.parent_id is not None
        return run_link(self.tracking_uri, self.experiment_id, self.parent_id)

    def log_parent_artifact(self, name: str, text: str) -> None:
        run = self.client.get_run(self._parent)
        write_artifact(self.client, run.info.artifact_uri, name, text)

    def child_keys(self) -> set[str]:
        """The `gatesweep.key` of every child run of the parent in MLflow."""
        assert self.parent_id is not None, "start or attach the parent run first"
        return {run.data.tags.get(Tags.KEY, "") for run in child_runs(self.client, self.parent_id)} - {""}

    def finish_parent(self, status: str = "FINISHED") -> None:
        self.client.set_terminated(self._parent, status=status, end_time=_now_ms())

    def reopen_parent(self) -> None:
        """A resumed sweep runs again: status RUNNING, and no longer marked interrupted."""
        self.client.update_run(self._parent, status="RUNNING")
        run = self.client.get_run(self._parent)
        if Tags.INTERRUPTED in run.data.tags:
            self.client.delete_tag(self._parent, Tags.INTERRUPTED)

    def push_record(self, raw: dict[str, Any], maybe_partial: bool) -> str:
        """Write one outbox record (a `RunRecord`'s JSON) as a child run, idempotently (see
        `pipeline.tracking.outbox`).

        A run with the record's key and a terminal status is complete (the status is written last):
        nothing to do. A non-terminal one is the remains of an interrupted push: deleted, then redone.

        Raises:
            CorruptRecord: not a run record, or one whose key is not its job's: it can never be written.
        """
        try:
            record = RunRecord.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise CorruptRecord(f"record {raw.get('key')}: not a run record ({where}: {first['msg']})") from None
        if record.key != record.job.key:
            raise CorruptRecord(f"record {record.key}: its job's key is {record.job.key}")
        if (record.parent or self.parent_id) != self.parent_id:  # never write one sweep's run into another
            raise ValueError(f"record {record.key} belongs to parent run {record.parent}, not {self.parent_id}")
        if maybe_partial:
            existing = self.client.search_runs(
                [self._experiment], f"tags.{Tags.PARENT} = '{self.parent_id}' and "
                                      f"tags.`{Tags.KEY}` = '{record.key}'")
            for run in existing:
                if run.info.status in ("FINISHED", "FAILED", "KILLED"):
                    return run.info.run_id
                self.client.delete_run(run.info.run_id)
        return self.log_child(record)

    def _child_tags(self, record: RunRecord) -> dict[str, str]:
        job = record.job
        tags = {Tags.PARENT: str(self.parent_id), Tags.ROLE: job.phase, Tags.ARCH: job.arch,
                Tags.DATASET: job.dataset, Tags.SEED: str(job.seed), Tags.INDEX: str(job.index)}
        if job.phase != "trial":
            tags[Tags.RANK] = str(job.rank)
        if job.source_trial is not None:
            tags[Tags.SOURCE_TRIAL] = str(job.source_trial)
        if job.variant:
            tags[Tags.VARIANT] = job.variant
        if job.attempt is not None:
            tags[Tags.ATTEMPT] = str(job.attempt)
        if job.stopped_early:
            tags[Tags.STOPPED_EARLY] = "true"
        if node := record.extra_str("node"):
            tags[Tags.NODE] = node
        if version := record.extra_str("code_version"):
            tags[Tags.CODE_VERSION] = version  # what the worker ran
        if (gpus := record.extra_str("gpu_ids")) is not None:  # trials that asked for GPUs: what Ray gave them
            tags[Tags.GPU_IDS] = gpus
            tags[Tags.CUDA_VISIBLE_DEVICES] = record.extra_str("cuda_visible_devices") or ""
        if record.error:
            tags[Tags.ERROR] = record.error[:5000]
        model = record.extra.get("model")
        if isinstance(model, dict) and "skipped" in model:
            tags[Tags.MODEL_SKIPPED] = str(model["skipped"])[:5000]
        tags[Tags.KEY] = job.key
        tags[Tags.NOTE] = _child_description(record, fit_on(job.phase, self.final_fit))
        return tags

    def log_child(self, record: RunRecord) -> str:
        """One child run with the contract's tags, params, per-epoch and final metrics, in batches."""
        job, history = record.job, record.history
        run = self.client.create_run(self._experiment, start_time=record.start_ms or _now_ms(),
                                     tags=self._child_tags(record), run_name=job.run_name(self.multi_dataset))
        run_id = run.info.run_id
        params = [Param(k, str(v)) for k, v in job.hp.values().items()] + [Param("arch", job.arch)]  # an axis
        params.append(Param(Params.HORIZON, str(self.horizons.get(job.dataset, 1))))
        fitted = fit_on(job.phase, self.final_fit)
        stops = self.patience and fitted == "train"  # a final fit trains its given epochs: no early stopping
        params.append(Param(Params.PATIENCE, str(self.patience) if stops else "none"))
        params.append(Param(Params.FIT_ON, fitted))
        now = record.end_ms or _now_ms()
        # each epoch's row carries the wall-clock time it ended on its worker (records from older versions
        # have no times, or too few: the run's end then)
        epochs = history.get("epoch", [])
        stamps = history.get("time_ms") or []
        if len(stamps) != len(epochs):
            stamps = [now] * len(epochs)
        # the final scores first: MLflow's compare view opens on the first metric the runs share
        final = record.metrics.named() if record.metrics is not None else {}
        metrics = [Metric(Metrics.logged(k), final[k], now, 0) for k in Metrics.FINAL if k in final]
        # a final fit on train + validation has no validation curve (NaN rows): left out
        metrics += [Metric(name, float(v), int(ts), int(step)) for name in Metrics.EPOCH if name in history
                    for step, v, ts in zip(epochs, history[name], stamps, strict=True) if math.isfinite(v)]
        # one log_batch carries up to 100 params and 1000 entities in all: usually the whole run
        room = 1000 - len(params)
        self.client.log_batch(run_id, params=params, metrics=metrics[:room])
        for chunk in _chunks(metrics[room:], _MAX_METRICS):
            self.client.log_batch(run_id, metrics=chunk)
        if forecasts := record.extra.get("forecasts"):
            write_artifact(self.client, run.info.artifact_uri, Artifacts.FORECASTS, json.dumps(forecasts))
        model = record.extra.get("model")
        if isinstance(model, dict) and "weights" in model:  # the trained network (`pipeline.core.handover`)
            self._log_model(record, run_id, run.info.artifact_uri, model)
        if record.error_detail:
            write_artifact(self.client, run.info.artifact_uri, Artifacts.ERROR, record.error_detail)
        self.client.set_terminated(run_id, status=record.status, end_time=now)  # last: marks it complete
        return run_id

    def _log_model(self, record: RunRecord, run_id: str, artifact_uri: str, model: dict[str, Any]) -> None:
        """A confirm run's network as a pyfunc model on the run (`pipeline.tracking.run_model`)."""
        network = (json.dumps(model["state"]), base64.b64decode(str(model["weights"])))
        forecasts = record.extra.get("forecasts")
        if not isinstance(forecasts, dict):  # nothing to describe the model with (a confirm run always has them)
            write_artifact_bytes(self.client, artifact_uri, Artifacts.MODEL_STATE, network[0].encode())
            write_artifact_bytes(self.client, artifact_uri, Artifacts.MODEL_WEIGHTS, network[1])
            return
        info = run_model_info(self.experiment, str(self.parent_id), record.job.dataset, record.job.arch, run_id,
                              forecasts, model["state"])
        log_run_model(self.client, artifact_uri, info, network)


# what each phase's run is for, and the split it is judged on (the run name's last word is the phase)
_PHASES = {"trial": ("Tune phase", "scored on the validation split (the tuning objective)"),
           "select": ("Select phase", "scored on the validation split (picks the candidate that goes to confirm)"),
           "confirm": ("Confirm phase", "scored on the test split (the verdict's per-seed number)")}


def _child_description(record: RunRecord, fitted: str = "train") -> str:
    """The run page's one-line description, which decodes the run's name (`c3-s20002-lstm-select`): its phase and
    cell, which trial, candidate or configuration it is, its seed, what it was fitted on and scored on, that score
    (test MASE for confirm runs, validation MASE otherwise) or its error, then its configuration.
    `fitted`: `pipeline.core.config.fit_on` of the run."""
    job = record.job
    phase, scored = _PHASES.get(job.phase, (job.phase, "scored on the validation split"))
    arch = job.arch.upper() + (" (parameter-matched to the LSTM)" if job.variant == "param_matched" else "")
    what = {"trial": f"trial {job.index}",
            "select": f"candidate {job.rank + 1} (the tune phase's #{job.rank + 1} configuration)",
            "confirm": f"the cell's #{job.rank + 1} configuration" if job.rank else "the cell's best configuration",
            }[job.phase]
    if job.source_trial is not None:
        what += f", from tune trial {job.source_trial}"
    retry = f", attempt {job.attempt}" if job.attempt is not None else ""
    hp = job.hp.values()
    config = ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in hp.items())
    head = (f"{phase}, cell {job.dataset} / {arch}: {what}, seed {job.seed}{retry}; fitted on "
            f"{fitted.replace('+', ' + ')}, {scored}")
    metrics = record.metrics or FinalMetrics()
    value, label = ((metrics.test_mase, "Test MASE") if job.phase == "confirm"
                    else (metrics.val_mase, "Validation MASE"))
    if record.error:
        tail = "Failed: " + record.error.splitlines()[0][:200]
    elif value is not None:
        tail = f"{label} {value:.4g}"
    else:
        tail = "Stopped before it was scored"
    return f"{head}. {tail}. Configuration: {config}."
