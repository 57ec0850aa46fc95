"""gatesweep against a real `mlflow server`: the contract over HTTP, fail-fast checks, and outages."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from pipeline.dev.mlflow_server import MlflowServer, free_port
from tests.conftest import DATA, run_gatesweep, without_selection

SPACE = DATA / "valid" / "tiny_e2e.yaml"  # run without its selection phase (`without_selection`)
HOME = Path("gatesweep-output") / "tiny-e2e"
OUT = HOME / "latest"  # the newest sweep's own directory


def _children(url: str) -> list[Any]:
    from mlflow import MlflowClient

    client = MlflowClient(url)
    exp = client.get_experiment_by_name("tiny-e2e")
    parent = client.search_runs([exp.experiment_id], "tags.`gatesweep.role` = 'sweep'")[0]
    return client.search_runs([exp.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")


def _tune_results(cwd: Path) -> dict[str, dict[str, Any]]:
    """Ray Tune's own record of every finished trial, keyed like the MLflow runs."""
    from ray.tune import ExperimentAnalysis

    from pipeline.core.jobs import Job

    out = {}
    for exp_dir in sorted((cwd / OUT / "ray_results").iterdir()):
        for trial in ExperimentAnalysis(str(exp_dir.resolve())).trials:
            job = Job.from_config(trial.config)
            out[job.key] = {"job": job, "result": trial.last_result, "status": trial.status}
    return out


def _assert_mlflow_matches_tune(cwd: Path, url: str) -> None:
    tune_results = _tune_results(cwd)
    runs = _children(url)
    keys = [r.data.tags["gatesweep.key"] for r in runs]
    assert len(keys) == len(set(keys)), "a child run was written twice"
    by_key = {r.data.tags["gatesweep.key"]: r for r in runs}
    assert set(by_key) == set(tune_results)
    for key, tuned in tune_results.items():
        run = by_key[key]
        assert tuned["status"] == "TERMINATED" and run.info.status == "FINISHED", key
        for name in ("hidden_size", "learning_rate", "window", "epochs"):
            assert run.data.params[name] == str(getattr(tuned["job"].hp, name)), (key, name)
        scores = ("test_mase",) if tuned["job"].phase == "confirm" else ("val_mase",)  # a final fit has no validation
        for name in scores + ("n_params", "train_seconds"):
            assert run.data.metrics[name] == pytest.approx(tuned["result"][name]), (key, name)
        assert run.data.tags["gatesweep.seed"] == str(tuned["job"].seed)


def _stop_after_children(server: MlflowServer, n: int, then: Any = None) -> threading.Thread:
    """Stop the server once it holds `n` child runs (read from its own SQLite file), then call `then`."""
    def watch() -> None:
        db = server.root / "server.db"
        while True:
            time.sleep(0.5)
            try:
                with sqlite3.connect(db) as con:
                    count = con.execute("select count(*) from tags where key = 'mlflow.parentRunId'").fetchone()[0]
            except sqlite3.Error:
                continue
            if count >= n:
                server.stop()
                if then:
                    then()
                return

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_unreachable_store_exits_fast_with_one_line_and_starts_nothing(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    t0 = time.monotonic()
    proc = run_gatesweep(["run", str(without_selection(SPACE, tmp_path)), "--tracking-uri", url], tmp_path)
    assert time.monotonic() - t0 < 15
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and url in lines[0] and "Traceback" not in proc.stderr, proc.stderr
    assert not (tmp_path / "gatesweep-output").exists()  # no Ray trial started, nothing written


@pytest.mark.slow
def test_server_stopped_mid_sweep_and_restarted_loses_nothing(tmp_path: Path) -> None:
    server = MlflowServer(tmp_path / "server").start()

    def restart_later() -> None:
        time.sleep(8)
        server.start()

    watcher = _stop_after_children(server, 2, restart_later)
    try:
        proc = run_gatesweep(["run", str(without_selection(SPACE, tmp_path)), "--tracking-uri", server.url], tmp_path)
        watcher.join(timeout=120)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert "retrying" in proc.stderr  # the outage really happened while the sweep ran
        _assert_mlflow_matches_tune(tmp_path, server.url)
        assert (tmp_path / OUT / "report" / "verdict.json").exists()
    finally:
        server.stop()


@pytest.mark.slow
def test_server_that_never_returns_keeps_results_for_sync(tmp_path: Path) -> None:
    server = MlflowServer(tmp_path / "server").start()
    watcher = _stop_after_children(server, 2)
    try:
        proc = run_gatesweep(["run", str(without_selection(SPACE, tmp_path)), "--tracking-uri", server.url], tmp_path,
                          GATESWEEP_MLFLOW_FLUSH_TIMEOUT_S="5")
        watcher.join(timeout=60)
        assert proc.returncode == 1
        assert f"gatesweep sync {HOME}/" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr[-3000:]
        pending = list((tmp_path / OUT / "outbox" / "pending").glob("*.json"))
        assert pending, "the unwritten runs must be on disk"
        server.start()
        for _ in range(2):  # a second sync must not duplicate anything
            sync = run_gatesweep(["sync", str(HOME)], tmp_path)  # the home: its latest sweep
            assert sync.returncode == 0, sync.stderr[-3000:]
            _assert_mlflow_matches_tune(tmp_path, server.url)
        assert not list((tmp_path / OUT / "outbox" / "pending").glob("*.json"))
        assert (tmp_path / OUT / "report" / "verdict.json").exists()
    finally:
        server.stop()


@pytest.mark.slow
def test_mlflow_benchmark_measures_a_real_server(tmp_path: Path) -> None:
    """`gatesweep bench --mlflow`: a sweep against a server it starts, then the same writes on the idle server."""
    space = without_selection(SPACE, tmp_path)
    proc = run_gatesweep(["bench", "--mlflow", str(space), "--json", str(tmp_path / "b.json")], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads((tmp_path / "b.json").read_text())
    assert r["runs"] == 4 + 6 + 3  # 2 trials per cell, 3 confirm seeds per arch, 3 parameter-matched GRU seeds
    assert 0 < r["waited_s"] < r["wall_s"] and r["waited_share"] == pytest.approx(r["waited_s"] / r["wall_s"])
    # every call on the main thread is also among all calls; the writer's calls come on top
    assert r["main_thread_calls_s"] < r["all_calls_s"]
    by_method = r["by_method"]
    assert by_method["create_run"][0] == r["runs"] + 1  # the children and the parent
    # the parent's baselines.json (1), forecasts.json of each confirm run (9), then the report's forecast.png of each
    # chosen confirm run (6); each confirm run's network is a pyfunc model, saved then logged as one directory (9)
    assert by_method["artifacts.log_artifact"][0] == 1 + 9 + 6
    assert by_method["artifacts.log_artifacts"][0] == by_method["pyfunc.save_model"][0] == 9
    assert "log_dict" not in by_method and "download_artifacts" not in by_method
    assert r["server_cpu_s"] > 0 and r["writer_cpu_s"] > 0 and r["replay_calls_s"] > 0
    assert r["baseline_rows"] in range(2, 13, 2)  # loss and val_loss for each epoch of the longest run (<= 6)
    assert "sweep waited on MLflow" in proc.stdout and "one call per metric" in proc.stdout
