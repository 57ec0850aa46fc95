"""`gatesweep nightly`: a locked, tagged sweep whose report compares itself with earlier nights."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.core.config import SweepSpec
from pipeline.core.data import Panel
from pipeline.core.version import code_version
from pipeline.tracking.contract import Tags

# Exit statuses for schedulers (documented in the README).
EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_LOCKED, EXIT_CHANGED = 0, 1, 2, 3, 4


class LockHeld(RuntimeError):
    """Another nightly run of the same sweep holds the lock."""


@contextmanager
def sweep_lock(path: Path) -> Iterator[str | None]:
    """An exclusive lock per sweep name, held for the whole run.

    `flock` is released by the kernel when its holder dies, so a crashed run never blocks the next
    night; the pid/host/time written inside only serve the messages. Yields a note when the lock was
    taken over from a holder that is gone (its metadata was still there), else None. Use a local disk:
    `flock` on network file systems is not reliable.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(path)
            raise LockHeld(f"{path}: lock held by {holder.get('host', '?')} pid {holder.get('pid', '?')} since "
                           f"{holder.get('since', '?')}; another nightly run of this sweep is in progress") from None
        previous = _read_holder(path)
        took_over = (f"took over a stale lock left by pid {previous['pid']} on {previous.get('host')} "
                     f"(since {previous.get('since')})") if previous.get("pid") else None
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                  "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")}).encode(), 0)
        os.fsync(fd)
        try:
            yield took_over
        finally:
            os.ftruncate(fd, 0)  # a clean exit leaves an empty file: nothing to take over
    finally:
        os.close(fd)  # releases the flock


def lock_path(lock_dir: Path, name: str, home: Path) -> Path:
    """The lock of one sweep's nightly runs: on a local disk (flock is unreliable on network file systems),
    one per sweep name and output home."""
    digest = hashlib.sha256(str(home.resolve()).encode()).hexdigest()[:12]
    return lock_dir / f"{name}-{digest}.lock"


def _read_holder(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text() or "{}")
        return data if isinstance(data, dict) else {}
    except (OSError, json.JSONDecodeError):
        return {}


def fingerprint(series: np.ndarray | Panel) -> str:
    """A short content hash of a dataset's values (and a panel's ids and covariates), so a change of data shows
    up as a changed tag. A single series without covariates hashes its values alone, as before panels."""
    if isinstance(series, Panel):
        first = series.series[0]
        if len(series.series) > 1 or series.covariates != (0, 0):
            return hashlib.sha256(series.fingerprint()).hexdigest()[:16]
        series = first.y
    return hashlib.sha256(np.ascontiguousarray(series, dtype=np.float64).tobytes()).hexdigest()[:16]


def nightly_tags(spec: SweepSpec, series: dict[str, Panel]) -> dict[str, str]:
    tags = {Tags.NIGHTLY: "true", Tags.CODE_VERSION: code_version()}  # also on every parent
    tags |= {Tags.data_of(name): fingerprint(values) for name, values in series.items()}
    return tags
