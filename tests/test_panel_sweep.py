"""A panel sweep end to end: several series of different lengths and scales (one too short, dropped), a past
and a future covariate, horizon 6 from 3 origins, both strategies searched, through Ray Tune, MLflow and the
report; the driver SIGKILLed mid-sweep and resumed with the budget kept; `gatesweep report` rebuilds the same
verdict."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import DATA, child_run_count, gatesweep_cmd, gatesweep_env, run_gatesweep

SPACE = DATA / "valid" / "panel.yaml"


@pytest.mark.slow
def test_a_panel_sweep_with_covariates_survives_a_kill_and_reports_per_series(tmp_path: Path) -> None:
    from mlflow import MlflowClient

    driver = subprocess.Popen(gatesweep_cmd() + ["run", str(SPACE)], cwd=tmp_path, env=gatesweep_env(),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 600
    while child_run_count(tmp_path / "mlflow.db") < 2 and time.monotonic() < deadline and driver.poll() is None:
        time.sleep(0.2)
    assert driver.poll() is None, "the sweep ended before it could be killed"
    os.killpg(driver.pid, signal.SIGKILL)  # the driver and the local Ray it started, mid tune phase
    driver.wait(timeout=60)
    assert child_run_count(tmp_path / "mlflow.db") < 2 * (4 + 6)  # really unfinished

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    exp = client.get_experiment_by_name("panel")
    (parent,) = client.search_runs([exp.experiment_id], "tags.`gatesweep.role` = 'sweep'")
    parent_id = parent.info.run_id
    proc = run_gatesweep(["resume", parent_id], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]

    runs = client.search_runs([exp.experiment_id], f"tags.mlflow.parentRunId = '{parent_id}'")
    keys = [r.data.tags["gatesweep.key"] for r in runs]
    assert len(keys) == len(set(keys)), "a child run was written twice"
    finished = [r for r in runs if r.info.status == "FINISHED"]
    for ds in ("stores", "stores_calendar"):
        for arch in ("gru", "lstm"):
            mine = [r for r in finished
                    if r.data.tags["gatesweep.dataset"] == ds and r.data.tags["gatesweep.arch"] == arch]
            role = [r.data.tags["gatesweep.role"] for r in mine]
            trials = {r.data.tags["gatesweep.index"] for r, k in zip(mine, role, strict=True) if k == "trial"}
            assert trials == {"0", "1"}
            assert role.count("confirm") == 3
            assert all(r.data.params["horizon"] == "6" for r in mine)
            strategies = {r.data.params["strategy"] for r in mine}
            assert strategies == {"direct"} if ds == "stores" else strategies <= {"direct", "recursive"}
    metrics = client.get_run(parent_id).data.metrics
    assert {"baseline.stores.ets_mase", "baseline.stores.theta_mase", "baseline.stores.naive_mase"} <= set(metrics)

    report = next(tmp_path.glob("gatesweep-output/panel/*/report"))
    verdict = json.loads((report / "verdict.json").read_text(encoding="utf-8"))
    for d in verdict["datasets"]:
        assert (d["horizon"], d["series"], len(d["per_step"])) == (6, 4, 6)
        assert d["dropped_series"] == [{"id": "pop_up", "length": 20}]
        assert sorted(s["id"] for s in d["per_series"]) == ["east", "north", "south", "west"]
        assert all(0 <= s["gru_better"] <= 1 for s in d["per_series"])
        assert d["dm"]["available"] is True and d["dm"]["n"] == 3  # the 3 origins, each a mean over series
        assert {"naive", "ar", "ets", "theta"} <= set(d["baseline_mase"]) | set(d["baselines_failed"])
    html = (report / "report.html").read_text(encoding="utf-8")
    assert "pop_up" in html and "Per series" in html
    rebuilt = run_gatesweep(["report", parent_id, "--out", str(tmp_path / "rebuilt")], tmp_path)
    assert rebuilt.returncode == 0, rebuilt.stderr[-2000:]
    assert (tmp_path / "rebuilt" / "report" / "verdict.json").read_bytes() == (report / "verdict.json").read_bytes()
