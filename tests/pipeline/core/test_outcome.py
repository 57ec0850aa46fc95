"""A trial's outcome, typed: its final metrics are read from the trainable's report once, by name, and are attributes
from there on."""

from __future__ import annotations

from pipeline.core.hparams import HParams
from pipeline.core.jobs import Job
from pipeline.core.outcome import FINAL_MARK, FinalMetrics, TrialOutcome, final_report
from pipeline.tracking.contract import Metrics

JOB = Job(phase="trial", dataset="d", hp=HParams(arch="gru"), index=0, seed=0)


def test_the_typed_metrics_are_the_contracts_final_metrics_in_its_order() -> None:
    assert tuple(FinalMetrics.model_fields) == Metrics.FINAL


def test_the_metrics_of_a_report_are_its_numbers_under_their_names() -> None:
    report = {"val_mase": 0.5, "n_params": 41, "best_epoch": 3.0, "node": "host/1", "done": True,
              "test_mase": True, "val_rmse": "1.0", "loss": 0.2, FINAL_MARK: True}
    metrics = FinalMetrics.of(report)
    # a bool or a string under a metric's name is not that metric; what is not a final metric is not read
    assert metrics == FinalMetrics(val_mase=0.5, n_params=41.0, best_epoch=3.0)
    assert metrics.named() == {"val_mase": 0.5, "n_params": 41.0, "best_epoch": 3.0}


def test_a_final_fit_trains_the_epochs_early_stopping_chose_or_those_the_run_trained() -> None:
    assert FinalMetrics(best_epoch=6.0, epochs_trained=12.0).chosen_epochs == 7.0
    assert FinalMetrics(epochs_trained=12.0).chosen_epochs == 12.0
    assert FinalMetrics().chosen_epochs is None


def test_only_a_finished_trial_with_a_final_report_has_final_metrics() -> None:
    scored = TrialOutcome.of(JOB, "FINISHED", None, {"val_mase": 0.5, FINAL_MARK: True})
    assert scored.final == FinalMetrics(val_mase=0.5)
    failed = TrialOutcome.of(JOB, "FAILED", "TrainingDiverged: loss nan", {"val_mase": 0.5})
    assert failed.metrics == FinalMetrics(val_mase=0.5) and failed.final is None
    assert TrialOutcome.of(JOB, "FINISHED", None, None).final is None  # stopped before its last epoch


def test_the_final_report_is_the_one_the_trainable_marks() -> None:
    assert final_report({"val_mase": 0.5, FINAL_MARK: True}) == {"val_mase": 0.5, FINAL_MARK: True}
    assert final_report({"val_mase": 0.5, "epochs_done": 3}) is None  # an intermediate report
    assert final_report({}) is None and final_report(None) is None
