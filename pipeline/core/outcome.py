"""How a trial ended, typed: its job, status, error line and final metrics (`TrialOutcome`), as the sweep's phases
decide on it. The outbox's record of a run (`pipeline.tracking.records.RunRecord`) is one of these plus what is
logged with it.

A trial's final report, as the trainable hands it to Ray Tune, is one flat dict: the metrics of `fit_and_score`, the
forecasts, the kept network, where it ran and Ray's own bookkeeping. This module is where its metrics are read from
it, by name, once; everything downstream reads attributes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict

from pipeline.core.jobs import Job

Status = Literal["FINISHED", "FAILED"]
FINAL_MARK = "final"  # set in the trainable's last report, the one with the metrics


class FinalMetrics(BaseModel):
    """A run's final metrics (`fit_and_score`'s), each None when the run did not measure it: validation scores
    on a final fit on train + validation, test scores outside the confirm phase, `best_epoch` without early
    stopping, `closed_loop_rmse` on a panel, anything a record of an older release lacks.

    The fields are the MLflow contract's final metrics (`pipeline.tracking.contract.Metrics.FINAL`), in its
    order."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    test_mase: float | None = None
    val_mase: float | None = None  # the tune objective (the best epoch's, with early stopping)
    test_rmse: float | None = None
    val_rmse: float | None = None
    test_smape: float | None = None
    closed_loop_rmse: float | None = None
    n_params: float | None = None
    seconds_per_epoch: float | None = None
    train_seconds: float | None = None
    compile_seconds: float | None = None
    epochs_trained: float | None = None
    best_epoch: float | None = None  # 0-based, with early stopping
    train_windows: float | None = None
    steps_per_epoch: float | None = None

    @classmethod
    def of(cls, report: Mapping[str, object]) -> FinalMetrics:
        """The final metrics in a trial's report: each one that is there as a number (not a bool)."""
        return cls(**{name: float(value) for name in cls.model_fields
                      if isinstance(value := report.get(name), int | float) and not isinstance(value, bool)})

    def named(self) -> dict[str, float]:
        """The metrics this run has, by name, in the contract's order (what the tracker logs)."""
        return {name: value for name, value in self if value is not None}

    @property
    def chosen_epochs(self) -> float | None:
        """The epochs a final fit of this configuration trains by this run: early stopping's best epoch + 1, or
        every epoch it trained when it did not stop early."""
        return self.best_epoch + 1 if self.best_epoch is not None else self.epochs_trained


class TrialOutcome(BaseModel):
    """One trial as it ended. `metrics` is None when it left no final report (it failed, or a scheduler stopped it
    before its last epoch)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    job: Job
    status: Status
    error: str | None = None  # one line
    metrics: FinalMetrics | None = None

    @classmethod
    def of(cls, job: Job, status: Status, error: str | None, report: Mapping[str, object] | None) -> TrialOutcome:
        """`report`: the trial's final report (None: it has none)."""
        return cls(job=job, status=status, error=error, metrics=None if report is None else FinalMetrics.of(report))

    @property
    def final(self) -> FinalMetrics | None:
        """The metrics of a run that finished with them (None: it failed, or stopped before it was scored)."""
        return self.metrics if self.status == "FINISHED" else None


def final_report(result: Mapping[str, object] | None) -> Mapping[str, object] | None:
    """A trial's last report if it is its final one (the trainable marks it `FINAL_MARK`), else None."""
    return result if result and result.get(FINAL_MARK) else None
