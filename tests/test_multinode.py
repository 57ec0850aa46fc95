"""A real multi-node Ray cluster on this machine: `ray start --head` plus a second `ray start --address`
node, one CPU each. Sweeps run on both nodes, through `--address` and through `ray job submit`, and a
worker node killed mid-sweep costs nothing but a retry."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline.dev.mlflow_server import free_port
from tests.conftest import DATA, gatesweep_env, local_runs, without_selection

SPACE = DATA / "valid" / "tiny_e2e.yaml"  # run without its selection phase (`without_selection`)
BIN = Path(sys.executable).parent


def _env() -> dict[str, str]:
    env = gatesweep_env(RAY_AUTH_MODE="token", PATH=f"{BIN}:{os.environ['PATH']}")
    env.pop("RAY_ADDRESS")  # the ray CLI reads an empty address as one
    return env


class LocalCluster:
    def __init__(self) -> None:
        self.port, self.dashboard = free_port(), free_port()
        self.workers: list[subprocess.Popen[bytes]] = []

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def dashboard_url(self) -> str:
        return f"http://127.0.0.1:{self.dashboard}"

    def start_head(self, cpus: int = 1, gpus: int = 0) -> None:
        # `ray start` in token mode needs a token; this creates ~/.ray/auth_token only if it is missing
        subprocess.run([str(BIN / "ray"), "get-auth-token", "--generate"], check=True, capture_output=True,
                       timeout=60, env=_env())
        subprocess.run([str(BIN / "ray"), "start", "--head", "--num-cpus", str(cpus), "--num-gpus", str(gpus),
                        "--port", str(self.port),
                        "--dashboard-host", "127.0.0.1", "--dashboard-port", str(self.dashboard),
                        "--include-dashboard=true", "--disable-usage-stats"],
                       check=True, capture_output=True, timeout=120, env=_env())

    def add_worker(self) -> subprocess.Popen[bytes]:
        """A worker node in its own process group (`--block`), so a test can kill the whole node."""
        proc = subprocess.Popen([str(BIN / "ray"), "start", "--address", self.address, "--num-cpus", "1",
                                 "--disable-usage-stats", "--block"], env=_env(), start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.workers.append(proc)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(self.alive_nodes()) < 1 + len(self.workers):
            time.sleep(0.5)
        return proc

    def alive_nodes(self) -> list[dict[str, Any]]:
        return self._list("nodes")

    def alive_actors(self) -> list[dict[str, Any]]:
        return self._list("actors")

    def _list(self, kind: str) -> list[dict[str, Any]]:
        """Ray's state API through its CLI, in a process with token auth on. (In this process an earlier
        test may already have imported Ray, which then keeps the auth mode it first saw.)"""
        proc = subprocess.run([str(BIN / "ray"), "list", kind, "--address", self.dashboard_url, "--filter",
                               "state=ALIVE", "--format", "json"], capture_output=True, text=True, timeout=60,
                              env=_env())
        if proc.returncode != 0 or not proc.stdout.lstrip().startswith("["):
            return []  # with nothing to list, the CLI prints "No resource in the cluster", not JSON
        return json.loads(proc.stdout)

    def stop(self) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        subprocess.run([str(BIN / "ray"), "stop", "--force"], capture_output=True, timeout=120, env=_env())


@pytest.fixture()
def cluster() -> Iterator[LocalCluster]:
    c = LocalCluster()
    c.start_head()
    try:
        c.add_worker()
        assert len(c.alive_nodes()) == 2
        yield c
    finally:
        c.stop()


def _nodes(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as con:
        return dict(con.execute("select value, count(*) from tags where key = 'gatesweep.node' group by value"))


@pytest.mark.slow
def test_sweep_runs_on_both_nodes_via_address_and_via_ray_job_submit(cluster: LocalCluster, tmp_path: Path) -> None:
    space = without_selection(SPACE, tmp_path)
    proc = subprocess.run([str(BIN / "gatesweep"), "run", str(space), "--address", cluster.address], cwd=tmp_path,
                          capture_output=True, text=True, timeout=900, env=_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(_nodes(tmp_path / "mlflow.db")) == 2  # child runs on both nodes

    db, out = tmp_path / "job.db", tmp_path / "job-out"
    job = subprocess.run([str(BIN / "ray"), "job", "submit", "--address", cluster.dashboard_url, "--",
                          "gatesweep", "run", str(space), "--tracking-uri", f"sqlite:///{db}", "--out", str(out)],
                         capture_output=True, text=True, timeout=900, env=_env())
    assert job.returncode == 0 and "succeeded" in job.stdout + job.stderr, (job.stdout + job.stderr)[-3000:]
    assert len(_nodes(db)) == 2 and (out / "latest" / "report" / "verdict.json").exists()


@pytest.mark.slow
def test_worker_node_killed_mid_sweep_retries_its_trials_elsewhere(cluster: LocalCluster, tmp_path: Path) -> None:
    worker_node = next(n["node_id"] for n in cluster.alive_nodes() if not n["is_head_node"])
    killed = threading.Event()

    def kill_when_busy() -> None:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            actors = cluster.alive_actors()
            if any(a.get("node_id") == worker_node and "ImplicitFunc" in a.get("class_name", "") for a in actors):
                os.killpg(cluster.workers[0].pid, signal.SIGKILL)  # the whole node, mid-trial
                killed.set()
                return
            time.sleep(0.3)

    killer = threading.Thread(target=kill_when_busy, daemon=True)
    killer.start()
    space = without_selection(SPACE, tmp_path)
    proc = subprocess.run([str(BIN / "gatesweep"), "run", str(space), "--address", cluster.address], cwd=tmp_path,
                          capture_output=True, text=True, timeout=900, env=_env())
    killer.join(timeout=10)
    assert killed.is_set(), "the worker node never held a trial"
    assert proc.returncode == 0, proc.stderr[-3000:]
    _, runs = local_runs(tmp_path, "tiny-e2e")
    keys = ("gatesweep.role", "gatesweep.arch", "gatesweep.index", "gatesweep.variant")
    finished = {tuple(r.data.tags.get(k) for k in keys) for r in runs
                if r.info.status == "FINISHED" and r.data.tags.get("gatesweep.role") in ("trial", "confirm")}
    expected = {("trial", a, str(i), None) for a in ("gru", "lstm") for i in range(2)}
    expected |= {("confirm", a, str(i), None) for a in ("gru", "lstm") for i in range(3)}
    expected |= {("confirm", "gru", str(i), "param_matched") for i in range(3)}
    assert finished == expected  # the full budget, despite the lost node
    failed = [r for r in runs if r.info.status == "FAILED"]
    assert failed and all("gatesweep.attempt" in r.data.tags for r in failed)  # the lost attempts, recorded


@pytest.mark.slow
def test_fractional_gpu_requests_pack_four_trials_on_one_logical_gpu(tmp_path: Path) -> None:
    """`resources: {cpus: 0.5, gpus: 0.25}` on a head with one logical GPU (this machine has none; Ray counts
    the slot all the same) and 8 logical CPUs: the GPU, not the CPUs, caps the trials at four at once, and
    each trial sees the GPU Ray assigned it in CUDA_VISIBLE_DEVICES. Concurrency is read from the child runs'
    start and end times, which are Tune's own trial start and end."""
    import yaml

    c = LocalCluster()
    c.start_head(cpus=8, gpus=1)
    try:
        spec = yaml.safe_load(SPACE.read_text(encoding="utf-8"))
        spec["search_space"]["epochs"] = 40  # long enough for trials to overlap
        spec |= {"budget": {"trials_per_cell": 4}, "confirm": {"seeds": 2, "max_seeds": 2, "candidates": 1, "top_k": 1,
                                                               "param_matched": False},
                 "resources": {"cpus": 0.5, "gpus": 0.25}}
        space = tmp_path / "gpu.yaml"
        space.write_text(yaml.safe_dump(spec), encoding="utf-8")
        proc = subprocess.run([str(BIN / "gatesweep"), "run", str(space), "--address", c.address], cwd=tmp_path,
                              capture_output=True, text=True, timeout=900, env=_env())
        assert proc.returncode == 0, proc.stderr[-3000:]
    finally:
        c.stop()
    _, runs = local_runs(tmp_path, "tiny-e2e", "tags.`gatesweep.role` != 'sweep'")
    assert len(runs) == 8 + 4  # 4 trials per cell, 2 confirm seeds per arch
    assert {(r.data.tags["gatesweep.gpu_ids"], r.data.tags["gatesweep.cuda_visible_devices"]) for r in runs} \
        == {("0", "0")}
    trials = [r for r in runs if r.data.tags["gatesweep.role"] == "trial"]
    events = sorted([(r.info.start_time, 1) for r in trials] + [(r.info.end_time, -1) for r in trials])
    running = peak = 0
    for _, step in events:  # an end sorts before a start at the same millisecond
        running += step
        peak = max(peak, running)
    assert peak == 4, f"at most {peak} trials held the GPU at once"
