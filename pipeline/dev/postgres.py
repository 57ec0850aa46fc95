"""A throwaway PostgreSQL cluster for tests and benchmarks: initdb in a directory, 127.0.0.1, a free port,
password authentication (scram-sha-256), stopped by its process group id.

Uses Debian's server binaries (`apt-get install postgresql`: /usr/lib/postgresql/<version>/bin). PostgreSQL
refuses to run as root, so under root the cluster belongs to the `postgres` user the package creates and
lives in its own directory under the system's temporary directory (pytest's are private to root).
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from pipeline.dev.mlflow_server import free_port, stop_group

USER = "gatesweep"


def server_bindir() -> Path | None:
    """The directory holding `initdb` and `postgres` (the newest installed version), or None."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    return versions[-1].parent if versions else None


class LocalPostgres:
    def __init__(self, root: Path, port: int | None = None) -> None:
        self.root, self.port = root, port or free_port()
        self.password = secrets.token_hex(16)
        self.proc: subprocess.Popen[bytes] | None = None
        self.cluster = root
        bindir = server_bindir()
        if bindir is None:
            raise FileNotFoundError("PostgreSQL's server binaries (initdb, postgres) are not installed: "
                                    "apt-get install postgresql")
        self.bindir = bindir

    def url(self, database: str, driver: str = "postgresql") -> str:
        return f"{driver}://{USER}:{self.password}@127.0.0.1:{self.port}/{database}"

    def _as_owner(self, cmd: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd

    def start(self, timeout_s: float = 60) -> LocalPostgres:
        self.root.mkdir(parents=True, exist_ok=True)
        self.cluster = Path(tempfile.mkdtemp(prefix="gatesweep-pg-")) if os.geteuid() == 0 else self.root
        pwfile = self.cluster / "pwfile"
        pwfile.write_text(self.password + "\n", encoding="utf-8")
        pwfile.chmod(0o600)
        if os.geteuid() == 0:
            for path in (self.cluster, pwfile):
                shutil.chown(path, "postgres")
        data = self.cluster / "data"
        subprocess.run(self._as_owner([str(self.bindir / "initdb"), "-D", str(data), "-U", USER, "-E", "UTF8",
                                       "--auth=scram-sha-256", f"--pwfile={pwfile}", "--no-sync"]),
                       check=True, capture_output=True, cwd=self.cluster)
        pwfile.unlink()
        log = open(self.root / "postgres.log", "ab")  # noqa: SIM115 - owned by the process for its lifetime
        cmd = [str(self.bindir / "postgres"), "-D", str(data), "-h", "127.0.0.1", "-p", str(self.port),
               "-k", str(self.cluster), "-c", "fsync=off", "-c", "max_connections=200"]
        self.proc = subprocess.Popen(self._as_owner(cmd), stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True, cwd=self.cluster)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"postgres exited: {(self.root / 'postgres.log').read_text()[-2000:]}")
            try:
                self._connect("postgres").close()
                return self
            except Exception:  # not accepting connections yet
                time.sleep(0.3)
        self.stop()
        raise TimeoutError(f"postgres not ready after {timeout_s} s")

    def _connect(self, database: str):  # type: ignore[no-untyped-def]
        import psycopg  # lazy: an optional dependency

        return psycopg.connect(host="127.0.0.1", port=self.port, user=USER, password=self.password,
                               dbname=database, autocommit=True, connect_timeout=5)

    def create_database(self, name: str) -> str:
        """Create database `name`; returns its SQLAlchemy URL."""
        with self._connect("postgres") as con:
            con.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        """Fast shutdown (SIGINT to the server's process group), then SIGKILL if it lingers."""
        stop_group(self.proc, signal.SIGINT)
        if self.cluster != self.root:
            shutil.rmtree(self.cluster, ignore_errors=True)  # the throwaway cluster outside `root`
