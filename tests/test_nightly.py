"""Nightly runs: the lock, the comparison with earlier nights, and the README's cron line for real."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.app.nightly import LockHeld, sweep_lock
from pipeline.dev.mlflow_server import free_port
from tests.conftest import ROOT, child_run_count, gatesweep_cmd, gatesweep_env, run_gatesweep

SMALL = ROOT / "search_spaces" / "nightly_small.yaml"


def test_second_run_while_locked_exits_3_at_once(tmp_path: Path) -> None:
    from pipeline.app.nightly import lock_path

    lock = lock_path(tmp_path / "locks", "nightly-small", tmp_path / "gatesweep-output" / "nightly-small")
    with sweep_lock(lock):
        t0 = time.monotonic()
        proc = run_gatesweep(["nightly", str(SMALL), "--lock-dir", str(tmp_path / "locks")], tmp_path, timeout=120)
    assert proc.returncode == 3 and time.monotonic() - t0 < 30
    assert "lock held by" in proc.stderr and str(os.getpid()) in proc.stderr
    assert not (tmp_path / "mlflow.db").exists()  # nothing started


def test_stale_lock_of_a_killed_run_is_taken_over(tmp_path: Path) -> None:
    lock = tmp_path / "nightly.lock"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from pipeline.app.nightly import sweep_lock\n"
                               f"with sweep_lock(__import__('pathlib').Path({str(lock)!r})):\n"
                               "    print('locked', flush=True); time.sleep(600)"],
                              stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert holder.stdout.readline().strip() == "locked"
    with pytest.raises(LockHeld), sweep_lock(lock):
        pass
    holder.send_signal(signal.SIGKILL)  # crashes without cleaning up: the metadata stays in the file
    holder.wait(timeout=30)
    with sweep_lock(lock) as note:
        assert note is not None and f"pid {holder.pid}" in note
    with sweep_lock(lock) as note:
        assert note is None  # a clean exit leaves nothing to take over


@pytest.mark.slow
def test_two_consecutive_nights_compare_with_each_other(tmp_path: Path) -> None:
    from mlflow import MlflowClient

    outs = []
    for _ in range(2):
        proc = run_gatesweep(["nightly", str(SMALL)], tmp_path)
        assert proc.returncode == 0, proc.stderr[-3000:]
        outs.append(proc.stdout)
    assert "first nightly run of this sweep" in outs[0]
    first = re.search(r"parent run: ([0-9a-f]{32})", outs[0]).group(1)
    second = re.search(r"parent run: ([0-9a-f]{32})", outs[1]).group(1)
    home = tmp_path / "gatesweep-output" / "nightly-small"
    reports = sorted(home.glob("nightly-*/report/verdict.json"))
    assert len(reports) == 2 and (home / "latest").resolve() == reports[-1].parent.parent
    nightly = json.loads(reports[-1].read_text())["nightly"]
    assert nightly["previous_run_id"] == first
    assert [h["run_id"] for h in nightly["history"]] == [second, first]
    # same code, same data, same seeds: the same verdict, so no flag may fire
    assert nightly["flags"]["verdict_changed"] is False
    tags = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}").get_run(second).data.tags
    assert tags["gatesweep.nightly"] == "true" and tags["gatesweep.nightly.previous_run"] == first
    assert tags["gatesweep.nightly.verdict_changed"] == "false" and len(tags["gatesweep.data.damped"]) == 16
    assert tags["gatesweep.code_version"]
    html = (reports[-1].parent / "report.html").read_text()
    assert "Nightly comparison" in html and "effect over nights" in html


def _readme_cron_command() -> str:
    text = (ROOT / "README.md").read_text()
    block = text.split("<!-- cron-line -->", 1)[1].split("```", 2)[1].strip()
    fields = block.split(None, 5)  # five schedule fields, then the command exactly as written
    assert len(fields) == 6 and fields[:5] == ["30", "2", "*", "*", "*"]
    return fields[5]


@pytest.mark.slow
def test_readme_cron_line_runs_as_written_via_ray_job_submit(tmp_path: Path) -> None:
    home = tmp_path / "gatesweep"
    (home / "search_spaces").mkdir(parents=True)
    shutil.copy(SMALL, home / "search_spaces" / SMALL.name)
    venv = Path(sys.executable).parent.parent
    (home / ".venv").symlink_to(venv)
    env = {**gatesweep_env(), "RAY_AUTH_MODE": "token", "PATH": f"{venv / 'bin'}:{os.environ['PATH']}"}
    env.pop("RAY_ADDRESS")
    ray = str(venv / "bin" / "ray")
    # as the README says: a token first (created only if missing), then the head in token mode
    subprocess.run([ray, "get-auth-token", "--generate"], check=True, capture_output=True, timeout=60, env=env)
    start = subprocess.run([ray, "start", "--head", "--port", str(free_port()), "--num-cpus", "2",
                            "--dashboard-host", "127.0.0.1", "--dashboard-port", "8265", "--include-dashboard=true",
                            "--disable-usage-stats"], capture_output=True, text=True, timeout=120, env=env)
    assert start.returncode == 0, start.stderr[-2000:]
    try:
        cron_env = {**env, "GATESWEEP_HOME": str(home), "GATESWEEP_SPACE": "search_spaces/nightly_small.yaml"}
        proc = subprocess.run(["/bin/sh", "-c", _readme_cron_command()], cwd=tmp_path, capture_output=True,
                              text=True, timeout=900, env=cron_env)
        log = (home / "nightly.log").read_text()
        assert proc.returncode == 0, log[-3000:]
        assert "succeeded" in log
        from mlflow import MlflowClient

        client = MlflowClient(f"sqlite:///{home / 'mlflow.db'}")
        runs = client.search_runs([client.get_experiment_by_name("nightly-small").experiment_id],
                                  "tags.`gatesweep.nightly` = 'true'")
        assert len(runs) == 1 and runs[0].info.status == "FINISHED"
        assert list((home / "gatesweep-output" / "nightly").glob("nightly-*/report/report.html"))
    finally:
        subprocess.run([ray, "stop", "--force"], capture_output=True, timeout=120, env=env)


def _stray_local_ray() -> list[str]:
    """`ray start` heads that gatesweep started (their temp dir names them) and that are still running."""
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if "--temp-dir=" in line and "gatesweep-ray-" in line]


@pytest.mark.slow
def test_a_night_stopped_as_systemd_stops_it_is_left_resumable_and_the_next_night_runs(tmp_path: Path) -> None:
    """The README's unit: `KillMode=mixed` sends SIGTERM to the main process (here its whole process group, as
    `kill -- -PGID` would: the local Ray is not in it), then SIGKILL to whatever is left after
    `TimeoutStopSec`. The night stops cleanly well within it; the next night runs and says the stopped one is
    left as it is; `gatesweep resume` finishes it."""
    from mlflow import MlflowClient

    stop_timeout_s = 90  # the README's TimeoutStopSec
    night = subprocess.Popen([*gatesweep_cmd(), "nightly", str(SMALL)], cwd=tmp_path, env=gatesweep_env(), text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    db = tmp_path / "mlflow.db"
    deadline = time.monotonic() + 600
    while child_run_count(db) < 2 and time.monotonic() < deadline and night.poll() is None:
        time.sleep(0.2)
    assert night.poll() is None, "the night ended before it could be stopped"
    t0 = time.monotonic()
    os.killpg(night.pid, signal.SIGTERM)
    try:
        _, err = night.communicate(timeout=stop_timeout_s)
    except subprocess.TimeoutExpired:  # systemd's SIGKILL after TimeoutStopSec: the test fails below
        os.killpg(night.pid, signal.SIGKILL)
        _, err = night.communicate(timeout=60)
    stopped_in = time.monotonic() - t0
    assert night.returncode == 143 and stopped_in < stop_timeout_s, (night.returncode, err[-3000:])
    assert "Traceback" not in err and "interrupted (SIGTERM)" in err, err[-3000:]
    assert not _stray_local_ray(), _stray_local_ray()  # nothing left for the SIGKILL to find
    client = MlflowClient(f"sqlite:///{db}")
    exp = client.get_experiment_by_name("nightly-small")
    (stopped,) = client.search_runs([exp.experiment_id], "tags.`gatesweep.role` = 'sweep'")
    assert stopped.info.status == "KILLED" and stopped.data.tags["gatesweep.interrupted"] == "SIGTERM"

    nxt = run_gatesweep(["nightly", str(SMALL)], tmp_path)
    assert nxt.returncode == 0, nxt.stderr[-3000:]
    assert "leaving an unfinished sweep as it is" in nxt.stderr and "gatesweep resume" in nxt.stderr
    finished = run_gatesweep(["resume", stopped.info.run_id], tmp_path)
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert client.get_run(stopped.info.run_id).info.status == "FINISHED"
    print(f"systemd-style stop: SIGTERM to exit {stopped_in:.1f} s")
