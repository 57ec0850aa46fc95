"""The nightly flags fire when they should: an earlier night logged by hand with another verdict."""

from __future__ import annotations

import time
from pathlib import Path

from mlflow import MlflowClient
from mlflow.entities import Metric, RunTag

from reports import compute_verdict
from tests.reports.hand_made import log_hand_made_runs


def test_verdict_change_and_worse_mase_are_flagged(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    exp = client.create_experiment("by-hand")
    last_night = client.create_run(exp, tags={"gatesweep.role": "sweep", "gatesweep.nightly": "true",
                                              "gatesweep.code_version": "abc", "gatesweep.data.sines": "f00"})
    lid = last_night.info.run_id
    now = int(time.time() * 1000)
    client.log_batch(lid, metrics=[Metric("verdict.sines.ratio", 1.1, now, 0),
                                   Metric("verdict.sines.ratio_ci_low", 1.05, now, 0),
                                   Metric("verdict.sines.ratio_ci_high", 1.15, now, 0),
                                   Metric("test_mase.sines.gru.mean", 0.5, now, 0),
                                   Metric("test_mase.sines.gru.ci_low", 0.45, now, 0),
                                   Metric("test_mase.sines.gru.ci_high", 0.55, now, 0)],
                     tags=[RunTag("gatesweep.verdict", "lstm"), RunTag("gatesweep.verdict.sines", "lstm")])
    client.set_terminated(lid, "FINISHED")
    time.sleep(0.05)
    _, parent_id, _ = log_hand_made_runs(uri)  # tonight: GRU wins, GRU mean test MASE about 0.8
    client.set_tag(parent_id, "gatesweep.nightly", "true")
    nightly = compute_verdict(client, parent_id)[0].nightly
    assert nightly is not None and nightly.previous_run_id == lid
    flags = nightly.flags
    assert flags.verdict_changed and flags.mase_worse
    assert any("verdict changed since the last night: lstm -> gru" in d for d in flags.details)
    assert any("GRU mean test MASE" in d and "0.55" in d for d in flags.details)
