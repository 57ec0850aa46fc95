"""MLflow writes: the only pipeline module that imports MLflow (the report stage reads on its own).

Everything goes through `MlflowClient` from the Ray driver in batched calls, so workers never touch
the tracking store and an embedded SQLite store works on a multi-node cluster.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag

from pipeline.config import HPARAM_TYPES, SweepSpec

# MLflow's log_batch limits: 1000 metrics, 100 params, 100 tags, 1000 entities in all.
_MAX_METRICS, _MAX_PARAMS, _MAX_TAGS = 1000, 100, 100
FINAL_METRICS = ("val_rmse", "val_mase", "test_rmse", "test_mase", "test_smape", "closed_loop_rmse",
                 "n_params", "seconds_per_epoch", "train_seconds", "compile_seconds", "epochs_trained", "best_epoch",
                 "objective_val_loss")


class TrackingError(RuntimeError):
    """The tracking store cannot be reached or refuses writes."""


def _now_ms() -> int:
    return int(time.time() * 1000)


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


class SweepTracker:
    """One sweep's parent run and its children in one experiment."""

    def __init__(self, tracking_uri: str, experiment: str) -> None:
        self.client = MlflowClient(tracking_uri=tracking_uri)
        self.tracking_uri = tracking_uri
        self.experiment = experiment
        self.experiment_id: str | None = None
        self.parent_id: str | None = None
        self.multi_dataset = False

    def check(self) -> None:
        """Fail fast if the store is unreachable; creates the experiment if it does not exist yet."""
        try:
            exp = self.client.get_experiment_by_name(self.experiment)
            self.experiment_id = exp.experiment_id if exp else self.client.create_experiment(self.experiment)
        except Exception as exc:  # any transport or store error means the same thing to the user
            raise TrackingError(f"tracking store {self.tracking_uri} unusable: "
                                f"{str(exc).splitlines()[0][:300]}") from exc

    def start_parent(self, spec: SweepSpec, spec_text: str, spec_path: str) -> str:
        assert self.experiment_id is not None, "call check() first"
        self.multi_dataset = len(spec.datasets) > 1
        run = self.client.create_run(self.experiment_id, run_name=f"{spec.name}-sweep", start_time=_now_ms(),
                                     tags={"gatesweep.role": "sweep", "gatesweep.spec_path": spec_path})
        self.parent_id = run.info.run_id
        params = {"datasets": ",".join(d.name for d in spec.datasets),
                  "architectures": ",".join(spec.architectures), "sampler": spec.sampler,
                  "trials_per_cell": spec.budget.trials_per_cell, "confirm_top_k": spec.confirm.top_k,
                  "confirm_seeds": spec.confirm.seeds, "seed": spec.seed,
                  "equivalence_margin": spec.report.equivalence_margin, "alpha": spec.report.alpha,
                  "param_matched": spec.confirm.param_matched, "patience": spec.evaluation.patience,
                  "closed_loop_horizon": spec.evaluation.closed_loop_horizon,
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

    def finish_parent(self, status: str = "FINISHED") -> None:
        self.client.set_terminated(self.parent_id, status=status, end_time=_now_ms())

    def run_name(self, job: dict[str, Any]) -> str:
        prefix = f"{job['dataset']}-" if self.multi_dataset else ""
        if job["phase"] == "confirm":
            rank = f"top{job['rank'] + 1}-" if job.get("rank", 0) else ""
            variant = "matched-" if job.get("variant") == "param_matched" else ""
            return f"{prefix}{job['arch']}-{variant}confirm-{rank}seed-{job['index']}"
        return f"{prefix}{job['arch']}-trial-{job['index']:03d}"

    def log_child(self, job: dict[str, Any], history: dict[str, list[float]], result: dict[str, Any] | None,
                  *, status: str, error: str | None = None, start_ms: int | None = None) -> str:
        """One child run with the contract's tags, params, per-epoch and final metrics, in batches."""
        tags = {"mlflow.parentRunId": self.parent_id, "gatesweep.role": job["phase"],
                "gatesweep.arch": job["arch"], "gatesweep.dataset": job["dataset"],
                "gatesweep.seed": str(job["seed"]), "gatesweep.index": str(job["index"])}
        if job["phase"] == "confirm":
            tags["gatesweep.rank"] = str(job.get("rank", 0))
        if job.get("variant"):
            tags["gatesweep.variant"] = job["variant"]
        if result and result.get("node"):
            tags["gatesweep.node"] = result["node"]
        if error:
            tags["gatesweep.error"] = error[:5000]
        run = self.client.create_run(self.experiment_id, start_time=start_ms or _now_ms(), tags=tags,
                                     run_name=self.run_name(job))
        run_id = run.info.run_id
        params = [Param(k, str(job[k])) for k in HPARAM_TYPES if k in job]
        now = _now_ms()
        metrics = [Metric(name, float(v), now, int(step))
                   for name in ("loss", "val_loss") for step, v in zip(history["epoch"], history[name], strict=True)]
        if result:
            metrics += [Metric(k, float(result[k]), now, 0) for k in FINAL_METRICS if k in result]
        for chunk in _chunks(params, _MAX_PARAMS):
            self.client.log_batch(run_id, params=chunk)
        for chunk in _chunks(metrics, _MAX_METRICS):
            self.client.log_batch(run_id, metrics=chunk)
        if result and result.get("forecasts"):
            self.client.log_dict(run_id, result["forecasts"], "forecasts.json")
        self.client.set_terminated(run_id, status=status, end_time=_now_ms())
        return run_id
