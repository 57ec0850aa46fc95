"""Trials that really fail (the loss becomes NaN) are recorded, retried, counted, and never stop the sweep."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import DATA, local_runs, run_gatesweep


@pytest.mark.slow
def test_diverging_trials_are_failed_runs_with_their_error_and_the_sweep_finishes(tmp_path: Path) -> None:
    proc = run_gatesweep(["run", str(DATA / "valid" / "faults.yaml")], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    _, runs = local_runs(tmp_path, "faults", "tags.`gatesweep.role` = 'trial'")
    failed = [r for r in runs if r.info.status == "FAILED"]
    assert failed, "the sweep file makes some trials diverge"
    client, _ = local_runs(tmp_path, "faults")
    for run in failed:
        assert "TrainingDiverged" in run.data.tags["gatesweep.error"] and "nan" in run.data.tags["gatesweep.error"]
        assert "error.txt" in {a.path for a in client.list_artifacts(run.info.run_id)}  # the whole story
    finals = [r for r in failed if "gatesweep.attempt" not in r.data.tags]
    retries = [r for r in failed if "gatesweep.attempt" in r.data.tags]
    assert len(retries) == len(finals)  # max_failures: 1 -> one retry, then the final failure
    verdict = json.loads((tmp_path / "gatesweep-output" / "faults" / "latest" / "report" / "verdict.json").read_text())
    counted = sum(c["failed"] for c in verdict["counts"]["trial"].values())
    assert counted == len(failed)
    for arch in ("gru", "lstm"):  # the tune budget is spent: every trial index ran to an end
        indices = {r.data.tags["gatesweep.index"] for r in runs if r.data.tags["gatesweep.arch"] == arch}
        assert indices == {"0", "1", "2", "3"}
