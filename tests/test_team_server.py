"""A team's tracking server for real: PostgreSQL (a throwaway cluster on 127.0.0.1) behind `mlflow server
--app-name basic-auth`, users with passwords and permissions, everything stopped by its process id."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from pipeline.dev.mlflow_server import MlflowServer
from pipeline.dev.postgres import LocalPostgres, server_bindir
from tests.conftest import run_gatesweep, without_selection
from tests.test_mlflow_server import SPACE, _assert_mlflow_matches_tune, _children

ADMIN = {"MLFLOW_TRACKING_USERNAME": "admin", "MLFLOW_TRACKING_PASSWORD": "admin-Passw0rd-for-tests"}
ALICE = {"MLFLOW_TRACKING_USERNAME": "alice", "MLFLOW_TRACKING_PASSWORD": "alice-Passw0rd-1234"}
BOB = {"MLFLOW_TRACKING_USERNAME": "bob", "MLFLOW_TRACKING_PASSWORD": "bob-Passw0rd-12345"}  # READ only


@pytest.fixture(scope="module")
def team_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    if server_bindir() is None:
        pytest.fail("PostgreSQL's server binaries are not installed (apt-get install postgresql; .ci/run does)")
    root = tmp_path_factory.mktemp("team")
    db = LocalPostgres(root / "postgres").start()
    server = None
    try:
        server = MlflowServer(root / "mlflow", backend_store_uri=db.create_database("mlflow"),
                              admin_password=ADMIN["MLFLOW_TRACKING_PASSWORD"],
                              auth_database_uri=db.create_database("mlflow_auth")).start(timeout_s=180)
        with pytest.MonkeyPatch.context() as mp:
            for k, v in ADMIN.items():
                mp.setenv(k, v)
            from mlflow.server.auth.client import AuthServiceClient

            users = AuthServiceClient(server.url)
            for who in (ALICE, BOB):
                users.create_user(who["MLFLOW_TRACKING_USERNAME"], who["MLFLOW_TRACKING_PASSWORD"])
        yield server
    finally:
        if server is not None:
            server.stop()
        db.stop()


def _as(monkeypatch: pytest.MonkeyPatch, who: dict[str, str]) -> None:
    for k, v in who.items():
        monkeypatch.setenv(k, v)


def _one_line_refusal(proc: Any, t0: float, words: str) -> None:
    assert time.monotonic() - t0 < 15, "the refusal took too long"
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in proc.stderr, proc.stderr


@pytest.mark.slow
def test_a_wrong_password_exits_2_at_once_and_starts_nothing(team_server: MlflowServer, tmp_path: Path) -> None:
    t0 = time.monotonic()
    proc = run_gatesweep(["run", str(without_selection(SPACE, tmp_path)), "--tracking-uri", team_server.url],
                         tmp_path, **{**ALICE, "MLFLOW_TRACKING_PASSWORD": "not-her-password"})
    _one_line_refusal(proc, t0, "authentication failed for user 'alice'")
    assert not (tmp_path / "gatesweep-output").exists()
    t0 = time.monotonic()
    proc = run_gatesweep(["run", str(without_selection(SPACE, tmp_path)), "--tracking-uri", team_server.url],
                         tmp_path, MLFLOW_TRACKING_USERNAME="", MLFLOW_TRACKING_PASSWORD="")
    _one_line_refusal(proc, t0, "authentication failed: the server wants a user")


@pytest.mark.slow
def test_a_user_without_write_permission_exits_2_and_starts_nothing(team_server: MlflowServer, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow import MlflowClient

    _as(monkeypatch, ADMIN)
    client = MlflowClient(team_server.url)
    name = "bob-may-only-read"
    exp_id = client.create_experiment(name)  # bob has the default permission on it: READ
    spec = without_selection(SPACE, tmp_path)
    spec.write_text(spec.read_text(encoding="utf-8").replace("name: tiny-e2e", f"name: {name}"), encoding="utf-8")
    assert f"name: {name}" in spec.read_text(encoding="utf-8")
    t0 = time.monotonic()
    proc = run_gatesweep(["run", str(spec), "--tracking-uri", team_server.url], tmp_path, **BOB)
    _one_line_refusal(proc, t0, f"permission denied: user 'bob' may not write to experiment '{name}'")
    assert not (tmp_path / "gatesweep-output").exists()
    assert client.search_runs([exp_id]) == []  # no parent run, nothing half-made


@pytest.mark.slow
def test_a_sweep_against_postgresql_behind_basic_auth(team_server: MlflowServer, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """alice runs the sweep with her password; MLflow holds exactly what Tune ran; report and export work
    against the server, and bob (read-only) can rebuild the report but not write."""
    proc = run_gatesweep(["run", str(without_selection(SPACE, tmp_path)), "--tracking-uri", team_server.url],
                         tmp_path, **ALICE)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "View run" not in proc.stdout  # MLflow's per-run URL lines are suppressed
    seconds = json.loads(re.search(r"seconds: (\{.*\})", proc.stdout).group(1))
    # what the sweep waited for is part of its time (all calls, summed over the writer's threads, need not be)
    assert 0 < seconds["mlflow_blocking"] < seconds["total"] and seconds["mlflow_calls"] > 0
    _as(monkeypatch, ALICE)
    _assert_mlflow_matches_tune(tmp_path, team_server.url)
    parent = re.search(r"parent run: ([0-9a-f]{32})", proc.stdout).group(1)
    from mlflow import MlflowClient

    run = MlflowClient(team_server.url).get_run(parent)
    assert run.info.status == "FINISHED"
    assert "report/report.html" in {a.path for a in MlflowClient(team_server.url).list_artifacts(parent, "report")}
    for fmt in ("csv", "parquet"):
        out = tmp_path / f"runs.{fmt}"
        exp = run_gatesweep(["export", parent, "--format", fmt, "--output", str(out),
                             "--tracking-uri", team_server.url], tmp_path, **ALICE)
        assert exp.returncode == 0, exp.stderr
        table = pd.read_csv(out) if fmt == "csv" else pd.read_parquet(out)
        assert len(table) == len(_children(team_server.url))
        assert {"run_name", "role", "arch", "dataset", "seed", "hidden_size", "val_rmse"} <= set(table.columns)
    first = json.loads((tmp_path / "gatesweep-output" / "tiny-e2e" / "latest" / "report" / "verdict.json")
                       .read_text(encoding="utf-8"))
    rebuilt = run_gatesweep(["report", parent, "--tracking-uri", team_server.url, "--out", str(tmp_path / "by-bob")],
                            tmp_path, **BOB)
    assert rebuilt.returncode == 0, rebuilt.stderr[-3000:]
    # bob may read but not write: the report is rebuilt locally, and he is told it is not in MLflow
    assert "permission denied: user 'bob' may not write the report to run" in rebuilt.stderr, rebuilt.stderr
    assert "Traceback" not in rebuilt.stderr
    again = json.loads((tmp_path / "by-bob" / "report" / "verdict.json").read_text(encoding="utf-8"))
    assert again["datasets"] == first["datasets"]
    t0 = time.monotonic()
    refused = run_gatesweep(["report", parent, "--tracking-uri", team_server.url], tmp_path,
                            **{**BOB, "MLFLOW_TRACKING_PASSWORD": "wrong"})
    _one_line_refusal(refused, t0, "authentication failed for user 'bob'")
