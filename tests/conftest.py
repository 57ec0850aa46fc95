from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["GATESWEEP_CACHE"] = "off"  # every test fits its baselines (the cache's own tests give it a directory)
ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session", autouse=True)
def _single_threaded_tensorflow() -> None:
    """Tests share two cores with Ray workers; size TensorFlow once, before it initialises."""
    from pipeline.core.models import configure_tensorflow

    configure_tensorflow(1)


def gatesweep_env(**extra: str) -> dict[str, str]:
    """A clean environment for `gatesweep` and `ray` subprocesses: local Ray, default tracking store, quiet TF."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "RAY_ADDRESS": "", "GATESWEEP_CACHE": "off", **extra}
    env.pop("MLFLOW_TRACKING_URI", None)
    return env


def run_gatesweep(args: list[str], cwd: Path, timeout: int = 900, **env: str) -> subprocess.CompletedProcess[str]:
    """The installed `gatesweep` in a clean environment (`gatesweep_env`), its output captured."""
    return subprocess.run(gatesweep_cmd() + args, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env=gatesweep_env(**env))


def gatesweep_cmd() -> list[str]:
    """The installed console script next to this interpreter (what users run)."""
    script = Path(sys.executable).with_name("gatesweep")
    return [str(script)] if script.exists() else [sys.executable, "-m", "pipeline"]


def local_runs(cwd: Path, experiment: str, filter_string: str = "") -> tuple[Any, list[Any]]:
    """A client for the default store a sweep made in `cwd` (./mlflow.db) and the experiment's runs."""
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{cwd / 'mlflow.db'}")
    exp = client.get_experiment_by_name(experiment)
    assert exp is not None, f"no experiment {experiment!r} in {cwd / 'mlflow.db'}"
    return client, client.search_runs([exp.experiment_id], filter_string)


def without_selection(space: Path, directory: Path) -> Path:
    """A copy of sweep file `space` in `directory` with `confirm.candidates: 1` (no selection phase) and one
    round of confirm seeds: for the slow tests about something else (servers, clusters), which then run about a
    third faster and train a known number of runs."""
    import yaml

    spec = yaml.safe_load(space.read_text(encoding="utf-8"))
    spec.setdefault("confirm", {})["candidates"] = 1
    spec["confirm"]["top_k"] = 1
    spec["confirm"]["max_seeds"] = spec["confirm"].get("seeds", 5)
    copy = directory / space.name
    copy.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return copy


RELEASE_STORES = ROOT / "tests" / "data" / "stores"
RELEASE_0_1_0 = RELEASE_STORES / "0.1.0-16a01f6"  # written by 0.1.0 (main 16a01f6): tests/data/stores/make_store.sh
RELEASE_0_1_0_PARENT = "6de1bc49dc4145d093bbedfae97963ea"


def release_store(release: Path, tmp: Path) -> str:
    """A working copy of a store kept in tests/data/stores, its artifact paths pointed at the copy; the
    tracking URI."""
    import shutil
    import sqlite3

    copy = tmp / release.name
    shutil.copytree(release, copy)
    db = sqlite3.connect(copy / "mlflow.db")
    for table, column in (("experiments", "artifact_location"), ("runs", "artifact_uri")):
        db.execute(f"UPDATE {table} SET {column} = replace({column}, '@STORE@', ?)", (f"file://{copy}",))
    db.commit()
    db.close()
    return f"sqlite:///{copy / 'mlflow.db'}"


def child_run_count(db: Path) -> int:
    """Child runs a sweep has written to the SQLite store `db` so far (0 before the store exists)."""
    try:
        with sqlite3.connect(db) as con:
            return con.execute("select count(*) from tags where key = 'mlflow.parentRunId'").fetchone()[0]
    except sqlite3.Error:
        return 0
