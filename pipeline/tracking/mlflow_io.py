"""Reading and writing MLflow: the calls the sweep's tracker and the report stage share.

The sweep writes (`pipeline.tracking.tracker`) and the report reads (`reports`) through these helpers, so
neither needs the other. Every call can go through a client that times it (the sweep's `seconds` line).
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlflow import MlflowClient

from pipeline.core.errors import BadReference
from pipeline.tracking.client import TrackingClient
from pipeline.tracking.contract import Tags

if TYPE_CHECKING:
    from mlflow.entities import Run


class CallTimes:
    """Seconds spent inside MLflow calls, from any thread, and by method."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.blocking_seconds = 0.0  # spent in calls on the main thread: time the sweep itself waited
        self.by_method: dict[str, list[float]] = {}  # name -> [calls, seconds]
        self._lock = threading.Lock()

    def add(self, name: str, dt: float) -> None:
        with self._lock:
            self.seconds += dt
            if threading.current_thread() is threading.main_thread():
                self.blocking_seconds += dt
            entry = self.by_method.setdefault(name, [0, 0.0])
            entry[0] += 1
            entry[1] += dt


class _Timed:
    """A proxy that adds the time of every method call on `target` to `times` (as `prefix + name`)."""

    def __init__(self, target: Any, times: CallTimes, prefix: str = "") -> None:
        self._target, self._times, self._prefix = target, times, prefix

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if not callable(attr):
            return attr

        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return attr(*args, **kwargs)
            finally:
                self._times.add(self._prefix + name, time.perf_counter() - t0)

        return timed


class TimedClient(_Timed):
    """An `MlflowClient` whose calls are timed, including those of the artifact repositories it hands out."""

    def __init__(self, tracking_uri: str) -> None:
        super().__init__(MlflowClient(tracking_uri=tracking_uri), CallTimes())

    @property
    def times(self) -> CallTimes:
        return self._times

    def artifact_repository(self, artifact_uri: str) -> Any:
        return _Timed(artifact_repository(self._target, artifact_uri), self._times, "artifacts.")


def artifact_repository(client: TrackingClient, artifact_uri: str) -> Any:
    """The artifact store behind a run's `artifact_uri`.

    Going to it directly costs one request per file; `MlflowClient.log_dict` first fetches the run
    (to learn that URI), and `download_artifacts` makes about six requests per file over HTTP.
    A client that times its calls (the sweep's) hands out a timed repository instead.
    """
    make = getattr(client, "artifact_repository", None)
    if make is not None:
        return make(artifact_uri)
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository  # lazy: loads MLflow

    return get_artifact_repository(artifact_uri, tracking_uri=client.tracking_uri)


def write_artifact(client: TrackingClient, artifact_uri: str, name: str, text: str) -> None:
    """A text file at the top of a run's artifacts, in one request."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_text(text, encoding="utf-8")
        artifact_repository(client, artifact_uri).log_artifact(str(path))


def write_artifact_bytes(client: TrackingClient, artifact_uri: str, path: str, data: bytes) -> None:
    """A binary file at `path` (`dir/name`) of a run's artifacts, in one request."""
    folder, _, name = path.rpartition("/")
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp) / name
        local.write_bytes(data)
        artifact_repository(client, artifact_uri).log_artifact(str(local), folder or None)


def read_artifact_bytes(client: TrackingClient, artifact_uri: str, path: str) -> bytes | None:
    """A run's artifact file's bytes (`dir/name`); None if the run has none."""
    folder = path.rpartition("/")[0]
    repo = artifact_repository(client, artifact_uri)
    if path not in {a.path for a in repo.list_artifacts(folder or None)}:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        return Path(repo.download_artifacts(path, tmp)).read_bytes()


def read_artifact(client: TrackingClient, artifact_uri: str, path: str) -> str | None:
    """A top-level artifact file's text, straight from the run's artifact store; None if the run has none.

    Three requests over HTTP (list, then the store's own check and the download) where
    `client.download_artifacts` makes about eight with the listing.
    """
    repo = artifact_repository(client, artifact_uri)
    if path not in {a.path for a in repo.list_artifacts()}:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        return Path(repo.download_artifacts(path, tmp)).read_text(encoding="utf-8")


def child_runs(client: TrackingClient, parent_run_id: str) -> list[Run]:
    """Every child run of a parent run, all pages."""
    parent = client.get_run(parent_run_id)
    runs: list[Run] = []
    token: str | None = None
    while True:
        page = client.search_runs([parent.info.experiment_id],
                                  filter_string=f"tags.mlflow.parentRunId = '{parent_run_id}'",
                                  max_results=1000, page_token=token)
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def run_link(tracking_uri: str, experiment_id: str, run_id: str) -> str | None:
    """The MLflow UI page of a run, opening the classic runs view, when the store is a server."""
    if not tracking_uri.startswith(("http://", "https://")):
        return None
    return f"{tracking_uri.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}?workflowType=machine_learning"


def refusal(exc: BaseException, action: str) -> str | None:
    """One line naming why a tracking server refused a call: who the user is (HTTP 401) or what they may
    do (403, `action`: what was attempted). None for any other error."""
    if hasattr(exc, "get_http_status_code"):  # an MlflowException
        status = exc.get_http_status_code()
    else:  # a requests error from an artifact upload
        status = getattr(getattr(exc, "response", None), "status_code", None)
    user = os.environ.get("MLFLOW_TRACKING_USERNAME")
    if status == 401:
        if not user:
            return "authentication failed: the server wants a user (set MLFLOW_TRACKING_USERNAME and " \
                   "MLFLOW_TRACKING_PASSWORD)"
        return f"authentication failed for user '{user}' (check MLFLOW_TRACKING_USERNAME and " \
               "MLFLOW_TRACKING_PASSWORD)"
    if status == 403:
        return f"permission denied: user '{user or '(none)'}' may not {action} (ask the experiment's owner or " \
               "an MLflow admin for EDIT permission)"
    return None


def sweep_parent(tracking_uri: str, parent_run_id: str) -> tuple[TrackingClient, Run]:
    """A client for `tracking_uri` and a sweep's parent run, checked to be one.

    Raises:
        BadReference: no such store or run, or the run is not a gatesweep parent run.
    """
    from mlflow.exceptions import MlflowException  # lazy: loads MLflow

    if tracking_uri.startswith("sqlite:///") and not Path(tracking_uri.removeprefix("sqlite:///")).exists():
        raise BadReference(f"{tracking_uri}: --tracking-uri: no such database (run a sweep first, or point "
                           "--tracking-uri at the store that holds the run)")
    client = MlflowClient(tracking_uri=tracking_uri)
    try:
        run = client.get_run(parent_run_id)
    except MlflowException as exc:
        why = refusal(exc, "read this run") or str(exc).splitlines()[0][:200]
        raise BadReference(f"{tracking_uri}: run {parent_run_id}: {why}") from None
    if run.data.tags.get(Tags.ROLE) != "sweep":
        raise BadReference(f"{tracking_uri}: run {parent_run_id}: not a gatesweep parent run "
                           "(tag gatesweep.role != sweep)")
    return client, run
