"""Errors the command line maps to exit statuses; here so the CLI can catch them without importing
MLflow or Ray."""

from typing import Any


class UsageError(Exception):
    """Bad command-line input; the message is the one line to print: exit 2."""


class TrackingError(RuntimeError):
    """The tracking store cannot be reached or refuses writes (before anything started): exit 2."""


class StoreUnavailable(RuntimeError):
    """The sweep finished on Ray but MLflow did not take every result; they are kept on disk: exit 1."""


class SweepFailed(RuntimeError):
    """The sweep cannot go on (a cell where every run failed, a phase that ended short): exit 1."""


class BaselineWorkerDied(SweepFailed):
    """A process fitting baselines ended without its results (killed: a signal to the process group, the
    out-of-memory killer): exit 1, nothing was started."""


class IncompleteSweep(RuntimeError):
    """A sweep's child runs are not all in MLflow (or there are none), so no verdict is made: exit 1."""


class BadReference(ValueError):
    """A run id, tracking store or directory named on the command line does not lead to a sweep: exit 2."""


class OffContract(ValueError):
    """Runs in MLflow that do not follow the MLflow contract (a missing metric or tag, a param that is not a
    number): one line naming the run and what it lacks, exit 2."""


class ReportNotPublished(RuntimeError):
    """The report was written locally but the tracking server refused to take it (no write permission).
    Carries the verdict (a `pipeline.verdict.model.Verdict`), so nothing needs computing again."""

    def __init__(self, why: str, verdict: Any) -> None:
        super().__init__(why)
        self.verdict = verdict


class ReportFailed(RuntimeError):
    """Building a sweep's report failed after its training finished: the message is one line naming the
    step and the error, `note` what happened to the sweep and how to build the report again. The sweep exits 1
    with that line and no traceback, its parent run stays FINISHED with the tag `gatesweep.report_failed`, and
    `gatesweep report` / `gatesweep resume` build the report once the cause is fixed."""

    def __init__(self, stage: str, error: BaseException) -> None:
        words = " ".join(str(error).split())  # one line, whatever the error's own layout (pydantic's is several)
        text = f"{type(error).__name__}: {words}" if words else type(error).__name__
        super().__init__(f"{stage} failed: {text[:400]}")
        self.stage = stage
        # what the error itself says to do (a model upload kept for `gatesweep sync`), never cut with its text
        self.note = str(getattr(error, "note", "") or "")
