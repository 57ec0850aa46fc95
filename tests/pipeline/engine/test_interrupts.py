"""The first Ctrl-C / SIGTERM stops a sweep even when it lands where Python cannot raise it."""

from __future__ import annotations

import gc
import signal
import sys
from collections.abc import Iterator

import pytest

from pipeline.engine.interrupts import Interrupted, Interrupts


@pytest.fixture
def interrupts() -> Iterator[tuple[Interrupts, list[BaseException]]]:
    """Handlers installed twice (as a sweep does around Ray's start), over a hook that records what it gets."""
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    hook = sys.unraisablehook
    reached: list[BaseException] = []
    sys.unraisablehook = lambda info: reached.append(info.exc_value)
    ints = Interrupts()
    ints.install()
    ints.install()
    yield ints, reached
    sys.unraisablehook = hook
    for sig, handler in handlers.items():
        signal.signal(sig, handler)


def test_a_signal_raised_inside_a_finalizer_is_raised_again_at_the_next_check(
        interrupts: tuple[Interrupts, list[BaseException]]) -> None:
    ints, reached = interrupts

    class Finalized:  # seen in CI: SIGINT arrived while a weakref callback ran during Ray's start
        def __del__(self) -> None:
            ints._handle(signal.SIGINT, None)

    Finalized()
    gc.collect()
    assert reached == []  # Python swallowed it; no "Exception ignored ... Traceback" on the user's terminal
    with pytest.raises(Interrupted) as raised:
        ints.check()
    assert raised.value.exit_status == 130


def test_other_unraisable_errors_still_reach_the_previous_hook_once(
        interrupts: tuple[Interrupts, list[BaseException]]) -> None:
    ints, reached = interrupts

    class Broken:
        def __del__(self) -> None:
            raise ValueError("a real bug in a finalizer")

    Broken()
    gc.collect()
    assert [type(e) for e in reached] == [ValueError]
    ints.check()  # no signal came: nothing raised
