"""What a running sweep tells the people waiting for it: a line on stderr and the parent run in MLflow.

On a terminal the line is redrawn in place every second; in a log (a scheduler's journal) a new line is
written when a trial ends (at most every `EVENT_GAP_S`) and at least every `HEARTBEAT_S`. The parent run
gets the tag `gatesweep.progress` (`tune 7/16 · select 0/18 · confirm 0/10 · 1 failed`), so a sweep's state
shows in the MLflow UI while it runs; no metrics, which would stay among the parent's final metrics above
the verdict's. Pure: the MLflow side comes in as a callable.
"""

from __future__ import annotations

import logging
import math
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TextIO

log = logging.getLogger("gatesweep")

HEARTBEAT_S = 30.0
EVENT_GAP_S = 5.0
MLFLOW_GAP_S = 10.0
Publish = Callable[[str], None]  # the progress tag -> the parent run


@dataclass
class _Phase:
    total: int
    done: int = 0
    failed: int = 0
    running: int = 0
    started: float | None = None
    best: dict[str, float] = field(default_factory=dict)  # "dataset/arch" -> lowest validation MASE


class Progress:
    def __init__(self, totals: dict[str, int], *, stream: TextIO | None = None, publish: Publish | None = None,
                 tty: bool | None = None) -> None:
        self.phases = {name: _Phase(total) for name, total in totals.items() if total > 0}
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.publish = publish
        self.current: str | None = None
        self.note = ""  # e.g. "starting Ray", "waiting for a node with 1 GPU"
        self.t0 = time.monotonic()
        self._durations: list[float] = []
        self._starts: dict[str, float] = {}
        self._slots = 1
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()  # the beat thread and Tune's loop both write lines
        self._last_line = self._last_event = self._last_publish = 0.0
        self._publish_failed = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="gatesweep-progress", daemon=True)

    # --- events (from Tune's loop on the driver, or the sweep between phases) ---
    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()

    def set_note(self, note: str) -> None:
        with self._lock:
            self.note = note
        self._emit(force=bool(note) or self.tty)

    def phase(self, name: str) -> None:
        with self._lock:
            if name != self.current:  # a further confirm round keeps its note and its clock
                self.current, self.note = name, ""
                if name in self.phases:
                    self.phases[name].started = time.monotonic()
        self._emit(force=True, publish=True)

    def add_round(self, runs: int, note: str) -> None:
        """Another confirm round: `runs` more planned, and what it is for."""
        with self._lock:
            if "confirm" in self.phases:
                self.phases["confirm"].total += runs
            else:
                self.phases["confirm"] = _Phase(runs)
        self.set_note(note)

    def trial_started(self, phase: str, trial_id: str) -> None:
        with self._lock:
            self._starts[trial_id] = time.monotonic()
            if phase in self.phases:
                self.phases[phase].running += 1
                self._slots = max(self._slots, self.phases[phase].running)

    def trial_ended(self, phase: str, trial_id: str, cell: str, val_mase: float | None, failed: bool) -> None:
        with self._lock:
            p = self.phases.get(phase)
            start = self._starts.pop(trial_id, None)
            if start is not None:
                self._durations.append(time.monotonic() - start)
            if p is not None:
                p.running = max(0, p.running - 1)
                if failed:
                    p.failed += 1
                else:
                    p.done += 1
                    if val_mase is not None and val_mase < p.best.get(cell, float("inf")):
                        p.best[cell] = val_mase
        self._emit(event=True, publish=True)

    def already_done(self, keys: set[str], scores: Mapping[str, tuple[str, float]] | None = None) -> None:
        """Count the runs an earlier driver of this sweep finished (a resumed sweep): keys `phase-...`; `scores`
        (key -> cell, validation MASE) of those runs count towards each cell's best as if seen in this session."""
        with self._lock:
            for key in keys:
                phase = {"trial": "tune"}.get(key.split("-", 1)[0], key.split("-", 1)[0])
                if phase in self.phases and "-attempt" not in key and "-param_matched-" not in key:
                    p = self.phases[phase]
                    p.done += 1
                    cell, val_mase = (scores or {}).get(key, ("", math.inf))
                    if val_mase < p.best.get(cell, math.inf):
                        p.best[cell] = val_mase

    def trained(self) -> None:
        """A resumed sweep whose training was over: the count is what was done (a total planned from the
        sweep file knows nothing of the confirm rounds after the first)."""
        with self._lock:
            for p in self.phases.values():
                p.total = max(p.total, p.done)

    def trial_retried(self, phase: str, trial_id: str) -> None:
        with self._lock:
            if phase in self.phases:
                self.phases[phase].failed += 1

    # --- the line ---
    def summary(self) -> str:
        """`tune 7/16 · select 0/18 · confirm 0/10 · 1 failed` (the MLflow tag)."""
        parts = [f"{name} {p.done}/{p.total}" for name, p in self.phases.items()]
        failed = sum(p.failed for p in self.phases.values())
        return " · ".join(parts + ([f"{failed} failed"] if failed else []))

    def line(self) -> str:
        with self._lock:
            elapsed = time.monotonic() - self.t0
            p = self.phases.get(self.current or "")
            head = f"{self.current or 'starting'}"
            if p is not None:
                head += f" {p.done}/{p.total}, {p.running} running" + (f", {p.failed} failed" if p.failed else "")
            best = ""
            if p is not None and p.best:
                best = " · best val MASE " + ", ".join(f"{c} {v:.3g}" for c, v in sorted(p.best.items()))
            note = f" · {self.note}" if self.note else ""
            # every phase's count, unless the head already says all of it (a sweep with one phase)
            others = set(self.phases) - {self.current}
            summary = f" · {self.summary()}" if others or p is None else ""
            return f"gatesweep: {head}{best}{note} · {_clock(elapsed)} elapsed · {self._eta()}{summary}"

    def _eta(self) -> str:
        remaining = sum(p.total - p.done - p.failed for p in self.phases.values())
        if remaining <= 0:
            return "finishing"
        if not self._durations:
            return "time left: estimating"
        mean = sum(self._durations) / len(self._durations)
        return f"~{_clock(remaining * mean / self._slots)} left"

    def _emit(self, *, force: bool = False, event: bool = False, publish: bool = False) -> None:
        with self._write_lock:
            self._emit_locked(force, event, publish)

    def _emit_locked(self, force: bool, event: bool, publish: bool) -> None:
        now = time.monotonic()
        if self.tty:
            if force or event or now - self._last_line >= 1.0:
                self.stream.write("\r\033[K" + self.line())
                self.stream.flush()
                self._last_line = now
        elif force or (event and now - self._last_event >= EVENT_GAP_S) or now - self._last_line >= HEARTBEAT_S:
            self.stream.write(self.line() + "\n")
            self.stream.flush()
            self._last_line = now
            if event:
                self._last_event = now
        if self.publish is not None and (force or now - self._last_publish >= MLFLOW_GAP_S
                                         or (publish and now - self._last_publish >= EVENT_GAP_S)):
            self._last_publish = now
            self._push()

    def _push(self) -> None:
        assert self.publish is not None
        try:
            self.publish(self.summary())
        except Exception as exc:  # progress is a courtesy: a store hiccup must not stop the sweep; say it once
            if not self._publish_failed:
                log.warning("could not update the parent run's progress in MLflow (%s); the sweep goes on", exc)
            self._publish_failed = True

    def _beat(self) -> None:
        while not self._stop.wait(1.0):
            self._emit()


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


CURRENT: Progress | None = None  # the running sweep's progress (Tune callbacks restored from disk find it here)
