"""Each child run's one-line description (its MLflow page's `mlflow.note.content`): what its name stands for
(phase, cell, candidate or configuration, seed), what it was fitted and scored on, that score or its error, and its
configuration."""

from __future__ import annotations

from pipeline.core.hparams import HParams
from pipeline.core.jobs import Job
from pipeline.core.outcome import FinalMetrics
from pipeline.tracking.records import RunRecord
from pipeline.tracking.tracker import _child_description

HP = HParams.of("lstm", {"hidden_size": 32, "window": 20, "optimizer": "adam", "learning_rate": 0.0054321})


def test_a_confirm_run_says_its_phase_cell_seed_split_configuration_and_test_mase() -> None:
    job = Job(phase="confirm", dataset="damped", hp=HP, index=2, seed=10003, source_trial=7)
    record = RunRecord(job=job, history={}, metrics=FinalMetrics(test_mase=0.123456), status="FINISHED")
    text = _child_description(record)
    assert text.startswith("Confirm phase, cell damped / LSTM: the cell's best configuration, from tune trial 7, "
                           "seed 10003; fitted on train, scored on the test split (the verdict's per-seed number). "
                           "Test MASE 0.1235. Configuration: hidden_size 32, num_layers 1, window 20")
    assert text.endswith(", learning_rate 0.00543, batch_size 10, epochs 100, transform none, strategy direct, "
                         "normalize series, loss_fn mse, epoch_windows 0.")
    assert "\n" not in text
    final = _child_description(record, "train+validation")
    assert "fitted on train + validation, scored on the test split" in final


def test_a_select_run_decodes_its_name_candidate_and_seed() -> None:
    """`c3-s20002-lstm-select`: candidate 3 of the LSTM cell, seed 20002, judged on validation."""
    job = Job(phase="select", dataset="damped", hp=HP, index=2, seed=20002, rank=2, source_trial=11)
    record = RunRecord(job=job, history={}, metrics=FinalMetrics(val_mase=0.81234), status="FINISHED")
    assert job.run_name(False) == "c3-s20002-lstm-select"
    text = _child_description(record)
    assert text.startswith("Select phase, cell damped / LSTM: candidate 3 (the tune phase's #3 configuration), "
                           "from tune trial 11, seed 20002; fitted on train, scored on the validation split "
                           "(picks the candidate that goes to confirm).")
    assert "Validation MASE 0.8123. Configuration: hidden_size 32" in text


def test_a_failed_trial_gives_its_error_line_and_a_trial_its_validation_mase() -> None:
    job = Job(phase="trial", dataset="nile", hp=HP, index=4, seed=4, attempt=1)
    failed = RunRecord(job=job, history={}, status="FAILED", error="TrainingDiverged: loss nan\nmore")
    assert "(the tuning objective). Failed: TrainingDiverged: loss nan. Configuration: " in _child_description(failed)
    done = RunRecord(job=job, history={}, metrics=FinalMetrics(val_mase=0.5), status="FINISHED")
    text = _child_description(done)
    assert text.startswith("Tune phase, cell nile / LSTM: trial 4, seed 4, attempt 1; fitted on train, scored on "
                           "the validation split (the tuning objective). Validation MASE 0.5. Configuration: ")
    matched = Job(phase="confirm", dataset="nile", hp=HP.model_copy(update={"arch": "gru"}), index=0, seed=10000,
                  variant="param_matched")
    assert "cell nile / GRU (parameter-matched to the LSTM): " in _child_description(
        RunRecord(job=matched, history={}, status="FINISHED"))


def test_the_description_is_the_child_run_tag_mlflow_shows(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Written by the sweep's tracker as `mlflow.note.content`, with what the run was fitted on."""
    from pipeline.tracking.contract import Tags
    from pipeline.tracking.tracker import SweepTracker

    tracker = SweepTracker(f"sqlite:///{tmp_path / 'mlflow.db'}", "desc")
    tracker.parent_id, tracker.final_fit = "p" * 32, "train+validation"
    job = Job(phase="confirm", dataset="damped", hp=HP, index=0, seed=10000, source_trial=1)
    tags = tracker._child_tags(RunRecord(job=job, history={}, metrics=FinalMetrics(test_mase=0.2), status="FINISHED"))
    assert tags[Tags.NOTE].startswith("Confirm phase, cell damped / LSTM: the cell's best configuration")
    assert "fitted on train + validation" in tags[Tags.NOTE]


def test_run_names_differ_within_the_15_characters_the_runs_table_shows() -> None:
    from pathlib import Path

    from pipeline.core.config import load_spec
    from pipeline.engine import tuning

    spec = load_spec(Path(__file__).parents[2] / "data" / "valid" / "rounds.yaml")  # 2 datasets, 2 rounds
    spec = spec.model_copy(update={"confirm": spec.confirm.model_copy(update={"param_matched": True})})
    best = {(ds, arch): [(HParams.of(arch, spec.space_for(ds).fixed()), 3)] for ds, arch in spec.cells()}
    jobs = tuning.confirm_jobs(spec, best) + tuning.confirm_jobs(spec, best, round_=2)
    jobs += tuning.select_jobs(spec, {cell: configs * 2 for cell, configs in best.items()})
    jobs += [Job(phase="trial", dataset=ds, hp=HP.model_copy(update={"arch": arch}), index=i, seed=i)
             for i, (ds, arch) in enumerate(spec.cells() * 3)]
    for multi in (True, False):  # within a dataset: a dataset's name can be any length, and comes next
        for dataset in spec.datasets:
            names = [job.run_name(multi) for job in jobs if job.dataset == dataset.name]
            assert len({name[:15] for name in names}) == len(names), sorted(names)
    job = Job(phase="confirm", dataset="nile", hp=HP, index=3, seed=10003)
    assert (job.run_name(False), job.run_name(True)) == ("s10003-lstm-confirm", "s10003-lstm-nile-confirm")


def test_a_new_experiment_gets_the_runs_view_its_description_links(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """MLflow has no default columns per experiment: the tracker saves gatesweep's columns as a shared view of the
    runs table (`RunsView`), and the experiment's description links the table with it."""
    import json

    from pipeline.tracking.contract import RunsView, Tags
    from pipeline.tracking.tracker import SweepTracker

    tracker = SweepTracker(f"sqlite:///{tmp_path / 'mlflow.db'}", "with-view")
    tracker.check()
    tags = tracker.client.get_experiment(tracker.experiment_id).tags
    columns = json.loads(tags[RunsView.TAG])["selectedColumns"]
    assert columns[:2] == ["tags.`gatesweep.role`", "tags.`gatesweep.dataset`"] and "metrics.`test_mase`" in columns
    assert (f"[Open the runs table](#/experiments/{tracker.experiment_id}/runs?workflowType=machine_learning"
            "&viewStateShareKey=gatesweep) with gatesweep's columns") in tags[Tags.NOTE]
