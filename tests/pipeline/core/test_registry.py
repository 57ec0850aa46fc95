"""The Model Registry against real MLflow stores: the `champion` rule (SQLite: each sweep registers a new version
of `<sweep>.<dataset>`, and the alias moves to it only when its test MASE is at most the champion's; the version
and the sweep's parent run say why), and an `mlflow server` outage during the model upload (nothing lost)."""

from __future__ import annotations

import base64
import json
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pipeline.core.ensemble import EnsembleInfo, SeriesHistory
from pipeline.core.hparams import HParams
from pipeline.core.scoring import Scoring
from pipeline.core.training import fit_and_score

N, HORIZON = 60, 2
SERIES = 5 + np.sin(np.arange(N) / 3)
HP = HParams.of("gru", dict(hidden_size=4, window=8, batch_size=16, epochs=1, optimizer="adam", learning_rate=0.01))


@pytest.fixture(scope="module")
def network() -> dict[str, tuple[str, bytes]]:
    """One real network (a GRU of 4 units, one epoch): what a model version carries."""
    model = fit_and_score(HP, SERIES, Scoring(horizon=HORIZON), seed=0, evaluate_test=True, keep_model=True,
                          refit=True).model
    assert model is not None
    return {"run0": (json.dumps(model["state"]), base64.b64decode(model["weights"]))}


def _info(parent: str, test_mase: float) -> EnsembleInfo:
    return EnsembleInfo(sweep="nightly", dataset="sim", arch="gru", parent_run_id=parent, runs=["run0"],
                        horizon=HORIZON, half_widths={"80": [1.0, 1.5], "95": [2.0, 3.0]}, calibration_origins=9,
                        test_mase=test_mase, series=[SeriesHistory(id="series", values=SERIES.tolist(),
                                                                   mase_scale=0.3, test_origins=list(range(50, 58)))])


def test_champion_moves_only_to_a_version_at_least_as_good(network: dict[str, tuple[str, bytes]],
                                                           tmp_path: Path) -> None:
    import mlflow

    from pipeline.tracking.contract import Tags
    from pipeline.tracking.ensemble import CHAMPION, CHAMPION_TAG, log_and_register

    client = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.create_experiment("nightly", artifact_location=(tmp_path / "artifacts").as_uri())

    def nightly(test_mase: float) -> tuple[str, str]:
        parent = client.create_run(experiment).info.run_id
        value = log_and_register(client, parent, _info(parent, test_mase), network)
        assert client.get_run(parent).data.tags[Tags.model_of("sim")] == value
        return parent, value

    def champion() -> Any:
        return client.get_model_version_by_alias("nightly.sim", CHAMPION)

    _, first = nightly(1.0)
    assert first == "models:/nightly.sim/1 (champion)" and str(champion().version) == "1"
    assert client.get_model_version("nightly.sim", "1").tags[CHAMPION_TAG] == "yes: the first version with a test MASE"

    _, worse = nightly(1.2)  # a worse night: version 2 exists, the alias stays, and both places say why
    assert str(champion().version) == "1"
    why = "no: test MASE 1.200 > version 1's 1.000; version 1 stays champion"
    assert client.get_model_version("nightly.sim", "2").tags[CHAMPION_TAG] == why
    assert worse == f"models:/nightly.sim/2 (not champion: {why.removeprefix('no: ')})"

    _, broken = nightly(math.nan)  # a night without a finite score never takes it
    assert str(champion().version) == "1" and "(not champion: the test MASE is nan" in broken

    _, better = nightly(0.9)
    assert better == "models:/nightly.sim/4 (champion)" and str(champion().version) == "4"
    moved = "yes: test MASE 0.9000 <= version 1's 1.000"
    assert client.get_model_version("nightly.sim", "4").tags[CHAMPION_TAG] == moved

    tied, tie = nightly(0.9)  # at least as good: a tie moves it too
    assert tie == "models:/nightly.sim/5 (champion)" and str(champion().version) == "5"

    mlflow.set_tracking_uri(client.tracking_uri)
    try:
        model = mlflow.pyfunc.load_model("models:/nightly.sim@champion")
    finally:
        mlflow.set_tracking_uri("")
    assert model.unwrap_python_model().ensemble.info.parent_run_id == tied  # the alias loads the newest equal


