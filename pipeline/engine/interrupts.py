"""Ctrl-C, SIGTERM (what systemd and Kubernetes send to stop a job) and SIGHUP (a closed terminal, a dropped
ssh connection): a graceful stop, then a fast one. Sent to the driver or to its whole process group alike:
the local Ray a sweep starts runs in a session of its own (`pipeline.engine.cluster.LocalHead`).

The first signal stops the sweep where it stands. Inside a Ray Tune phase it is passed on (at Tune's next
loop step) as SIGUSR1, Tune's own "stop and save the experiment state" signal, so running trials stay
unfinished (and `gatesweep resume` reruns them) instead of being counted as done; anywhere else (Ray
starting, the report) it raises `Interrupted` at once. Finished runs are on disk in the outbox either way. A second
signal exits at once.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

NAMES = {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM", signal.SIGHUP: "SIGHUP"}


class Interrupted(BaseException):
    """The user or the scheduler asked the sweep to stop (BaseException: no `except Exception` eats it)."""

    def __init__(self, signum: int) -> None:
        super().__init__(NAMES.get(signal.Signals(signum), str(signum)))
        self.signum = signum
        self.note = ""  # what was kept and how to continue, filled in by the sweep

    @property
    def exit_status(self) -> int:
        return 128 + self.signum  # 130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP, as shells report them


class Interrupts:
    """The process's SIGINT/SIGTERM/SIGHUP handlers while a sweep runs."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._in_tune = False
        self._deferred = 0
        self._forwarded = False
        self.second_note = "interrupted twice: exiting now; finished runs are on disk"
        self._previous_hook = sys.unraisablehook

    def install(self) -> None:
        """(Re)install the handlers: also after Ray starts, which sets handlers of its own."""
        for sig in NAMES:
            signal.signal(sig, self._handle)
        if sys.unraisablehook != self._unraisable:  # bound methods: equal, never identical
            self._previous_hook = sys.unraisablehook
            sys.unraisablehook = self._unraisable

    def _unraisable(self, info: Any) -> None:
        """A signal that lands while Python runs a finalizer or a weakref callback raises `Interrupted` there,
        where Python swallows it and prints a traceback: no traceback (the request is kept in `signum`, and
        the next `check` raises it)."""
        if isinstance(info.exc_value, Interrupted):
            return
        self._previous_hook(info)

    @contextmanager
    def tune_phase(self) -> Iterator[None]:
        """While a Tune phase runs, a first signal asks Tune to stop rather than raising in its loop."""
        self._in_tune = True
        try:
            yield
        finally:
            self._in_tune = False
        self.check()

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """Inside, a first signal is recorded and raised at the end (or at a `check`), not where it lands:
        for calls into Ray, whose C++ core turns an exception raised by a signal handler into a SystemError
        (measured: SIGTERM during the node-code probe's `ray.get` exited 1 with a traceback)."""
        self._deferred += 1
        try:
            yield
        finally:
            self._deferred -= 1
        self.check()

    def check(self) -> None:
        """Raise `Interrupted` if a signal came (e.g. while Tune was stopping)."""
        if self.signum is not None:
            raise Interrupted(self.signum)

    def forward_to_tune(self) -> None:
        """Called from inside Tune's loop (a callback), where Tune's SIGUSR1 handler is surely installed:
        pass a pending stop request on, once."""
        if self.signum is not None and not self._forwarded:
            self._forwarded = True
            os.kill(os.getpid(), signal.SIGUSR1)  # Tune's handler: stop, save the experiment state, return

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:  # the second one: no more waiting
            print(f"{self.second_note} ({NAMES.get(signal.Signals(signum), signum)})", file=sys.stderr, flush=True)
            os._exit(128 + signum)
        self.signum = signum
        if not self._in_tune and not self._deferred:
            raise Interrupted(signum)
        # in a Tune phase: its loop passes the request on (`forward_to_tune`) at its next step


ACTIVE = Interrupts()
