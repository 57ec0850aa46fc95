"""The outbox's rules, with a push function of our own: no Ray, no MLflow server."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from pipeline.tracking.outbox import Outbox, OutboxConflict

JOB = {"phase": "trial", "dataset": "d", "arch": "gru", "index": 0, "seed": 0, "hidden_size": 8}


class _Store:
    """Records what was pushed, by key."""

    def __init__(self) -> None:
        self.pushed: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def push(self, record: dict[str, Any], maybe_partial: bool) -> None:
        with self.lock:
            self.pushed.append(record)


def _outbox(tmp_path: Path, store: _Store, parent: str = "p1") -> Outbox:
    box = Outbox(tmp_path / "outbox", store.push, parent)
    box.start()
    return box


def _record(**job: Any) -> dict[str, Any]:
    return {"job": {**JOB, **job}, "history": {}, "result": {"val_loss": 1.0}, "status": "FINISHED"}


def test_each_record_is_pushed_once_and_stamped_with_its_parent(tmp_path: Path) -> None:
    store = _Store()
    box = _outbox(tmp_path, store)
    box.put("k0", _record(index=0))
    box.put("k1", _record(index=1))
    assert box.flush(10) == 0
    box.close()
    assert [r["key"] for r in store.pushed] == ["k0", "k1"]
    assert {r["parent"] for r in store.pushed} == {"p1"} and box.done_keys() == {"k0", "k1"}


def test_the_same_run_reported_again_after_it_was_written_is_a_no_op(tmp_path: Path) -> None:
    store = _Store()
    box = _outbox(tmp_path, store)
    box.put("k0", _record())
    assert box.flush(10) == 0
    # a restored phase trains the trial again: other timings and scores, same parent and job
    box.put("k0", {**_record(), "result": {"val_loss": 0.9}})
    assert box.flush(10) == 0
    box.close()
    assert len(store.pushed) == 1


def test_a_known_key_of_another_sweep_is_an_error_naming_both(tmp_path: Path) -> None:
    store = _Store()
    first = _outbox(tmp_path, store, parent="first")
    first.put("k0", _record())
    assert first.flush(10) == 0
    first.close()
    second = _outbox(tmp_path, store, parent="second")  # the same directory, another parent run
    with pytest.raises(OutboxConflict, match="first") as info:
        second.put("k0", _record())
    assert "second" in str(info.value)
    second.close()
    assert len(store.pushed) == 1


def test_a_known_key_with_another_job_is_an_error(tmp_path: Path) -> None:
    store = _Store()
    box = _outbox(tmp_path, store)
    box.put("k0", _record(hidden_size=8))
    with pytest.raises(OutboxConflict, match="k0"):
        box.put("k0", _record(hidden_size=16))  # still pending: replacing it would lose the first
    box.close()


def test_requeued_records_are_pushed_again(tmp_path: Path) -> None:
    store = _Store()
    box = _outbox(tmp_path, store)
    box.put("k0", _record())
    assert box.flush(10) == 0
    box.requeue({"k0"})  # e.g. its run was deleted from MLflow
    assert box.flush(10) == 0
    box.close()
    assert [r["key"] for r in store.pushed] == ["k0", "k0"] and box.done_keys() == {"k0"}


class _SlowStore(_Store):
    """Each push takes `seconds`; the first push of every odd key fails once (the store is away)."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds, self.now, self.peak, self.failed = seconds, 0, 0, set()

    def push(self, record: dict[str, Any], maybe_partial: bool) -> None:
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
        try:
            time.sleep(self.seconds)
            key = record["key"]
            with self.lock:
                if int(key[1:]) % 2 and key not in self.failed:
                    self.failed.add(key)
                    raise ConnectionError("store away")
                self.pushed.append(record)
        finally:
            with self.lock:
                self.now -= 1


def test_several_writers_push_different_records_at_once_and_each_exactly_once(tmp_path: Path) -> None:
    store = _SlowStore(0.2)
    box = Outbox(tmp_path / "outbox", store.push, "p1", writers=4)
    box.start()
    t0 = time.monotonic()
    for i in range(12):
        box.put(f"k{i}", _record(index=i))
    assert box.flush(30) == 0
    elapsed = time.monotonic() - t0
    box.close()
    assert sorted(r["key"] for r in store.pushed) == sorted(f"k{i}" for i in range(12))  # once each
    assert store.peak == 4  # four at once, never the same record twice
    assert box.done_keys() == {f"k{i}" for i in range(12)} and not box.dead()
    # 18 pushes of 0.2 s (6 retried), plus the retries' backoff: one writer needs >= 3.6 s
    assert elapsed < 3.0, elapsed


def test_a_server_gets_four_writers_an_embedded_store_one_and_the_variable_overrides(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.core.errors import TrackingError
    from pipeline.tracking.tracker import WRITERS_ENV, writers_for

    monkeypatch.delenv(WRITERS_ENV, raising=False)
    assert writers_for("http://127.0.0.1:5000") == 4 and writers_for("sqlite:///mlflow.db") == 1
    monkeypatch.setenv(WRITERS_ENV, "2")
    assert writers_for("sqlite:///mlflow.db") == 2
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv(WRITERS_ENV, bad)
        with pytest.raises(TrackingError, match=WRITERS_ENV):
            writers_for("http://127.0.0.1:5000")
