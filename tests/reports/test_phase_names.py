"""One name for the tune phase in what users read, while stores keep the role `trial` readable."""

from __future__ import annotations

from pathlib import Path


def test_the_tune_phase_is_called_tune_in_the_report_and_readers_accept_both_role_names(tmp_path: Path) -> None:
    from mlflow import MlflowClient

    from reports.render import _counts_lines
    from reports.runs import runs_table
    from tests.reports.hand_made import log_hand_made_runs
    from tests.reports.verdicts import stored_verdict

    assert _counts_lines(stored_verdict()) == ["tune: GRU 4 finished, 0 failed; LSTM 4 finished, 0 failed",
                                               "confirm: GRU 10 finished, 0 failed; LSTM 10 finished, 0 failed"]
    client, parent, _ = log_hand_made_runs(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert isinstance(client, MlflowClient)
    child = client.create_run(client.get_run(parent).info.experiment_id, tags={
        "mlflow.parentRunId": parent, "gatesweep.role": "tune", "gatesweep.arch": "gru", "gatesweep.dataset": "sines"})
    client.log_metric(child.info.run_id, "val_mase", 0.5)
    client.set_terminated(child.info.run_id, "FINISHED")
    table = runs_table(client, parent)
    assert table.loc[table["run_id"] == child.info.run_id, "role"].tolist() == ["trial"]
