"""The driver killed with SIGKILL mid-sweep; `gatesweep resume` completes the sweep: the budget per cell
exactly, no child run twice, the Optuna search continuing from its saved state, a verdict at the end."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import DATA, child_run_count, gatesweep_cmd, gatesweep_env, run_gatesweep

SPACE = DATA / "valid" / "resume.yaml"
OUT = Path("gatesweep-output") / "resume"




@pytest.mark.slow
def test_sigkilled_driver_is_resumed_without_duplicates(tmp_path: Path) -> None:
    from mlflow import MlflowClient

    driver = subprocess.Popen(gatesweep_cmd() + ["run", str(SPACE)], cwd=tmp_path, env=gatesweep_env(),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 600
    while child_run_count(tmp_path / "mlflow.db") < 3 and time.monotonic() < deadline and driver.poll() is None:
        time.sleep(0.2)
    assert driver.poll() is None, "the sweep ended before it could be killed"
    os.killpg(driver.pid, signal.SIGKILL)  # the driver and the local Ray it started, mid tune phase
    driver.wait(timeout=60)
    assert child_run_count(tmp_path / "mlflow.db") < 8 + 6  # really unfinished

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    exp = client.get_experiment_by_name("resume")
    (parent,) = client.search_runs([exp.experiment_id], "tags.`gatesweep.role` = 'sweep'")
    # by parent run id, as an analyst would from the MLflow UI (the run's tag names the output directory)
    proc = run_gatesweep(["resume", parent.info.run_id], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (parent,) = client.search_runs([exp.experiment_id], "tags.`gatesweep.role` = 'sweep'")
    assert parent.info.status == "FINISHED" and parent.data.tags["gatesweep.verdict"]
    runs = client.search_runs([exp.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    keys = [r.data.tags["gatesweep.key"] for r in runs]
    assert len(keys) == len(set(keys)), "a child run was written twice"
    finished = [r for r in runs if r.info.status == "FINISHED"]
    for arch in ("gru", "lstm"):
        trials = {r.data.tags["gatesweep.index"] for r in finished
                  if r.data.tags["gatesweep.role"] == "trial" and r.data.tags["gatesweep.arch"] == arch}
        # exactly the budget: a searcher that lost its state would start a new budget (more indices)
        assert trials == {"0", "1", "2", "3"}
        confirms = [r for r in finished if r.data.tags["gatesweep.role"] == "confirm"
                    and r.data.tags["gatesweep.arch"] == arch]
        assert len(confirms) == 3
    assert (tmp_path / OUT / "latest" / "report" / "verdict.json").exists()
