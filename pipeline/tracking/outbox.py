"""A durable outbox between Ray Tune and MLflow: finished runs are written to disk first, then pushed.

Why: a tracking server that restarts (or never comes back) must not lose a finished trial, and the
Tune driver must not wait on HTTP. Each record is a JSON file in `pending/`; background writer threads
push it and move it to `done/` once MLflow holds the whole run. A record is one run, written wholly by one
thread, so several writers keep each run's order (create, rows, status last) and only interleave runs.
Records carry a deterministic key, and the push is idempotent, so a retry or a later `gatesweep sync`
never duplicates.

How failures are handled:
- the store is unreachable or overloaded (a connection error, a 5xx, a timeout): every record waits,
  with exponential backoff that new records do not cut short, and is retried until the store is back;
- the store refuses a record (a 4xx other than 408/429) `MAX_REFUSALS` times, or its file cannot be
  read: it moves to `dead/` with the reason, and the records behind it go on (`gatesweep sync` tries
  the dead ones again once the cause is fixed);
- a failing record goes to the back of the queue, so one bad record never blocks the others;
- if a writer thread itself dies, `flush` returns at once with the reason instead of waiting it out.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipeline.tracking.records import RunRecord

log = logging.getLogger("gatesweep.outbox")

BACKOFF_START_S, BACKOFF_MAX_S = 0.5, 15.0
FLUSH_TIMEOUT_S = float(os.environ.get("GATESWEEP_MLFLOW_FLUSH_TIMEOUT_S", "120"))  # the longest wait for MLflow
MAX_REFUSALS = 3
# Live outboxes by directory: Ray pickles Tune callbacks, which therefore keep only the directory and
# find the running outbox here when a phase is restored in a new process.
_OPEN: dict[str, Outbox] = {}


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, path)  # atomic: a crash leaves the old file or the new one, never half of one


class OutboxConflict(RuntimeError):
    """A record's key is taken by a different run (another sweep, or another job of this one)."""


class CorruptRecord(ValueError):
    """A record that can never be written as it is (unreadable file, not a valid job)."""


def _identity(record: dict[str, Any]) -> tuple[Any, str]:
    """What makes two records the same run: the parent run and the job (not timings or scores, which
    differ when a trial is trained again after a restore)."""
    return record.get("parent"), json.dumps(record.get("job"), sort_keys=True)


def failure_kind(exc: BaseException) -> str:
    """`corrupt` (never retried), `refused` (the store says no: retried a few times) or `transient`."""
    if isinstance(exc, CorruptRecord | json.JSONDecodeError | UnicodeDecodeError):
        return "corrupt"
    status = getattr(exc, "get_http_status_code", None)
    if callable(status):  # an MlflowException: the server's answer, or a client-side validation error
        try:
            code = int(status())
        except (TypeError, ValueError):
            return "transient"
        return "refused" if 400 <= code < 500 and code not in (408, 429) else "transient"
    return "transient"


def _one_line(exc: BaseException) -> str:
    text = str(exc).splitlines()[0][:300] if str(exc) else ""
    return f"{exc.__class__.__name__}: {text}"


