"""A long sweep as its operators meet it: interrupts, progress, impossible resources, failing cells.

Real `gatesweep` processes, a real local Ray and the default SQLite store.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import DATA, child_run_count, gatesweep_cmd, gatesweep_env, local_runs, run_gatesweep

SPACE = DATA / "valid" / "resume.yaml"  # 4 trials per cell of 60 epochs: long enough to interrupt


class _Driver:
    """`gatesweep ...` in the background, its stderr collected line by line."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        self.proc = subprocess.Popen(gatesweep_cmd() + args, cwd=cwd, env=gatesweep_env(), text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        self.err: list[str] = []
        self.out = ""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.err.append(line)

    def wait_for(self, text: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            if any(text in line for line in self.err):
                return True
            time.sleep(0.1)
        return any(text in line for line in self.err)

    def finish(self, timeout: float = 300) -> int:
        try:
            self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)
        self._reader.join(timeout=30)  # stderr is read by the reader thread alone
        assert self.proc.stdout is not None
        self.out = self.proc.stdout.read()
        return self.proc.returncode

    @property
    def stderr(self) -> str:
        return "".join(self.err)




def _resume_completes_the_budget(client: Any, parent_id: str, tmp_path: Path) -> None:
    """`gatesweep resume` finishes the interrupted sweep: parent FINISHED without the interrupted tag, no child
    run written twice, exactly the budget of trials per architecture."""
    final = run_gatesweep(["resume", parent_id], tmp_path)
    assert final.returncode == 0, final.stderr[-3000:]
    # trials trained again report steps Optuna already has: its warning per step is not the operator's business
    assert "The reported value is ignored" not in final.stderr, final.stderr[-3000:]
    parent = client.get_run(parent_id)
    assert parent.info.status == "FINISHED" and "gatesweep.interrupted" not in parent.data.tags
    runs = client.search_runs([parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent_id}'")
    keys = [r.data.tags["gatesweep.key"] for r in runs]
    assert len(keys) == len(set(keys)), "a child run was written twice"
    for arch in ("gru", "lstm"):
        trials = {r.data.tags["gatesweep.index"] for r in runs if r.info.status == "FINISHED"
                  and r.data.tags["gatesweep.role"] == "trial" and r.data.tags["gatesweep.arch"] == arch}
        assert trials == {"0", "1", "2", "3"}  # the full budget, no more


def _progress_tag(db: Path) -> str | None:
    try:
        with sqlite3.connect(db) as con:
            row = con.execute("select value from tags where key = 'gatesweep.progress'").fetchone()
            return row[0] if row else None
    except sqlite3.Error:
        return None


def _interrupt_when(driver: _Driver, db: Path, children: int, sig: int) -> float:
    deadline = time.monotonic() + 600
    while child_run_count(db) < children and time.monotonic() < deadline and driver.proc.poll() is None:
        time.sleep(0.2)
    assert driver.proc.poll() is None, "the sweep ended before it could be interrupted: " + driver.stderr[-2000:]
    t0 = time.monotonic()
    os.kill(driver.proc.pid, sig)  # the driver only, as `kill` or systemd would
    return t0


@pytest.mark.slow
def test_sigint_then_sigterm_stop_cleanly_and_resume_completes_the_budget(tmp_path: Path) -> None:
    db = tmp_path / "mlflow.db"
    driver = _Driver(["run", str(SPACE)], tmp_path)
    tags_seen: set[str] = set()
    deadline = time.monotonic() + 600
    # three runs finished and the parent's progress tag seen changing (it is published every 5-10 s)
    while ((child_run_count(db) < 3 or len(tags_seen) < 2) and time.monotonic() < deadline
           and driver.proc.poll() is None):
        if (tag := _progress_tag(db)) is not None:
            tags_seen.add(tag)
        time.sleep(0.2)
    t0 = _interrupt_when(driver, db, 3, signal.SIGINT)
    assert driver.finish() == 130
    stopped_in = time.monotonic() - t0
    err = driver.stderr
    assert "Traceback" not in err and "interrupted (SIGINT)" in err and "gatesweep resume" in err, err[-3000:]
    # progress: plain lines in a log, and the parent's tag changed while the sweep ran
    assert any(line.startswith("gatesweep: tune") for line in driver.err), err[-3000:]
    assert len(tags_seen) >= 2, tags_seen
    client, (parent,) = local_runs(tmp_path, "resume", "tags.`gatesweep.role` = 'sweep'")
    assert parent.info.status == "KILLED" and parent.data.tags["gatesweep.interrupted"] == "SIGINT"
    before = child_run_count(db)

    # resumed, then stopped again with SIGTERM (what systemd and Kubernetes send)
    again = _Driver(["resume", parent.info.run_id], tmp_path)
    _interrupt_when(again, db, before + 2, signal.SIGTERM)
    assert again.finish() == 143
    assert "Traceback" not in again.stderr and "interrupted (SIGTERM)" in again.stderr, again.stderr[-3000:]
    assert client.get_run(parent.info.run_id).info.status == "KILLED"

    _resume_completes_the_budget(client, parent.info.run_id, tmp_path)
    print(f"SIGINT to exit: {stopped_in:.1f} s")


@pytest.mark.slow
def test_sigint_while_ray_starts_exits_at_once_with_nothing_started(tmp_path: Path) -> None:
    driver = _Driver(["run", str(SPACE)], tmp_path)
    assert driver.wait_for("starting Ray", 120), driver.stderr[-2000:]
    t0 = time.monotonic()
    os.kill(driver.proc.pid, signal.SIGINT)
    assert driver.finish(timeout=120) == 130
    assert time.monotonic() - t0 < 30
    assert "Traceback" not in driver.stderr and "nothing was started" in driver.stderr, driver.stderr[-3000:]
    _, parents = local_runs(tmp_path, "resume", "tags.`gatesweep.role` = 'sweep'")
    assert parents == []  # no parent run: the sweep had not begun


def _group(pgid: int) -> list[str]:
    """The processes still running in a process group (a zombie has ended: the container's init may be slow to
    reap it)."""
    ps = subprocess.run(["ps", "-ww", "-o", "stat,cmd", "--no-headers", "-g", str(pgid)],  # -ww: whole commands
                        capture_output=True, text=True)
    return [line for line in ps.stdout.splitlines() if not line.startswith("Z")]


@pytest.mark.slow
def test_a_stop_while_a_panel_s_baselines_fit_in_worker_processes_ends_in_seconds(tmp_path: Path) -> None:
    """A panel's baselines are fitted in spawned worker processes. Ctrl-C to the driver alone, then SIGTERM to
    the whole group (which kills the workers mid-fit): each stops the benchmark in seconds with one line and
    leaves no process behind. Both used to hang: the pool waited forever for the killed workers' results, and
    `bench` ignored the stop."""
    seconds = {}
    for sig, to_group in ((signal.SIGINT, False), (signal.SIGTERM, True)):
        driver = _Driver(["bench", "--benchmark", "m3-monthly", "--series", "120", "--baselines-only"], tmp_path)
        deadline = time.monotonic() + 120
        while not any("spawn_main" in line for line in _group(driver.proc.pid)) and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(6)  # the workers have imported statsforecast and are fitting
        assert driver.proc.poll() is None, driver.stderr[-2000:]
        t0 = time.monotonic()
        (os.killpg if to_group else os.kill)(driver.proc.pid, sig)
        assert driver.finish(timeout=120) == 128 + sig, driver.stderr[-3000:]
        seconds[sig.name] = time.monotonic() - t0
        assert seconds[sig.name] < 20, seconds
        assert "Traceback" not in driver.stderr and f"interrupted ({sig.name})" in driver.stderr, driver.stderr[-3000:]
        time.sleep(1)
        assert not _group(driver.proc.pid)
    print("stop during pooled baselines: " + ", ".join(f"{k} {v:.1f} s" for k, v in seconds.items()))


@pytest.mark.slow
def test_a_gpu_request_on_a_cluster_without_gpus_exits_2_at_once(tmp_path: Path) -> None:
    space = tmp_path / "gpu.yaml"
    space.write_text(SPACE.read_text().replace("name: resume", "name: gpu") + "resources: {cpus: 1, gpus: 1}\n")
    t0 = time.monotonic()
    proc = run_gatesweep(["run", str(space)], tmp_path, timeout=120)
    assert proc.returncode == 2 and time.monotonic() - t0 < 30, proc.stderr[-3000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert "1 GPU" in last and "largest has" in last and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    _, parents = local_runs(tmp_path, "gpu", "tags.`gatesweep.role` = 'sweep'")
    assert parents == []


@pytest.mark.slow
def test_a_cell_where_every_trial_fails_ends_the_sweep_with_its_error(tmp_path: Path) -> None:
    proc = run_gatesweep(["run", str(DATA / "valid" / "all_fail.yaml")], tmp_path)
    assert proc.returncode == 1, proc.stderr[-3000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert "every tune-phase run failed" in last and "TrainingDiverged" in last, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    client, runs = local_runs(tmp_path, "all-fail", "tags.`gatesweep.role` = 'trial'")
    assert runs and all(r.info.status == "FAILED" for r in runs)
    for run in runs:
        assert run.data.tags["gatesweep.error"].startswith("TrainingDiverged")
        names = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert "error.txt" in names
        text = client.download_artifacts(run.info.run_id, "error.txt", str(tmp_path))
        body = Path(text).read_text()
        # the worker's traceback down to the line that raised, and what it printed before
        assert 'in fit_and_score' in body and "raise TrainingDiverged" in body and "\x1b[" not in body
        assert "the worker's last output" in body
    _, confirms = local_runs(tmp_path, "all-fail", "tags.`gatesweep.role` = 'confirm'")
    assert confirms == []  # no confirm phase on nothing


_VERSION_CHECK = """
import ray
from pipeline.engine.cluster import CodeMismatch, check_code_versions
from pipeline.core.version import code_version
ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
check_code_versions(code_version())  # the same code everywhere: fine
try:
    check_code_versions("another-commit")
except CodeMismatch as exc:
    print("MISMATCH", exc)
"""


@pytest.mark.slow
def test_a_node_running_other_code_is_named_before_anything_starts(tmp_path: Path) -> None:
    import sys

    proc = subprocess.run([sys.executable, "-c", _VERSION_CHECK], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path, env=gatesweep_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    (line,) = [ln for ln in proc.stdout.splitlines() if ln.startswith("MISMATCH")]
    assert "runs gatesweep" in line and "the driver another-commit" in line


@pytest.mark.slow
def test_signals_to_the_whole_process_group_stop_as_gracefully_as_to_the_driver(tmp_path: Path) -> None:
    """SIGHUP (a closed terminal), SIGTERM (systemd's control-group stop) and SIGINT (Ctrl-C in a shell), each
    sent to the whole process group as they come: the local Ray is in a session of its own and survives until
    the driver has stopped Tune and saved its state; then resume completes the budget."""
    db = tmp_path / "mlflow.db"
    parent_id = None
    seconds = {}
    for i, sig in enumerate((signal.SIGHUP, signal.SIGTERM, signal.SIGINT)):
        driver = _Driver(["run", str(SPACE)] if parent_id is None else ["resume", parent_id], tmp_path)
        deadline = time.monotonic() + 600
        want = child_run_count(db) + (2 if i else 3)
        while child_run_count(db) < want and time.monotonic() < deadline and driver.proc.poll() is None:
            time.sleep(0.2)
        assert driver.proc.poll() is None, "the sweep ended before it could be interrupted: " + driver.stderr[-2000:]
        t0 = time.monotonic()
        os.killpg(driver.proc.pid, sig)  # the driver and everything in its process group
        status = driver.finish()
        seconds[signal.Signals(sig).name] = time.monotonic() - t0
        err = driver.stderr
        name = signal.Signals(sig).name
        assert status == 128 + sig, (status, err[-3000:])
        for noise in ("Traceback", "core_worker.cc", "*** ", "Fatal Python error", "Failed to connect to GCS"):
            assert noise not in err, (noise, err[-3000:])
        assert f"interrupted ({name})" in err and "gatesweep resume" in err, err[-3000:]
        client, (parent,) = local_runs(tmp_path, "resume", "tags.`gatesweep.role` = 'sweep'")
        assert parent.info.status == "KILLED" and parent.data.tags["gatesweep.interrupted"] == name
        parent_id = parent.info.run_id
    assert parent_id is not None
    _resume_completes_the_budget(client, parent_id, tmp_path)
    print("signal to exit, whole process group: " + ", ".join(f"{k} {v:.1f} s" for k, v in seconds.items()))
