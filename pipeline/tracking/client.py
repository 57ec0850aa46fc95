"""`TrackingClient`: the MLflow client as gatesweep calls it, one protocol for every module that takes a client.

`mlflow.MlflowClient` is one (mypy checks that below), and so is the sweep's `mlflow_io.TimedClient`, which times
each call. Each method is MLflow's own signature, cut after the last parameter gatesweep passes (MLflow keeps
adding trailing options), with tag values narrowed to strings: the MLflow contract's tags are strings. Nothing
here imports MLflow when the program runs; its types are named for mypy only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Experiment, Metric, Param, Run, RunTag
    from mlflow.entities.model_registry import ModelVersion, RegisteredModel
    from mlflow.store.entities import PagedList
    from mlflow.utils.async_logging.run_operations import RunOperations

__all__ = ["TrackingClient"]


class TrackingClient(Protocol):
    """The `MlflowClient` methods gatesweep calls: runs and experiments read and written, artifacts, and the model
    registry (the hand-over)."""

    @property
    def tracking_uri(self) -> str: ...

    # reading runs and experiments
    def get_run(self, run_id: str) -> Run: ...

    def search_runs(self, experiment_ids: list[str], filter_string: str = "", run_view_type: int = 1,
                    max_results: int = 1000, order_by: list[str] | None = None, page_token: str | None = None
                    ) -> PagedList[Run]: ...

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]: ...

    def get_experiment(self, experiment_id: str) -> Experiment: ...

    def get_experiment_by_name(self, name: str) -> Experiment | None: ...

    def download_artifacts(self, run_id: str, path: str, dst_path: str | None = None) -> str: ...

    # writing runs and experiments
    def create_experiment(self, name: str, artifact_location: str | None = None,
                          tags: dict[str, str] | None = None) -> str: ...

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None: ...

    def create_run(self, experiment_id: str, start_time: int | None = None, tags: dict[str, str] | None = None,
                   run_name: str | None = None) -> Run: ...

    def log_batch(self, run_id: str, metrics: Sequence[Metric] = (), params: Sequence[Param] = (),
                  tags: Sequence[RunTag] = ()) -> RunOperations | None: ...

    def set_tag(self, run_id: str, key: str, value: str) -> RunOperations | None: ...

    def delete_tag(self, run_id: str, key: str) -> None: ...

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None: ...

    def log_artifact(self, run_id: str, local_path: str, artifact_path: str | None = None) -> None: ...

    def log_artifacts(self, run_id: str, local_dir: str, artifact_path: str | None = None) -> None: ...

    def update_run(self, run_id: str, status: str | None = None, name: str | None = None) -> None: ...

    def set_terminated(self, run_id: str, status: str | None = None, end_time: int | None = None) -> None: ...

    def delete_run(self, run_id: str) -> None: ...

    # the model registry
    def get_registered_model(self, name: str) -> RegisteredModel: ...

    def create_registered_model(self, name: str, tags: dict[str, str] | None = None,
                                description: str | None = None) -> RegisteredModel: ...

    def search_model_versions(self, filter_string: str | None = None) -> PagedList[ModelVersion]: ...

    def create_model_version(self, name: str, source: str, run_id: str | None = None,
                             tags: dict[str, str] | None = None, run_link: str | None = None,
                             description: str | None = None) -> ModelVersion: ...

    def set_model_version_tag(self, name: str, version: str | None = None, key: str | None = None,
                              value: str | None = None) -> None: ...

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion: ...

    def set_registered_model_alias(self, name: str, alias: str, version: str) -> None: ...


if TYPE_CHECKING:
    def _mlflow_client_is_one(client: MlflowClient) -> TrackingClient:
        return client  # mypy fails here when MLflow's client stops fitting the protocol
