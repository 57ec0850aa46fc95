"""A confirm run's trained network as an MLflow pyfunc model on that run, `runs:/<run id>/model`: a seed ensemble of
one (`pipeline.tracking.ensemble`: logged from code, nothing pickled, the same signature and `predict`), its
intervals split conformal from the run's own errors at the test origins.

The sweep's tracker logs it with the rest of the run, so it travels through the runs' outbox: an MLflow outage
loses nothing, and a push cut short is redone whole. It keeps no series values (the run's `forecasts.json` has
them; a copy per confirm run would grow the store with the data), so it forecasts the frame it is given. Its
network lies at `model/artifacts/ensemble/networks/<run id>/` (`state.json`, `weights.npz`), where the hand-over
reads it (`read_network`); runs logged before it carry the same two files as `model/state.json` and
`model/weights.npz`.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from pipeline.core.ensemble import NETWORKS, EnsembleInfo, ensemble_info, series_of
from pipeline.tracking.client import TrackingClient
from pipeline.tracking.contract import Artifacts
from pipeline.tracking.ensemble import ARTIFACT, save_model
from pipeline.tracking.mlflow_io import artifact_repository, read_artifact_bytes


def run_model_info(sweep: str, parent_run_id: str, dataset: str, arch: str, run_id: str,
                   forecasts: dict[str, Any], state: dict[str, Any]) -> EnsembleInfo:
    """The one-network model of confirm run `run_id` (`forecasts`: its `forecasts.json`, `state`: its network's)."""
    return ensemble_info(sweep, dataset, arch, "median", parent_run_id, [run_id], [series_of(forecasts)],
                         state).without_history()


def log_run_model(client: TrackingClient, artifact_uri: str, info: EnsembleInfo, network: tuple[str, bytes]) -> None:
    """Save the model (`network`: state JSON, weights `.npz`) and log it under `model/` of the run at
    `artifact_uri`. A client that times its calls (the sweep's) counts the save as `pyfunc.save_model`."""
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        directory = save_model(Path(tmp) / Artifacts.MODEL_DIR, info, {info.runs[0]: network})
        if (times := getattr(client, "times", None)) is not None:
            times.add("pyfunc.save_model", time.perf_counter() - t0)
        artifact_repository(client, artifact_uri).log_artifacts(str(directory), Artifacts.MODEL_DIR)


def network_dir(run_id: str) -> str:
    """Where a confirm run's model keeps its network, in the run's artifacts."""
    return f"{Artifacts.MODEL_DIR}/artifacts/{ARTIFACT}/{NETWORKS}/{run_id}"


def read_network(client: TrackingClient, artifact_uri: str, run_id: str) -> tuple[str, bytes] | None:
    """Confirm run `run_id`'s network (state JSON, weights `.npz`) from its model, or from the two plain files of a
    run logged before it; None when the run kept none."""
    for state_path, weights_path in ((f"{network_dir(run_id)}/state.json", f"{network_dir(run_id)}/weights.npz"),
                                     (Artifacts.MODEL_STATE, Artifacts.MODEL_WEIGHTS)):
        state = read_artifact_bytes(client, artifact_uri, state_path)
        if state is not None:
            weights = read_artifact_bytes(client, artifact_uri, weights_path)
            return None if weights is None else (state.decode(), weights)
    return None
