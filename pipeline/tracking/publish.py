"""The report stage's writes to MLflow: the report's files on the parent run, each confirm run's forecast picture,
and the verdict on the parent (its tags, the description among them, its metrics and its name).

The report stage (`reports.build`) decides what to write and reads MLflow; writing it is done here, on the
tracking side, in the names of the MLflow contract (`pipeline.tracking.contract`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from mlflow.entities import Metric, RunTag

from pipeline.tracking.client import TrackingClient
from pipeline.tracking.contract import Artifacts, Metrics, RunsView, Tags
from pipeline.tracking.mlflow_io import write_artifact_bytes

__all__ = ["log_forecast_picture", "log_report", "record_verdict"]


def log_report(client: TrackingClient, parent_run_id: str, report_dir: Path) -> None:
    """The report's directory under `report/` of the parent run, and its page again at the artifact root (the run's
    Artifacts tab lists it first). The report's first writes: a server that refuses this user refuses them here."""
    client.log_artifacts(parent_run_id, str(report_dir), Artifacts.REPORT_DIR)
    client.log_artifact(parent_run_id, str(report_dir / Artifacts.REPORT_HTML_ROOT))


def log_forecast_picture(client: TrackingClient, artifact_uri: str, png: bytes) -> None:
    """A confirm run's picture of its test forecasts against the actuals, `forecast.png` in its artifacts."""
    write_artifact_bytes(client, artifact_uri, Artifacts.FORECAST_PNG, png)


def record_verdict(client: TrackingClient, parent_run_id: str, experiment_id: str, *, tags: dict[str, str],
                   metrics: Sequence[tuple[str, float, int]], run_name: str, failed_before: bool) -> None:
    """The verdict on the parent run: `tags` and `metrics` (name, value, step: a confirm round, else 0) in one batch,
    each value shown to 4 significant digits (`Metrics.shown`), then the run renamed (its status and end time stay).

    Also sets the runs table's view on the experiment (`RunsView`: the description links it, and an experiment from
    before it has none), and removes `gatesweep.report_failed` when an earlier attempt left it (`failed_before`).
    """
    client.set_experiment_tag(experiment_id, RunsView.TAG, RunsView.state())
    now = int(time.time() * 1000)
    client.log_batch(parent_run_id, metrics=[Metric(k, Metrics.shown(float(x)), now, step) for k, x, step in metrics],
                     tags=[RunTag(k, v) for k, v in tags.items()])
    if failed_before:
        client.delete_tag(parent_run_id, Tags.REPORT_FAILED)
    client.update_run(parent_run_id, name=run_name)
