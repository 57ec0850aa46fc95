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


def _night(client: MlflowClient, exp: str, useful: str | None) -> str:
    tags = {"gatesweep.role": "sweep", "gatesweep.nightly": "true", "gatesweep.verdict": "lstm",
            "gatesweep.verdict.sines": "lstm"} | ({"gatesweep.useful.sines": useful} if useful else {})
    run = client.create_run(exp, tags=tags)
    client.set_terminated(run.info.run_id, "FINISHED")
    time.sleep(0.05)
    return run.info.run_id


def test_each_night_carries_whether_a_network_was_worth_using_and_older_nights_read_as_a_dash(tmp_path: Path) -> None:
    from reports.render import _nightly_lines

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    exp = client.create_experiment("by-hand")
    before = _night(client, exp, None)  # a night from before the usefulness rule: no tag
    last = _night(client, exp, "baseline:ets")
    _, parent_id, _ = log_hand_made_runs(uri)
    client.set_tag(parent_id, "gatesweep.nightly", "true")
    verdict = compute_verdict(client, parent_id)[0]
    nightly = verdict.nightly
    assert nightly is not None
    rows = {h.run_id: h.datasets["sines"].useful for h in nightly.history}
    tonight = verdict.datasets[0].useful
    assert tonight is not None and rows == {parent_id: tonight.useful, last: "baseline:ets", before: None}
    lines = _nightly_lines(nightly)
    assert sum("sines: lstm, useful baseline:ets, " in ln for ln in lines) == 1
    assert sum("sines: lstm, useful –, " in ln for ln in lines) == 1
    assert f"sines: gru, useful {tonight.useful}, " in lines[-3]
    assert tonight.useful == "untestable"  # hand-made runs have no baselines.json
    assert "sines: worth using changed since the last night: baseline:ets -> untestable" in nightly.flags.details
