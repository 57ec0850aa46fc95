"""A sweep's state file (`sweep_state.json` in its own directory): what `resume` and `sync` continue from,
and the layout of a sweep's home directory (one directory per sweep run, `latest` pointing to the newest).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from pipeline.core.config import SweepSpec
from pipeline.core.errors import BadReference

STATE_FILE = "sweep_state.json"
LATEST = "latest"  # in a sweep's home directory: a symlink to its newest run directory
REPORT_ERROR = "report-error.txt"  # in a sweep's directory: the traceback of a report that failed

# tune -> select -> confirm -> trained (every run in MLflow's hands) -> done (report made, parent finished)
# where a sweep is: a phase of training (its runs have the role trial, select or confirm, `pipeline.core.jobs`),
# every run trained (`trained`: the report is next), `done`, or `report_failed` (parent finished, no report:
# `gatesweep resume` builds it)
SweepPhase = Literal["tune", "select", "confirm", "trained", "done", "report_failed"]
ENDED: tuple[SweepPhase, ...] = ("done", "report_failed")  # nothing left to train or to write to MLflow


class SweepState(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    tracking_uri: str
    experiment: str
    parent_run_id: str
    phase: SweepPhase
    spec_path: str
    spec: SweepSpec
    seconds: dict[str, float] = {}
    confirm_rounds: list[list[str]] = []  # the datasets each confirm round trains, saved before it starts
    confirm_stop: Literal["max_minutes"] | None = None  # why no further round was started, when not decided
    mlflow_calls_by_method: dict[str, list[float]] = {}

    @model_validator(mode="before")
    @classmethod
    def _before_rounds(cls, data: Any) -> Any:
        """A state written before confirm rounds existed (no `seeds_per_round` in its spec) resumes as it
        was started: a fixed number of confirm seeds."""
        spec = data.get("spec") if isinstance(data, dict) else None
        confirm = spec.get("confirm") if isinstance(spec, dict) else None
        if isinstance(confirm, dict) and "seeds_per_round" not in confirm:
            data = {**data, "spec": {**data["spec"], "confirm": {**confirm, "max_seeds": confirm.get("seeds", 5)}}}
        return data

    def save(self, out_dir: Path) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        tmp = out_dir / (STATE_FILE + ".tmp")
        tmp.write_text(self.model_dump_json(indent=2), encoding="utf-8")
        os.replace(tmp, out_dir / STATE_FILE)  # atomic: a killed driver leaves the old state or the new

    @classmethod
    def load(cls, out_dir: Path) -> SweepState:
        """Raises:
            BadReference: the file is not a state file this version of gatesweep wrote.
        """
        path = out_dir / STATE_FILE
        try:
            return cls.model_validate_json(path.read_text(encoding="utf-8"))
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "(top level)"
            raise BadReference(f"{path}: {where}: not a gatesweep sweep state ({err['msg']})") from None


def new_run_dir(home: Path, parent_run_id: str, prefix: str = "") -> Path:
    """A directory of its own for one sweep under `home` (outbox, Ray results, state, report), named by its
    UTC start and parent run, so two sweeps never share any of them; `home/latest` then points to it."""
    name = f"{prefix}{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{parent_run_id[:8]}"
    run_dir = home / name
    run_dir.mkdir(parents=True)
    tmp = home / f".{LATEST}-{os.getpid()}"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(name)  # relative: the home can be moved or mounted elsewhere
    os.replace(tmp, home / LATEST)  # atomic: readers see the old sweep or the new one
    return run_dir


def unwritable(home: Path) -> str | None:
    """Why a sweep could not make its directory under `home` (a file in the way, no write permission, a
    read-only file system), or None. Creates nothing: it is asked before anything starts."""
    path = home.absolute()
    for candidate in (path, *path.parents):
        if candidate.exists():
            if not candidate.is_dir():
                return f"{candidate} is a file, not a directory"
            if not os.access(candidate, os.W_OK | os.X_OK):
                return f"cannot write in {candidate} (no permission, or a read-only file system)"
            return None
    return None


def sweep_of(directory: Path) -> Path | None:
    """The sweep directory a path stands for: itself (it holds a state file) or its `latest` sweep."""
    for candidate in (directory, directory / LATEST):
        if (candidate / STATE_FILE).exists():
            return candidate.resolve()
    return None


def unfinished(home: Path) -> tuple[Path, SweepState] | None:
    """The sweep under `home` that has not reached its end (its driver is running or died), if any. A sweep
    whose report failed has ended: a new one may start beside it, and `gatesweep resume` still builds its report."""
    found = sweep_of(home)
    if found is None:
        return None
    state = SweepState.load(found)
    return None if state.phase in ENDED else (found, state)
