"""The outbox under failure: refused records go to dead/, outages back off, the writer's death is seen.

Push functions that fail on purpose; no Ray, no MLflow server.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE, TEMPORARILY_UNAVAILABLE

from pipeline.tracking import outbox as outbox_module
from pipeline.tracking.outbox import MAX_REFUSALS, Outbox, failure_kind

JOB = {"phase": "trial", "dataset": "d", "arch": "gru", "index": 0, "seed": 0}


def _record(index: int) -> dict[str, Any]:
    return {"job": {**JOB, "index": index}, "history": {}, "result": None, "status": "FINISHED"}


class _Store:
    def __init__(self, fail: Any = None) -> None:
        self.fail, self.calls, self.pushed = fail, [], []
        self.lock = threading.Lock()

    def push(self, record: dict[str, Any], maybe_partial: bool) -> None:
        with self.lock:
            self.calls.append((record["key"], time.monotonic()))
        if self.fail is not None and (err := self.fail(record)) is not None:
            raise err
        with self.lock:
            self.pushed.append(record["key"])


def test_failures_are_classified() -> None:
    assert failure_kind(MlflowException("no", error_code=INVALID_PARAMETER_VALUE)) == "refused"
    assert failure_kind(MlflowException("busy", error_code=TEMPORARILY_UNAVAILABLE)) == "transient"
    assert failure_kind(ConnectionError("refused")) == "transient"
    assert failure_kind(json.JSONDecodeError("x", "", 0)) == "corrupt"


def test_a_refused_record_goes_to_dead_and_never_blocks_the_others(tmp_path: Path) -> None:
    store = _Store(lambda r: MlflowException("param too long", error_code=INVALID_PARAMETER_VALUE)
                   if r["key"] == "k0" else None)
    box = Outbox(tmp_path, store.push, "p")
    box.start()
    for i in range(4):
        box.put(f"k{i}", _record(i))
    assert box.flush(10) == 0
    box.close()
    assert sorted(store.pushed) == ["k1", "k2", "k3"]
    assert [k for k, _ in store.calls].count("k0") == MAX_REFUSALS
    assert list(box.dead()) == ["k0"] and "param too long" in box.dead()["k0"]
    assert (tmp_path / "dead" / "k0.json").exists() and not (tmp_path / "pending" / "k0.json").exists()


def test_a_corrupt_record_is_dead_at_once(tmp_path: Path) -> None:
    (tmp_path / "pending").mkdir(parents=True)
    (tmp_path / "pending" / "broken.json").write_text("{not json")
    store = _Store()
    box = Outbox(tmp_path, store.push, "p")
    box.load_pending()
    box.start()
    box.put("k1", _record(1))
    assert box.flush(10) == 0
    box.close()
    assert store.pushed == ["k1"] and "corrupt" in box.dead()["broken"]


def test_an_outage_backs_off_and_new_records_do_not_cut_it_short(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr(outbox_module, "BACKOFF_START_S", 0.4)
    down = {"until": time.monotonic() + 1.5}
    store = _Store(lambda r: ConnectionError("server down") if time.monotonic() < down["until"] else None)
    box = Outbox(tmp_path, store.push, "p")
    box.start()
    box.put("k0", _record(0))
    time.sleep(0.1)
    for i in range(1, 6):  # records arriving during the outage
        box.put(f"k{i}", _record(i))
        time.sleep(0.05)
    assert box.flush(20) == 0
    box.close()
    assert sorted(store.pushed) == [f"k{i}" for i in range(6)] and not box.dead()
    failed = [t for k, t in store.calls if t < down["until"]]
    # backoff 0.4, 0.8, 1.6 s: a handful of attempts during a 1.5 s outage, not one per new record
    assert len(failed) <= 4, len(failed)
    gaps = [b - a for a, b in zip(failed, failed[1:], strict=False)]
    assert all(g >= 0.35 for g in gaps), gaps


def test_the_writers_death_is_reported_not_waited_out(tmp_path: Path) -> None:
    def explode(record: dict[str, Any], maybe_partial: bool) -> None:
        raise SystemExit("a bug in the writer")  # not an Exception: escapes the store-error handling

    box = Outbox(tmp_path, explode, "p")
    box.start()
    box.put("k0", _record(0))
    t0 = time.monotonic()
    assert box.flush(60) == 1
    assert time.monotonic() - t0 < 5 and box.crashed and "died" in box.crashed
    box.close()
    assert (tmp_path / "pending" / "k0.json").exists()  # kept for a later sync


def test_sync_tries_dead_records_again(tmp_path: Path) -> None:
    refuse = {"on": True}
    store = _Store(lambda r: MlflowException("no", error_code=INVALID_PARAMETER_VALUE) if refuse["on"] else None)
    box = Outbox(tmp_path, store.push, "p")
    box.start()
    box.put("k0", _record(0))
    assert box.flush(10) == 0 and list(box.dead()) == ["k0"]
    box.close()
    refuse["on"] = False  # the cause was fixed
    again = Outbox(tmp_path, store.push, "p")
    assert again.load_pending(dead=True) == 1
    again.start()
    assert again.flush(10) == 0
    again.close()
    assert store.pushed == ["k0"] and not again.dead()
