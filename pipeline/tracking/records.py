"""A finished (or failed) run as the outbox keeps it on disk and the tracker writes it to MLflow.

The Tune callback makes one per trial attempt; the outbox stores its JSON dump (adding `key` and `parent`);
the tracker reads it back through `RunRecord.model_validate`, so a record that is not one (a damaged file, a
record of an incompatible release) is refused once, with the reason, instead of failing deep in a write.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

from pydantic import Field, JsonValue, model_validator

from pipeline.core.outcome import FinalMetrics, TrialOutcome


class RunRecord(TrialOutcome):
    """A trial's outcome (job, status, error line, typed final metrics) and what its child run logs besides."""

    # per-epoch rows: `epoch`, `loss`, `val_loss`, `epoch_val_mase`, and `time_ms` (when each epoch ended)
    history: dict[str, list[float]]
    # the rest of the trial's final report: forecasts, the kept network, node, code version, Ray's bookkeeping
    extra: dict[str, JsonValue] = Field(default_factory=dict)
    error_detail: str | None = None  # the worker's traceback, as Tune kept it
    start_ms: int | None = None  # driver-side wall clock
    end_ms: int | None = None
    key: str | None = None  # set by the outbox: the job's key
    parent: str | None = None  # set by the outbox: the sweep's parent run

    @classmethod
    def from_outcome(cls, outcome: TrialOutcome, report: Mapping[str, object] | None, *,
                     history: dict[str, list[float]], error_detail: str | None = None, start_ms: int | None = None,
                     end_ms: int | None = None) -> RunRecord:
        """`outcome` with the rest of its final `report` (None: none) and the run's history, detail and times."""
        return cls(**dict(outcome), extra=report_rest(report), history=history, error_detail=error_detail,
                   start_ms=start_ms, end_ms=end_ms)

    @model_validator(mode="before")
    @classmethod
    def _typed_result(cls, data: object) -> object:
        """A record written before outcomes were typed (in the outbox of a sweep interrupted before an upgrade)
        holds the whole final report as `result`: its metrics become `metrics`, the rest `extra`. (A `result` that
        is not a report is left in place, so the record is refused like any other that is not one.)"""
        if isinstance(data, dict) and "result" in data and isinstance(data["result"], dict | None):
            data = dict(data)
            report = data.pop("result")
            data["metrics"] = None if report is None else FinalMetrics.of(report)
            data["extra"] = report_rest(report)
        return data

    def extra_str(self, name: str) -> str | None:
        value = self.extra.get(name)
        return None if value is None else str(value)


def report_rest(report: Mapping[str, object] | None) -> dict[str, JsonValue]:
    """What a final report holds besides its final metrics, for the child run: the values JSON can keep."""
    rest = {k: v for k, v in (report or {}).items() if k not in FinalMetrics.model_fields
            and (v is None or isinstance(v, str | int | float | bool | list | dict))}
    return cast(dict[str, JsonValue], rest)  # the model validates the values inside lists and dicts
