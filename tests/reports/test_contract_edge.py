"""Runs that do not follow the MLflow contract are refused at the edge (reports.runs) in one line that names
the run and what it lacks, exit 2; an empty sweep is one line too. Never a traceback."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipeline.app.cli import main
from pipeline.core.config import ReportSpec
from pipeline.core.errors import OffContract
from pipeline.verdict.sequential import Design
from reports.rounds import sequential_verdicts
from tests.reports.hand_made import log_hand_made_runs


def _report(uri: str, parent_id: str, out: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    capsys.readouterr()  # MLflow's own INFO lines from creating the store (when its logger is set up) are not ours
    status = main(["report", parent_id, "--tracking-uri", uri, "--out", str(out)])
    return status, capsys.readouterr().err.strip().splitlines()


def _child(client: object, parent_id: str, **tags: str) -> str:
    exp = client.get_run(parent_id).info.experiment_id  # type: ignore[attr-defined]
    base = {"mlflow.parentRunId": parent_id, "gatesweep.role": "trial", "gatesweep.arch": "gru",
            "gatesweep.dataset": "sines", "gatesweep.seed": "1"}
    run = client.create_run(exp, run_name="gru-trial-by-hand", tags=base | tags)  # type: ignore[attr-defined]
    return run.info.run_id


def test_a_finished_trial_without_val_mase_is_one_line_naming_the_run(tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client, parent_id, _ = log_hand_made_runs(uri)
    run_id = _child(client, parent_id)
    client.log_metric(run_id, "val_loss", 0.5)
    client.set_terminated(run_id, "FINISHED")
    status, err = _report(uri, parent_id, tmp_path / "out", capsys)
    assert status == 2 and len(err) == 1, err
    assert f"run {run_id} (gru-trial-by-hand): a finished trial run without the metric val_mase" in err[0]
    assert not (tmp_path / "out" / "report").exists()


def test_a_non_numeric_hyperparameter_is_one_line_naming_the_run_and_param(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client, parent_id, _ = log_hand_made_runs(uri)
    run_id = _child(client, parent_id)
    client.log_param(run_id, "hidden_size", "forty")
    client.log_metric(run_id, "val_mase", 0.5)
    client.set_terminated(run_id, "FINISHED")
    status, err = _report(uri, parent_id, tmp_path / "out", capsys)
    assert status == 2 and len(err) == 1, err
    assert f"run {run_id} (gru-trial-by-hand): param hidden_size: 'forty'" in err[0]


def test_an_unknown_architecture_tag_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client, parent_id, _ = log_hand_made_runs(uri)
    run_id = _child(client, parent_id, **{"gatesweep.arch": "transformer"})
    client.set_terminated(run_id, "FAILED")
    status, err = _report(uri, parent_id, tmp_path / "out", capsys)
    assert status == 2 and len(err) == 1 and "tag gatesweep.arch: 'transformer'" in err[0], err


def test_a_parent_with_no_children_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.MlflowClient(uri)
    exp = client.create_experiment("empty")
    parent = client.create_run(exp, tags={"gatesweep.role": "sweep"}).info.run_id
    status, err = _report(uri, parent, tmp_path / "out", capsys)
    assert status == 1 and len(err) == 1 and f"parent run {parent}: no child runs in MLflow" in err[0], err


def test_run_facts_are_read_under_system_and_under_their_old_bare_names(tmp_path: Path) -> None:
    """This release logs how a run went (`epochs_trained`, ...) as `system/<name>` (MLflow's System metrics
    tab); a 0.1.0 store has the bare names. The report's table has one column either way; the names the
    design fixes (`train_seconds`, `test_mase`) are never prefixed."""
    from pipeline.tracking.contract import Metrics
    from reports.runs import runs_table

    assert Metrics.logged("epochs_trained") == "system/epochs_trained"
    assert Metrics.logged("train_seconds") == "train_seconds" and Metrics.logged("test_mase") == "test_mase"
    assert all(Metrics.read(Metrics.logged(m)) == m for m in Metrics.FINAL)
    assert Metrics.read("system/cpu_utilization_percentage") == "system/cpu_utilization_percentage"  # MLflow's own
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client, parent_id, _ = log_hand_made_runs(uri)
    new = _child(client, parent_id, **{"gatesweep.seed": "1"})
    old = _child(client, parent_id, **{"gatesweep.seed": "2"})
    for run_id, key in ((new, "system/epochs_trained"), (old, "epochs_trained")):
        client.log_metric(run_id, "val_mase", 0.5)
        client.log_metric(run_id, key, 7.0)
        client.set_terminated(run_id, "FINISHED")
    table = runs_table(client, parent_id).set_index("run_id")
    assert table.loc[new, "epochs_trained"] == table.loc[old, "epochs_trained"] == 7.0
    assert "system/epochs_trained" not in table


def test_a_confirm_run_without_an_index_in_a_sweep_of_rounds_is_one_line_naming_it() -> None:
    """Hand-logged confirm runs with the rounds' settings but no `gatesweep.index`: their round is unknown."""
    confirm = pd.DataFrame([{"run_id": f"r{arch}{k}", "dataset": "d", "arch": arch, "index": None if k == 3 else k,
                             "test_mase": 0.5 + 0.01 * k} for arch in ("gru", "lstm") for k in range(5)])
    with pytest.raises(OffContract, match=r"^run rgru3: a confirm run without the tag gatesweep.index"):
        sequential_verdicts(confirm, {}, ReportSpec(), Design(5, 5, 10))
