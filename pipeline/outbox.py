"""A durable outbox between Ray Tune and MLflow: finished runs are written to disk first, then pushed.

Why: a tracking server that restarts (or never comes back) must not lose a finished trial, and the
Tune driver must not wait on HTTP. Each record is a JSON file in `pending/`; a background thread pushes
it with exponential backoff and moves it to `done/` once MLflow holds the whole run. Records carry a
deterministic key, and the push is idempotent, so a retry or a later `gatesweep sync` never duplicates.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger("gatesweep.outbox")

BACKOFF_START_S, BACKOFF_MAX_S = 0.5, 15.0
# Live outboxes by directory: Ray pickles Tune callbacks, which therefore keep only the directory and
# find the running outbox here when a phase is restored in a new process.
_OPEN: dict[str, Outbox] = {}


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, path)  # atomic: a crash leaves the old file or the new one, never half of one


class OutboxConflict(RuntimeError):
    """A record's key is taken by a different run (another sweep, or another job of this one)."""


def _identity(record: dict[str, Any]) -> tuple[Any, str]:
    """What makes two records the same run: the parent run and the job (not timings or scores, which
    differ when a trial is trained again after a restore)."""
    return record.get("parent"), json.dumps(record.get("job"), sort_keys=True)


class Outbox:
    """Pending and done records under `directory`, pushed by one background thread."""

    def __init__(self, directory: Path, push: Callable[[dict[str, Any], bool], None], parent: str) -> None:
        """`push(record, maybe_partial)` writes one record to MLflow; `maybe_partial` asks it to look
        for (and clean up) an earlier, interrupted attempt first. `parent` is the sweep's parent run id,
        stamped on every record so that two sweeps' records can never be taken for each other."""
        self.directory, self.parent = directory, parent
        self.pending_dir, self.done_dir = directory / "pending", directory / "done"
        self.pending_dir.mkdir(parents=True, exist_ok=True)
        self.done_dir.mkdir(parents=True, exist_ok=True)
        self._push = push
        self._cond = threading.Condition()
        self._queue: list[str] = []
        self._fresh: set[str] = set()  # keys put by this process and never attempted: no cleanup needed
        self._stop = False
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None
        self.cpu_seconds = 0.0  # CPU time of the writer thread in pushes (what MLflow costs this process)

    def put(self, key: str, record: dict[str, Any]) -> None:
        """Persist a record, then queue it. Returns once it is safe on disk.

        A key already done is the same run reported again (a resumed phase re-reporting a trial whose
        record reached MLflow just before the driver died): a no-op when it names the same parent run
        and job. Anything else under a known key is a different run, and dropping it would lose it.

        Raises:
            OutboxConflict: the key is already taken by a different run.
        """
        record = {**record, "parent": self.parent}
        for known in (self.done_dir / f"{key}.json", self.pending_dir / f"{key}.json"):
            if known.exists():
                old = json.loads(known.read_text(encoding="utf-8"))
                if _identity(old) != _identity(record):
                    raise OutboxConflict(f"{known}: record {key!r} belongs to parent run {old.get('parent')} "
                                         f"({_identity(old)[1]}); refusing to replace or drop it for parent run "
                                         f"{record.get('parent')} ({_identity(record)[1]})")
                if known.parent == self.done_dir:
                    log.info("%s is already in MLflow; the repeated report is not written again", key)
                    return
        _write_json(self.pending_dir / f"{key}.json", {"key": key, **record})
        with self._cond:
            if key not in self._queue:
                self._queue.append(key)
                self._fresh.add(key)
            self._cond.notify_all()

    def load_pending(self) -> int:
        """Queue records left on disk by an earlier process (sync / resume). Returns how many."""
        keys = sorted(p.stem for p in self.pending_dir.glob("*.json"))
        with self._cond:
            for key in keys:
                if key not in self._queue:
                    self._queue.append(key)
            self._cond.notify_all()
        return len(keys)

    def done_keys(self) -> set[str]:
        """Keys of every record this outbox has written to MLflow."""
        return {p.stem for p in self.done_dir.glob("*.json")}

    def requeue(self, keys: set[str]) -> None:
        """Push done records again (their runs are missing from MLflow); the push is idempotent."""
        for key in sorted(keys):
            os.replace(self.done_dir / f"{key}.json", self.pending_dir / f"{key}.json")
        self.load_pending()

    @classmethod
    def for_dir(cls, directory: Path) -> Outbox:
        try:
            return _OPEN[str(directory.resolve())]
        except KeyError:
            raise RuntimeError(f"no open outbox for {directory}; the sweep must open it before Tune runs") from None

    def start(self) -> None:
        _OPEN[str(self.directory.resolve())] = self
        self._thread = threading.Thread(target=self._run, name="gatesweep-outbox", daemon=True)
        self._thread.start()

    def flush(self, timeout_s: float) -> int:
        """Wait until every record is pushed or `timeout_s` passes; returns the number still pending."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self._queue and time.monotonic() < deadline:
                self._cond.wait(timeout=min(1.0, max(0.0, deadline - time.monotonic())))
            return len(self._queue)

    def close(self) -> None:
        _OPEN.pop(str(self.directory.resolve()), None)
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        backoff = BACKOFF_START_S
        while True:
            with self._cond:
                while not self._queue and not self._stop:
                    self._cond.wait()
                if self._stop:
                    return
                key = self._queue[0]
                fresh = key in self._fresh
            path = self.pending_dir / f"{key}.json"
            cpu0 = time.thread_time()
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
                self._push(record, not fresh)
            except Exception as exc:  # any store or transport error: keep the record, back off, retry
                self.last_error = f"{exc.__class__.__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
                log.warning("MLflow write of %s failed (%s); retrying in %.1f s", key, self.last_error, backoff)
                with self._cond:
                    self._fresh.discard(key)  # the failed attempt may have written part of the run
                    self._cond.wait(timeout=backoff)
                backoff = min(backoff * 2, BACKOFF_MAX_S)
                continue
            finally:
                self.cpu_seconds += time.thread_time() - cpu0
            os.replace(path, self.done_dir / f"{key}.json")
            backoff = BACKOFF_START_S
            with self._cond:
                self._queue.remove(key)
                self._fresh.discard(key)
                self._cond.notify_all()
