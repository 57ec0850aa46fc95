"""A finished (or failed) run as the outbox keeps it on disk and the tracker writes it to MLflow.

The Tune callback makes one per trial attempt; the outbox stores its JSON dump (adding `key` and `parent`);
the tracker reads it back through `RunRecord.model_validate`, so a record that is not one (a damaged file, a
record of an incompatible release) is refused once, with the reason, instead of failing deep in a write.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, JsonValue

from pipeline.core.jobs import Job


class RunRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    job: Job
    # per-epoch rows: `epoch`, `loss`, `val_loss`, `epoch_val_mase`, and `time_ms` (when each epoch ended)
    history: dict[str, list[float]]
    result: dict[str, JsonValue] | None  # the trial's final report (metrics, forecasts, node, ...); None: none
    status: Literal["FINISHED", "FAILED", "KILLED"]
    error: str | None = None  # one line
    error_detail: str | None = None  # the worker's traceback, as Tune kept it
    start_ms: int | None = None  # driver-side wall clock
    end_ms: int | None = None
    key: str | None = None  # set by the outbox: the job's key
    parent: str | None = None  # set by the outbox: the sweep's parent run

    def result_float(self, name: str) -> float | None:
        value = (self.result or {}).get(name)
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None

    def result_str(self, name: str) -> str | None:
        value = (self.result or {}).get(name)
        return None if value is None else str(value)
