"""The progress line and what goes to the parent run, without a sweep."""

from __future__ import annotations

import io
from pathlib import Path

from pipeline.engine.progress import Progress


def _progress(**kw: object) -> tuple[Progress, io.StringIO, list[tuple[str, dict[str, float]]]]:
    out: io.StringIO = io.StringIO()
    pushed: list[str] = []
    p = Progress({"tune": 4, "select": 0, "confirm": 2}, stream=out, tty=False,
                 publish=pushed.append, **kw)
    return p, out, pushed


def test_the_line_counts_trials_failures_and_the_best_score_per_cell() -> None:
    p, out, pushed = _progress()
    p.phase("tune")
    for i in range(3):
        p.trial_started("tune", f"t{i}")
    p.trial_ended("tune", "t0", "d/gru", 0.5, failed=False)
    p.trial_ended("tune", "t1", "d/gru", 0.4, failed=False)
    p.trial_ended("tune", "t2", "d/lstm", None, failed=True)
    line = p.line()
    assert line.startswith("gatesweep: tune 2/4, 0 running, 1 failed · best val MASE d/gru 0.4")
    assert "left" in line and p.summary() == "tune 2/4 · confirm 0/2 · 1 failed"  # a skipped phase is not shown
    assert out.getvalue().splitlines()[0].startswith("gatesweep: tune 0/4")  # the phase change is written at once
    assert pushed[0] == "tune 0/4 · confirm 0/2"  # at the phase change (then at most every few seconds)


def test_a_resumed_sweep_counts_what_its_earlier_driver_finished() -> None:
    p, _, _ = _progress()
    p.already_done({"trial-d-gru-r0-0000", "trial-d-gru-r0-0001", "trial-d-gru-r0-0001-attempt0",
                    "confirm-d-gru-r0-0000", "confirm-d-gru-param_matched-r0-0000"})
    assert p.summary() == "tune 2/4 · confirm 1/2"


def test_a_store_that_fails_does_not_stop_the_sweep() -> None:
    def broken(tag: str) -> None:
        raise ConnectionError("down")

    p = Progress({"tune": 1}, stream=io.StringIO(), tty=False, publish=broken)
    p.phase("tune")  # pushes, fails, warns once
    p.trial_ended("tune", "t", "d/gru", 0.1, failed=False)
    assert p.summary() == "tune 1/1"


def test_a_sweep_with_one_phase_says_its_count_once() -> None:
    """`confirm 19/40, 1 running · ... · confirm 19/40` said the same thing twice (the seed-replication sweep)."""
    p = Progress({"confirm": 4}, stream=io.StringIO(), tty=False)
    assert p.line().endswith("· confirm 0/4")  # before the phase starts: the plan
    p.phase("confirm")
    p.trial_ended("confirm", "c0", "d/gru", 0.1, failed=False)
    line = p.line()
    assert line.startswith("gatesweep: confirm 1/4, 0 running") and line.count("1/4") == 1, line


def test_a_sweep_resumed_after_its_training_counts_every_confirm_round() -> None:
    """Resumed to make its report after 4 rounds (70 runs), a sweep planned with one round of 40 said
    `confirm 70/40`."""
    p = Progress({"confirm": 40}, stream=io.StringIO(), tty=False)
    p.already_done({f"confirm-d-gru-r{k}-{i:04d}" for k in range(2) for i in range(35)})
    p.trained()
    assert p.summary() == "confirm 70/70"


def test_a_resumed_sweeps_best_includes_the_trials_of_earlier_sessions() -> None:
    p, _, _ = _progress()
    p.already_done({"trial-d-gru-r0-0000", "trial-d-gru-r0-0001", "trial-d-lstm-r0-0000"},
                   {"trial-d-gru-r0-0000": ("d/gru", 0.3), "trial-d-gru-r0-0001": ("d/gru", 0.6)})
    p.phase("tune")
    p.trial_started("tune", "t2")
    p.trial_ended("tune", "t2", "d/gru", 0.5, failed=False)  # worse than the earlier session's 0.3
    p.trial_started("tune", "t3")
    p.trial_ended("tune", "t3", "d/lstm", 0.7, failed=False)
    assert "best val MASE d/gru 0.3, d/lstm 0.7" in p.line()


def test_the_outbox_gives_the_validation_score_of_each_finished_record(tmp_path: Path) -> None:
    from pipeline.core.hparams import HParams
    from pipeline.core.jobs import Job
    from pipeline.tracking.outbox import Outbox

    def record(arch: str, index: int, status: str, result: dict[str, float] | None) -> dict[str, object]:
        job = Job(phase="trial", dataset="d", hp=HParams(arch=arch), index=index, seed=index)
        return {"job": job.model_dump(), "history": {}, "result": result, "status": status}

    box = Outbox(tmp_path / "outbox", lambda record, partial: None, "p1")  # never started: all stay pending
    box.put("trial-d-gru-r0-0000", record("gru", 0, "FINISHED", {"val_mase": 0.4}))
    box.put("trial-d-lstm-r0-0000", record("lstm", 0, "FINISHED", {"val_mase": 0.9}))
    box.put("trial-d-gru-r0-0001", record("gru", 1, "FAILED", None))
    assert box.scores() == {"trial-d-gru-r0-0000": ("d/gru", 0.4), "trial-d-lstm-r0-0000": ("d/lstm", 0.9)}
