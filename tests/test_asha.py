"""ASHA stops weak tune-phase trials early, with the same rungs for both architectures; the confirm phase
always trains to full length (the epochs its final fit was given)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import DATA, local_runs, run_gatesweep


@pytest.mark.slow
def test_asha_stops_some_trials_and_never_a_confirm_run(tmp_path: Path) -> None:
    proc = run_gatesweep(["run", str(DATA / "valid" / "asha.yaml")], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    client, runs = local_runs(tmp_path, "asha", "tags.`gatesweep.role` != 'sweep'")

    def epochs(run: object) -> int:
        return len(client.get_metric_history(run.info.run_id, "loss"))

    stopped = [r for r in runs if r.data.tags.get("gatesweep.stopped_early") == "true"]
    assert stopped and all(r.data.tags["gatesweep.role"] == "trial" for r in stopped)
    assert all(epochs(r) < 60 for r in stopped)
    confirms = [r for r in runs if r.data.tags["gatesweep.role"] == "confirm"]
    # the final fit trains every epoch early stopping chose on validation, never stopped by the scheduler
    assert len(confirms) == 4 and all(epochs(r) == int(r.data.params["epochs"]) and r.info.status == "FINISHED"
                                      and "gatesweep.stopped_early" not in r.data.tags for r in confirms)
