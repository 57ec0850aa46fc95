"""A local `mlflow server` for benchmarks and tests: SQLite backend (or any `backend_store_uri`), local
artifacts, 127.0.0.1, one worker; optionally MLflow's basic-auth app (users and permissions).

It runs in its own process group and is stopped by that group's id, so uvicorn's worker goes with it.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop_group(proc: subprocess.Popen[bytes] | None, sig: int, timeout_s: float = 20) -> None:
    """Stop a process started with `start_new_session=True` and everything in its group: `sig` first,
    SIGKILL if it lingers past `timeout_s`. A process already gone is left alone."""
    if proc is None or proc.poll() is not None:
        return
    os.killpg(proc.pid, sig)
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=15)


class MlflowServer:
    """`backend_store_uri` defaults to a SQLite file under `root`. With `admin_password`, the server runs
    `--app-name basic-auth` (default permission READ, admin user `admin`, its user store at
    `auth_database_uri`, default a SQLite file under `root`)."""

    def __init__(self, root: Path, port: int | None = None, backend_store_uri: str | None = None,
                 admin_password: str | None = None, auth_database_uri: str | None = None) -> None:
        self.root, self.port = root, port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        root.mkdir(parents=True, exist_ok=True)
        self.backend_store_uri = backend_store_uri or f"sqlite:///{root / 'server.db'}"
        self.admin_password = admin_password
        self.auth_database_uri = auth_database_uri or f"sqlite:///{root / 'basic_auth.db'}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 90) -> MlflowServer:
        cmd = [str(Path(sys.executable).with_name("mlflow")), "server",
               "--backend-store-uri", self.backend_store_uri,
               "--artifacts-destination", str(self.root / "artifacts"),
               "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"]
        env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        for name in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_URI"):
            env.pop(name, None)
        if self.admin_password is not None:
            ini = self.root / "basic_auth.ini"
            ini.write_text("[mlflow]\ndefault_permission = READ\n"
                           f"database_uri = {self.auth_database_uri}\nadmin_username = admin\n"
                           f"admin_password = {self.admin_password}\n"
                           "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n",
                           encoding="utf-8")
            ini.chmod(0o600)
            cmd += ["--app-name", "basic-auth"]
            env.update(MLFLOW_AUTH_CONFIG_PATH=str(ini), MLFLOW_FLASK_SERVER_SECRET_KEY=secrets.token_hex(32))
        log = open(self.root / "server.log", "ab")  # noqa: SIM115 - owned by the process for its lifetime
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mlflow server exited: {(self.root / 'server.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as resp:
                    if resp.status == 200:
                        return self
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise TimeoutError(f"mlflow server not healthy after {timeout_s} s")

    def cpu_seconds(self) -> float | None:
        """CPU time (user + system) used so far by the server's live processes; None where /proc is missing."""
        if self.proc is None or not Path("/proc").is_dir():
            return None
        tick = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:  # the process ended while we looked
                continue
            if int(fields[2]) == self.proc.pid:  # fields[2] is the process group id
                total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
        return total

    def stop(self) -> None:
        stop_group(self.proc, signal.SIGTERM)
