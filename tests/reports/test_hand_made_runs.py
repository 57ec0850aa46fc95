"""Runs that follow the MLflow contract but were logged by hand are reported like the sweep's own."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipeline.core.config import ReportSpec
from pipeline.verdict.stats import compare_architectures
from reports import build_report, compute_verdict
from reports.wording import worded
from tests.reports.hand_made import log_hand_made_runs


@pytest.fixture()
def hand_made(tmp_path: Path) -> tuple[object, str, pd.DataFrame]:
    return log_hand_made_runs(f"sqlite:///{tmp_path / 'mlflow.db'}")


def test_hand_made_runs_get_the_same_verdict(hand_made: tuple[object, str, pd.DataFrame]) -> None:
    client, parent_id, table = hand_made
    verdict, _ = compute_verdict(client, parent_id)
    (expected,) = worded(compare_architectures(table, {"sines": {"naive_mase": 1.4, "ar_mase": 1.2}}), ReportSpec())
    got = verdict.datasets[0]
    # what the report adds from the runs' artifacts and the parent
    from_mlflow = {"dm": None, "mase_ci": None, "baseline_mase": {}, "best_baseline": None,
                   "beats_best_baseline": None, "useful": None}
    assert got.model_copy(update=from_mlflow) == expected
    assert got.baseline_mase == {"naive": 1.4, "ar": 1.2} and got.best_baseline == "ar" and got.beats_best_baseline
    assert got.label == "gru"
    assert got.dm is not None and got.dm.available is False  # no forecasts were logged by hand
    per_epoch = verdict.cost["sines"].per_epoch
    assert per_epoch is not None and per_epoch.ci_high < 1  # GRU faster per epoch, as logged


def test_report_files_and_tags_for_hand_made_runs(hand_made: tuple[object, str, pd.DataFrame],
                                                  tmp_path: Path) -> None:
    client, parent_id, _ = hand_made
    first = build_report(client, parent_id, tmp_path / "a")
    build_report(client, parent_id, tmp_path / "b")
    a = (tmp_path / "a" / "report" / "verdict.json").read_bytes()
    assert a == (tmp_path / "b" / "report" / "verdict.json").read_bytes()
    html = (tmp_path / "a" / "report" / "report.html").read_text()
    assert "sines: GRU wins" in html and html.count("data:image/png;base64,") >= 3
    assert client.get_run(parent_id).data.tags["gatesweep.verdict.sines"] == first.datasets[0].label == "gru"
    # the run page opens on the name: it carries the verdict, and the run keeps its status
    run = client.get_run(parent_id)  # type: ignore[attr-defined]
    # no forecasts or baselines.json were logged by hand: no network can be recommended over the baselines
    assert run.info.run_name == f"{first.sweep}-sweep: sines GRU wins · useful: untestable"
    assert run.info.status == "FINISHED" and run.data.tags["gatesweep.useful.sines"] == "untestable"
