"""The outbox's record of a run: a typed outcome plus what its child run logs, and records written before outcomes
were typed still load, so that a sweep interrupted before an upgrade resumes after it."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from pipeline.core.hparams import HParams
from pipeline.core.jobs import Job
from pipeline.core.outcome import FINAL_MARK, FinalMetrics, TrialOutcome
from pipeline.tracking.contract import Metrics, Tags
from pipeline.tracking.records import RunRecord

# a tune-phase trial's record as b5f7259's OutboxCallback wrote it in a real sweep (its whole final report as `result`)
OLD = Path(__file__).parents[2] / "data" / "outbox" / "b5f7259-trial-m1_monthly-gru-r0-0000.json"


def _as_the_outbox_keeps_it(record: RunRecord) -> RunRecord:
    return RunRecord.model_validate(json.loads(json.dumps(record.model_dump(mode="json"))))


def test_a_record_written_before_outcomes_were_typed_still_loads() -> None:
    raw = json.loads(OLD.read_text(encoding="utf-8"))
    result = raw["result"]
    record = RunRecord.model_validate(raw)
    assert record.final is not None and record.final.val_mase == result["val_mase"] == 1.2122245943655574
    assert record.final.named() == {k: result[k] for k in Metrics.FINAL if k in result}
    assert record.final.chosen_epochs == result["best_epoch"] + 1
    # the rest of the report, for the child run; its metrics are read from `metrics` only
    assert set(record.extra) == set(result) - set(Metrics.FINAL) and record.extra_str("node") == "vm/8301f94bae3c"
    assert (record.job.key, record.key, record.history) == (raw["key"], raw["key"], raw["history"])
    # kept again, it is in today's format, and reads back the same
    assert "result" not in record.model_dump(mode="json") and _as_the_outbox_keeps_it(record) == record


def test_an_old_record_of_a_failed_trial_has_no_metrics() -> None:
    job = Job(phase="trial", dataset="d", hp=HParams(arch="lstm"), index=3, seed=3)
    raw = {"job": job.model_dump(mode="json"), "history": {"epoch": [0.0]}, "result": None, "status": "FAILED",
           "error": "TrainingDiverged: loss nan", "error_detail": "Traceback ...", "key": job.key, "parent": "p"}
    record = RunRecord.model_validate(raw)
    assert (record.status, record.error, record.metrics, record.final, record.extra) == (
        "FAILED", "TrainingDiverged: loss nan", None, None, {})


def test_a_damaged_record_is_refused_as_not_a_record() -> None:
    """What the tracker turns into CorruptRecord (the record goes to dead/), and Outbox.scores skips."""
    raw = json.loads(OLD.read_text(encoding="utf-8"))
    with pytest.raises(ValidationError, match="result"):
        RunRecord.model_validate(raw | {"result": "not a report"})
    with pytest.raises(ValidationError, match="val_mase"):
        RunRecord.model_validate({k: v for k, v in raw.items() if k != "result"} | {"metrics": {"val_mase": "?"}})


def test_a_record_keeps_the_outcome_its_metrics_typed_and_the_rest_of_the_report_for_the_child_run() -> None:
    job = Job(phase="confirm", dataset="d", hp=HParams(arch="gru"), index=0, seed=10000)
    report = {"test_mase": 0.8, "n_params": 41.0, "forecasts": {"truth": [1.0, 2.0]}, "node": "h/1",
              "pid": 7, "not_json": object(), FINAL_MARK: True}
    outcome = TrialOutcome.of(job, "FINISHED", None, report)
    record = RunRecord.from_outcome(outcome, report, history={"epoch": [0.0]}, start_ms=1, end_ms=2)
    assert record.final == FinalMetrics(test_mase=0.8, n_params=41.0)
    assert record.extra == {"forecasts": {"truth": [1.0, 2.0]}, "node": "h/1", "pid": 7, FINAL_MARK: True}
    assert _as_the_outbox_keeps_it(record) == record


def test_an_old_record_left_in_an_outbox_is_written_to_mlflow_with_its_metrics_after_an_upgrade(
        tmp_path: Path) -> None:
    """The real path of `gatesweep resume` or `sync`: the outbox loads the record from disk, the tracker writes it."""
    from pipeline.tracking.mlflow_io import child_runs
    from pipeline.tracking.outbox import Outbox
    from pipeline.tracking.tracker import SweepTracker

    with contextlib.chdir(tmp_path):  # the store's artifact root, MLflow's ./mlruns when it opens: not the checkout
        tracker = SweepTracker(f"sqlite:///{tmp_path / 'mlflow.db'}", "upgrade")
        tracker.check()
    parent = tracker.client.create_run(tracker.experiment_id, run_name="upgrade-sweep").info.run_id
    tracker.parent_id = parent
    raw = json.loads(OLD.read_text(encoding="utf-8")) | {"parent": parent}  # the record of this sweep
    box = Outbox(tmp_path / "outbox", tracker.push_record, parent)
    (box.pending_dir / f"{raw['key']}.json").write_text(json.dumps(raw), encoding="utf-8")
    assert box.load_pending() == 1
    assert box.scores() == {raw["key"]: ("m1_monthly/gru", raw["result"]["val_mase"])}  # the resumed progress line
    box.start()
    try:
        assert box.flush(60) == 0
    finally:
        box.close()
    assert not box.dead() and box.done_keys() == {raw["key"]}
    [run] = child_runs(tracker.client, parent)
    result = raw["result"]
    assert run.data.metrics == {**{Metrics.logged(k): result[k] for k in Metrics.FINAL if k in result},
                                **{name: raw["history"][name][-1] for name in Metrics.EPOCH}}
    assert (run.data.tags[Tags.NODE], run.data.tags[Tags.KEY], run.info.status) == (
        result["node"], raw["key"], "FINISHED")
    assert run.data.tags[Tags.NOTE].endswith(f"Validation MASE {result['val_mase']:.4g}. Configuration: "
                                             "hidden_size 64, num_layers 1, window 15, optimizer adam, learning_rate "
                                             "0.00528, batch_size 256, epochs 100, transform log1p, strategy direct, "
                                             "normalize window, loss_fn mae, epoch_windows 10240.")