class Outbox:
    """Pending, done and dead records under `directory`, pushed by `writers` background threads."""

    def __init__(self, directory: Path, push: Callable[[dict[str, Any], bool], object], parent: str,
                 writers: int = 1) -> None:
        """`push(record, maybe_partial)` writes one record to MLflow; `maybe_partial` asks it to look
        for (and clean up) an earlier, interrupted attempt first. `parent` is the sweep's parent run id,
        stamped on every record so that two sweeps' records can never be taken for each other. `writers`
        threads push at once (each a different record); `push` must be safe to call from several threads."""
        self.directory, self.parent = directory, parent
        self.pending_dir, self.done_dir, self.dead_dir = directory / "pending", directory / "done", directory / "dead"
        for d in (self.pending_dir, self.done_dir, self.dead_dir):
            d.mkdir(parents=True, exist_ok=True)
        self._push = push
        self._cond = threading.Condition()
        self._queue: list[str] = []  # every record not yet done or dead, those being pushed included
        self._inflight: set[str] = set()  # being pushed by a writer now
        self.writers = max(1, writers)
        self._fresh: set[str] = set()  # keys put by this process and never attempted: no cleanup needed
        self._refusals: dict[str, int] = {}
        self._not_before = 0.0  # monotonic time before which nothing is attempted (backoff)
        self._backoff = BACKOFF_START_S
        self._stop = False
        self._threads: list[threading.Thread] = []
        self.last_error: str | None = None
        self.crashed: str | None = None  # why the writer thread died, if it did
        self.cpu_seconds = 0.0  # CPU time of the writer threads in pushes (what MLflow costs this process)

    def put(self, key: str, record: dict[str, Any]) -> None:
        """Persist a record, then queue it. Returns once it is safe on disk.

        A key already done is the same run reported again (a resumed phase re-reporting a trial whose
        record reached MLflow just before the driver died): a no-op when it names the same parent run
        and job. Anything else under a known key is a different run, and dropping it would lose it.

        Raises:
            OutboxConflict: the key is already taken by a different run.
        """
        record = {**record, "parent": self.parent}
        with self._cond:  # the writer moves files under the same lock: a record is never seen in neither place
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
            if key not in self._queue:
                self._queue.append(key)
                self._fresh.add(key)
            self._cond.notify_all()

    def load_pending(self, *, dead: bool = False) -> int:
        """Queue records left on disk by an earlier process (sync / resume), and with `dead` also the
        records MLflow refused before (their cause may be fixed). Returns how many are queued."""
        if dead:
            for path in sorted(self.dead_dir.glob("*.json")):
                os.replace(path, self.pending_dir / path.name)
                path.with_suffix(".reason").unlink(missing_ok=True)
        keys = sorted(p.stem for p in self.pending_dir.glob("*.json"))
        with self._cond:
            for key in keys:
                if key not in self._queue:
                    self._queue.append(key)
            self._cond.notify_all()
        return len(keys)

    def queued_keys(self) -> list[str]:
        """Keys of the records not yet in MLflow (being pushed, waiting, or backing off)."""
        with self._cond:
            return list(self._queue)

    def done_keys(self) -> set[str]:
        """Keys of every record this outbox has written to MLflow."""
        return {p.stem for p in self.done_dir.glob("*.json")}

    def scores(self) -> dict[str, tuple[str, float]]:
        """Key -> ("dataset/arch", validation MASE) of every finished record kept here, done or pending (what a
        resumed sweep's progress line counts towards each cell's best)."""
        out = {}
        for path in [*self.done_dir.glob("*.json"), *self.pending_dir.glob("*.json")]:
            try:
                record = RunRecord.model_validate_json(path.read_bytes())
            except (OSError, ValueError):  # pydantic's ValidationError is a ValueError
                continue  # a damaged record: the outbox reports it when it is written, not here
            value = record.final.val_mase if record.final is not None else None
            if value is not None and math.isfinite(value):
                out[path.stem] = (f"{record.job.dataset}/{record.job.arch}", value)
        return out

    def dead(self) -> dict[str, str]:
        """Records MLflow refused (or that could not be read), with the reason for each."""
        return {p.stem: (p.with_suffix(".reason").read_text(encoding="utf-8") if p.with_suffix(".reason").exists()
                         else "unknown") for p in sorted(self.dead_dir.glob("*.json"))}

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
        for i in range(self.writers):
            thread = threading.Thread(target=self._run_guarded, name=f"gatesweep-outbox-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def flush(self, timeout_s: float) -> int:
        """Wait until every record is pushed (or dead) or `timeout_s` passes; returns the number still
        pending. Returns at once if the writer thread died (`crashed` says why)."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self._queue and time.monotonic() < deadline and self.crashed is None:
                self._cond.wait(timeout=min(1.0, max(0.0, deadline - time.monotonic())))
            return len(self._queue)

    def close(self) -> None:
        _OPEN.pop(str(self.directory.resolve()), None)
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout=30)

    def _run_guarded(self) -> None:
        try:
            self._run()
        except BaseException as exc:  # a bug, not a store error: say so, and let flush() stop waiting
            self.crashed = self.last_error = f"the MLflow writer thread died ({_one_line(exc)})"
            log.error("%s; unwritten records stay in %s", self.crashed, self.pending_dir)
            with self._cond:
                self._cond.notify_all()

    def _next(self) -> tuple[str, bool] | None:
        """The next key no writer holds (None: stop), waiting for work and for any backoff to pass."""
        with self._cond:
            while not self._stop:
                wait = self._not_before - time.monotonic()
                free = next((k for k in self._queue if k not in self._inflight), None)
                if free is not None and wait <= 0:
                    self._inflight.add(free)
                    return free, free in self._fresh
                # new records do not cut a backoff short; a finished push wakes the others
                self._cond.wait(timeout=wait if free is not None else None)
            return None

    def _run(self) -> None:
        while (item := self._next()) is not None:
            key, fresh = item
            path = self.pending_dir / f"{key}.json"
            cpu0 = time.thread_time()
            try:
                try:
                    record = json.loads(path.read_text(encoding="utf-8"))
                except (OSError, ValueError) as exc:
                    raise CorruptRecord(f"cannot read {path.name} ({_one_line(exc)})") from exc
                self._push(record, not fresh)
            except Exception as exc:  # any store or transport error: keep the record
                self._failed(key, exc)
                continue
            finally:
                with self._cond:
                    self.cpu_seconds += time.thread_time() - cpu0
            with self._cond:
                self._inflight.discard(key)
                os.replace(path, self.done_dir / f"{key}.json")
                self._backoff, self._not_before = BACKOFF_START_S, 0.0
                self._queue.remove(key)
                self._fresh.discard(key)
                self._refusals.pop(key, None)
                self._cond.notify_all()

    def _failed(self, key: str, exc: Exception) -> None:
        kind = failure_kind(exc)
        self.last_error = _one_line(exc)
        with self._cond:
            self._inflight.discard(key)
            self._fresh.discard(key)  # the failed attempt may have written part of the run
            self._queue.remove(key)
            if kind != "transient":
                self._refusals[key] = self._refusals.get(key, 0) + 1
            if kind == "corrupt" or self._refusals.get(key, 0) >= MAX_REFUSALS:
                self._bury(key, f"{kind}: {self.last_error}")
                self._cond.notify_all()
                return
            self._queue.append(key)  # to the back: one bad record never blocks the ones behind it
            if kind == "transient":  # the store is away: everyone waits
                log.warning("MLflow write of %s failed (%s); retrying in %.1f s", key, self.last_error,
                            self._backoff)
                self._not_before = time.monotonic() + self._backoff
                self._backoff = min(self._backoff * 2, BACKOFF_MAX_S)
            else:
                log.warning("MLflow refused %s (%s); attempt %d of %d", key, self.last_error, self._refusals[key],
                            MAX_REFUSALS)

    def _bury(self, key: str, reason: str) -> None:
        src = self.pending_dir / f"{key}.json"
        if src.exists():
            os.replace(src, self.dead_dir / f"{key}.json")
        (self.dead_dir / f"{key}.reason").write_text(reason, encoding="utf-8")
        self._refusals.pop(key, None)
        log.error("MLflow write of %s given up (%s); the record is kept in %s", key, reason, self.dead_dir)
