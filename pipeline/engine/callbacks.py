"""Ray Tune callbacks on the driver: every finished or failed trial into the outbox, progress as it goes.

Ray pickles a run's callbacks into its experiment state (`tuner.pkl`); a restored phase gets them back
without their live parts (the outbox's thread, the progress line), which they find again through the
module-level registries the resuming process fills (`Outbox.for_dir`, `progress.CURRENT`).
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from ray import tune

from pipeline.core.jobs import Job
from pipeline.core.outcome import FinalMetrics, Status, TrialOutcome, final_report
from pipeline.engine import progress as progress_module
from pipeline.engine.interrupts import ACTIVE
from pipeline.tracking.outbox import Outbox
from pipeline.tracking.records import RunRecord

_EMPTY_HISTORY = ("epoch", "loss", "val_loss")


class OutboxCallback(tune.Callback):
    """Buffers each trial's per-epoch history; when the trial ends, one record goes to the outbox (on disk
    at once, in MLflow as soon as the store takes it). Tune never waits on HTTP."""

    def __init__(self, outbox: Outbox) -> None:
        self._outbox, self.outbox_dir = outbox, str(outbox.directory)
        self.history: dict[str, dict[str, list[float]]] = {}
        self.started: dict[str, int] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_outbox": None}

    @property
    def outbox(self) -> Outbox:
        if self._outbox is None:
            self._outbox = Outbox.for_dir(Path(self.outbox_dir))
        return self._outbox

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.started.setdefault(trial.trial_id, int(time.time() * 1000))

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        hist = self.history.setdefault(trial.trial_id, {k: [] for k in _EMPTY_HISTORY})
        for k, v in result.get("history", {}).items():
            hist.setdefault(k, []).extend(v)

    def on_trial_recover(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        """A failed attempt that Tune will retry: recorded as its own FAILED run, then forgotten. Its number
        is Ray's own failure count (kept in the experiment state), so a resumed sweep never reuses one."""
        self._log(trial, "FAILED", attempt=trial.num_failures - 1)

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._log(trial, "FINISHED")

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._log(trial, "FAILED")

    def _log(self, trial: Any, status: Status, attempt: int | None = None) -> None:
        job = Job.from_config(trial.config)
        if attempt is not None:  # a retried attempt: its own run, its own key
            job = job.model_copy(update={"attempt": attempt})
        report = final_report(trial.last_result)
        if report is None and status == "FINISHED":  # stopped by the scheduler before its last epoch
            job = job.model_copy(update={"stopped_early": True})
        hist = self.history.pop(trial.trial_id, {k: [] for k in _EMPTY_HISTORY})
        error, detail = error_of(trial) if status == "FAILED" else (None, None)
        record = RunRecord.from_outcome(TrialOutcome.of(job, status, error, report), report, history=hist,
                                        error_detail=detail, start_ms=self.started.pop(trial.trial_id, None),
                                        end_ms=int(time.time() * 1000))
        self.outbox.put(job.key, record.model_dump(mode="json", exclude={"key", "parent"}))


class ProgressCallback(tune.Callback):
    """Feeds the progress line and passes a pending Ctrl-C/SIGTERM on to Tune at its next loop step."""

    def __init__(self, phase: str) -> None:
        self.phase = phase

    def on_step_begin(self, iteration: int, trials: list, **info: Any) -> None:
        ACTIVE.forward_to_tune()

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        if (p := progress_module.CURRENT) is not None:
            p.trial_started(self.phase, trial.trial_id)

    def on_trial_recover(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        if (p := progress_module.CURRENT) is not None:
            p.trial_retried(self.phase, trial.trial_id)

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._ended(trial, failed=False)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._ended(trial, failed=True)

    def _ended(self, trial: Any, failed: bool) -> None:
        if (p := progress_module.CURRENT) is None:
            return
        job = Job.from_config(trial.config)
        report = final_report(trial.last_result)
        score = None if report is None else FinalMetrics.of(report).val_mase
        p.trial_ended(self.phase, trial.trial_id, f"{job.dataset}/{job.arch}", score, failed)


_MARK = re.compile(r"TrialFailed: (.+)")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def error_of(trial: Any) -> tuple[str, str]:
    """A failed attempt's one-line error and its whole story: Tune's record of the latest failure (the
    worker's traceback, and the worker's last output when the trainable caught the error itself)."""
    path = getattr(trial, "error_file", None)
    if not path or not Path(path).exists():
        return "unknown error (Ray kept no error file)", "unknown error (Ray kept no error file)"
    text = _ANSI.sub("", Path(path).read_text(errors="replace"))  # Ray colours its worker names
    latest = text[text.rfind("Failure # "):] if "Failure # " in text else text
    marked = _MARK.search(latest)
    lines = [ln for ln in latest.strip().splitlines() if ln.strip()]
    line = marked.group(1).strip() if marked else (lines[-1] if lines else "unknown error")
    return line, latest.strip()