def test_an_outage_during_the_model_upload_loses_nothing(network: dict[str, tuple[str, bytes]], tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The model is saved and queued while the `mlflow server` is down: the upload waits out its timeout and keeps
    the model on disk; once the server is up, a new process (what `gatesweep sync` runs) pushes the kept record as
    it is. An upload cut short after it registered (its record not yet moved to done) pushed again adds no version.
    (The server is down first and started once, rather than stopped and restarted: one start is most of the
    test's time.)"""
    import mlflow

    from pipeline.dev.mlflow_server import MlflowServer
    from pipeline.tracking.contract import Tags
    from pipeline.tracking.uploads import ModelsPending, ModelUploads

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # fail fast while it is down (the outbox retries)
    server = MlflowServer(tmp_path / "server")
    store = mlflow.MlflowClient(server.backend_store_uri)  # the sweep's parent run, written before the outage
    parent = store.create_run(store.create_experiment("nightly", (tmp_path / "artifacts").as_uri())).info.run_id
    client = mlflow.MlflowClient(server.url)
    sweep_dir = tmp_path / "sweep"
    uploads = ModelUploads(sweep_dir, client, parent)
    uploads.put(_info(parent, 1.0), network)
    t0 = time.perf_counter()
    with pytest.raises(ModelsPending, match=r"^1 model\(s\) not yet in MLflow \(sim: .*\); nothing lost, they are "
                                            rf"kept in {sweep_dir / 'models' / parent}$") as pending:
        uploads.finish(timeout_s=2)
    assert pending.value.note.startswith(f"`gatesweep sync {sweep_dir} --tracking-uri {server.url}` registers them")
    assert time.perf_counter() - t0 < 10
    outbox = sweep_dir / "outbox" / "models" / parent
    assert (outbox / "pending" / "sim.json").exists() and (sweep_dir / "models" / parent / "sim" / "MLmodel").exists()

    server.start()
    try:
        assert client.search_model_versions("name = 'nightly.sim'") == []
        again = ModelUploads(sweep_dir, client, parent)
        assert again.pending() == {"sim"}
        assert again.finish(timeout_s=30) == {"sim": "models:/nightly.sim/1 (champion)"}
        assert client.get_run(parent).data.tags[Tags.model_of("sim")] == "models:/nightly.sim/1 (champion)"
        assert {a.path for a in client.list_artifacts(parent, "models/sim")} >= {"models/sim/MLmodel",
                                                                                 "models/sim/artifacts"}
        os.replace(outbox / "done" / "sim.json", outbox / "pending" / "sim.json")
        assert ModelUploads(sweep_dir, client, parent).finish(timeout_s=30) == {
            "sim": "models:/nightly.sim/1 (champion)"}
        assert [str(v.version) for v in client.search_model_versions("name = 'nightly.sim'")] == ["1"]
    finally:
        server.stop()


def test_models_a_rebuilt_report_left_pending_are_registered_by_the_sync_it_names(
        network: dict[str, tuple[str, bytes]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """`gatesweep report PARENT --out DIR` while the store is away: the model waits in DIR (no sweep state there),
    the line the command prints names `gatesweep sync DIR --tracking-uri URI`, and that command registers it."""
    import mlflow

    from pipeline.app.cli import main
    from pipeline.core.errors import ReportFailed
    from pipeline.dev.mlflow_server import free_port
    from pipeline.tracking.contract import Tags
    from pipeline.tracking.uploads import ModelsPending, ModelUploads

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    store = mlflow.MlflowClient(uri)
    parent = store.create_run(store.create_experiment("nightly", (tmp_path / "artifacts").as_uri())).info.run_id
    out, away = tmp_path / "rebuilt", f"http://127.0.0.1:{free_port()}"  # nothing listens there: the store is away
    uploads = ModelUploads(out, mlflow.MlflowClient(away), parent)
    uploads.put(_info(parent, 1.0), network)
    with pytest.raises(ModelsPending) as pending:
        uploads.finish(timeout_s=1)
    failed = ReportFailed("registering the recommended forecaster", pending.value)
    assert failed.note == f"`gatesweep sync {out} --tracking-uri {away}` registers them once MLflow takes them"
    assert main(["sync", str(out), "--tracking-uri", uri]) == 0
    assert capsys.readouterr().out.splitlines() == [f"sim: models:/nightly.sim/1 (champion) (parent run {parent})"]
    assert store.get_run(parent).data.tags[Tags.model_of("sim")] == "models:/nightly.sim/1 (champion)"
    assert ModelUploads(out, store, parent).pending() == set()
