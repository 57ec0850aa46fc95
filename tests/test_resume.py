"""The driver killed with SIGKILL between confirm rounds; `gatesweep resume` completes the sweep: every round
the driver had started is finished once, no round is repeated or lost, and the report reaches the decisions
the driver acted on. (A driver killed mid tune phase: tests/test_panel_sweep.py and tests/test_operable.py.)"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import DATA, gatesweep_cmd, gatesweep_env, run_gatesweep

SPACE = DATA / "valid" / "rounds.yaml"  # 2 datasets, no search, rounds of 3 seeds up to 6; one decided after 1
STATE = Path("gatesweep-output") / "rounds" / "latest" / "sweep_state.json"


def _rounds_started(path: Path) -> int:
    try:
        return len(json.loads(path.read_text(encoding="utf-8"))["confirm_rounds"])
    except (OSError, ValueError, KeyError):  # not written yet, or being replaced
        return 0


@pytest.mark.slow
def test_sigkill_between_confirm_rounds_then_resume_repeats_no_round_and_loses_none(tmp_path: Path) -> None:
    from mlflow import MlflowClient

    driver = subprocess.Popen(gatesweep_cmd() + ["run", str(SPACE)], cwd=tmp_path, env=gatesweep_env(),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 600
    while _rounds_started(tmp_path / STATE) < 2 and time.monotonic() < deadline and driver.poll() is None:
        time.sleep(0.1)
    assert driver.poll() is None, "the sweep ended before its second round"
    os.killpg(driver.pid, signal.SIGKILL)  # the driver and its local Ray, as round 2 starts
    driver.wait(timeout=60)

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    exp = client.get_experiment_by_name("rounds")
    (parent,) = client.search_runs([exp.experiment_id], "tags.`gatesweep.role` = 'sweep'")
    proc = run_gatesweep(["resume", parent.info.run_id], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    state = json.loads((tmp_path / STATE).read_text(encoding="utf-8"))
    rounds = state["confirm_rounds"]
    # a clear difference (damped) is decided after round 1; a dataset without one (nile) goes on to max_seeds
    assert rounds == [["damped", "nile"], ["nile"]], rounds

    runs = client.search_runs([exp.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    keys = [r.data.tags["gatesweep.key"] for r in runs]
    assert len(keys) == len(set(keys)), "a child run was written twice"
    for ds in ("damped", "nile"):
        last = max(k for k, datasets in enumerate(rounds, 1) if ds in datasets)
        assert all(ds in datasets for datasets in rounds[:last]), rounds  # a dataset leaves and never comes back
        for arch in ("gru", "lstm"):
            seeds = sorted(int(r.data.tags["gatesweep.index"]) for r in runs if r.info.status == "FINISHED"
                           and r.data.tags["gatesweep.dataset"] == ds and r.data.tags["gatesweep.arch"] == arch)
            assert seeds == list(range(3 * last)), (ds, arch, seeds)  # every seed of its rounds, once

    verdict = json.loads((tmp_path / STATE).parent.joinpath("report", "verdict.json").read_text(encoding="utf-8"))
    (parent,) = client.search_runs([exp.experiment_id], "tags.`gatesweep.role` = 'sweep'")
    for v in verdict["datasets"]:
        ds, r = v["dataset"], v["rounds"]
        # the report replays the rule on the runs and reaches the decisions the driver acted on
        assert r["rounds"] == sum(ds in datasets for datasets in rounds)
        assert [step["n_gru"] for step in r["path"]] == [3 * k for k in range(1, r["rounds"] + 1)]
        assert (r["stop"] == "max_seeds") == (r["rounds"] == 2 and v["label"] == "inconclusive")
        assert parent.data.tags[f"gatesweep.confirm_stop.{ds}"] == r["stop"]
        history = client.get_metric_history(parent.info.run_id, f"verdict.{ds}.round_ratio")
        assert sorted(m.step for m in history) == list(range(1, r["rounds"] + 1))
        assert "after" in v["sentence"] and "rounds" in v["sentence"]
    by_name = {v["dataset"]: v for v in verdict["datasets"]}
    damped, nile = by_name["damped"], by_name["nile"]
    assert damped["label"] in ("gru", "lstm") and damped["rounds"]["stop"] == "decided", damped["sentence"]
    assert nile["label"] == "inconclusive" and "reached max_seeds" in nile["sentence"], nile["sentence"]
    # 3 seeds a side on damped, 6 on nile: what the same sweep run without a kill trains (18 confirm runs)
    assert sum(r.info.status == "FINISHED" for r in runs) == 2 * 3 + 2 * 6
    html = (tmp_path / STATE).parent.joinpath("report", "report.html").read_text(encoding="utf-8")
    assert "Confirm rounds" in html and "the ratio after each confirm round" in html
