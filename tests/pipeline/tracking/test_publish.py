"""The report stage's writes (`pipeline.tracking.publish`) land where the MLflow contract says, on a real store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pipeline.tracking.contract import Artifacts, RunsView, Tags


@pytest.fixture
def parent(tmp_path: Path) -> tuple[Any, str, str]:
    """A client, a finished parent run whose earlier report failed, and its experiment."""
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.create_experiment("publish", artifact_location=(tmp_path / "artifacts").as_uri())
    run = client.create_run(experiment, run_name="s-sweep", tags={Tags.ROLE: "sweep", Tags.REPORT_FAILED: "earlier"})
    client.set_terminated(run.info.run_id)
    return client, run.info.run_id, experiment


def test_the_verdict_is_tagged_logged_to_4_digits_per_round_and_names_the_run(parent: tuple[Any, str, str]) -> None:
    from pipeline.tracking.publish import record_verdict

    client, run_id, experiment = parent
    record_verdict(client, run_id, experiment, tags={Tags.VERDICT: "gru", Tags.verdict_of("d"): "gru"},
                   metrics=[("verdict.d.ratio", 0.123456789, 0), ("verdict.d.round_ratio", 0.5, 1),
                            ("verdict.d.round_ratio", 0.61234, 2)],
                   run_name="s-sweep: d gru", failed_before=True)
    run = client.get_run(run_id)
    assert run.data.tags[Tags.VERDICT] == "gru" and run.data.tags[Tags.verdict_of("d")] == "gru"
    assert Tags.REPORT_FAILED not in run.data.tags
    assert run.data.metrics["verdict.d.ratio"] == 0.1235
    assert [(m.step, m.value) for m in sorted(client.get_metric_history(run_id, "verdict.d.round_ratio"),
                                              key=lambda m: m.step)] == [(1, 0.5), (2, 0.6123)]
    assert (run.info.run_name, run.info.status) == ("s-sweep: d gru", "FINISHED")
    assert json.loads(client.get_experiment(experiment).tags[RunsView.TAG]) == json.loads(RunsView.state())


def test_the_report_goes_under_report_and_its_page_at_the_root_a_picture_on_its_run(
        parent: tuple[Any, str, str], tmp_path: Path) -> None:
    from pipeline.tracking.publish import log_forecast_picture, log_report

    client, run_id, experiment = parent
    report = tmp_path / "report"
    (report / "figures").mkdir(parents=True)
    (report / "report.html").write_text("<h1>r</h1>", encoding="utf-8")
    (report / "figures" / "f.png").write_bytes(b"png")
    log_report(client, run_id, report)
    listed = {a.path for a in client.list_artifacts(run_id)} | {a.path for a in client.list_artifacts(run_id, "report")}
    assert {Artifacts.REPORT_HTML_ROOT, Artifacts.REPORT_HTML, "report/figures"} <= listed
    child = client.create_run(experiment, tags={Tags.PARENT: run_id})
    log_forecast_picture(client, child.info.artifact_uri, b"\x89PNG")
    at = Path(client.download_artifacts(child.info.run_id, Artifacts.FORECAST_PNG, str(tmp_path / "down")))
    assert at.read_bytes() == b"\x89PNG"
