"""Each child run's one-line description (its MLflow page's `mlflow.note.content`): what it is, its
configuration, and the score it is judged by, or its error."""

from __future__ import annotations

from pipeline.core.hparams import HParams
from pipeline.core.jobs import Job
from pipeline.tracking.records import RunRecord
from pipeline.tracking.tracker import _child_description

HP = HParams.of("lstm", {"hidden_size": 32, "window": 20, "optimizer": "adam", "learning_rate": 0.0054321})


def test_a_confirm_run_says_what_it_is_its_configuration_and_its_test_mase() -> None:
    job = Job(phase="confirm", dataset="damped", hp=HP, index=2, seed=10003, source_trial=7)
    text = _child_description(RunRecord(job=job, history={}, result={"test_mase": 0.123456}, status="FINISHED"))
    assert text.startswith("LSTM confirm run on damped, seed 10003 (configuration of tune trial 7): hidden_size 32")
    assert "learning_rate 0.00543" in text and text.endswith("Test MASE 0.1235.")
    assert "\n" not in text


def test_a_failed_trial_gives_its_error_line_and_a_trial_its_validation_mase() -> None:
    job = Job(phase="trial", dataset="nile", hp=HP, index=4, seed=4)
    failed = RunRecord(job=job, history={}, result=None, status="FAILED", error="TrainingDiverged: loss nan\nmore")
    assert _child_description(failed).endswith("Failed: TrainingDiverged: loss nan.")
    done = RunRecord(job=job, history={}, result={"val_mase": 0.5}, status="FINISHED")
    text = _child_description(done)
    assert "tune-phase trial on nile" in text and text.endswith("Validation MASE 0.5.")


def test_run_names_differ_within_the_15_characters_the_runs_table_shows() -> None:
    from pathlib import Path

    from pipeline.core.config import load_spec
    from pipeline.engine import tuning

    spec = load_spec(Path(__file__).parents[1] / "data" / "valid" / "rounds.yaml")  # 2 datasets, 2 rounds
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
