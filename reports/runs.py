"""Read a sweep back from MLflow, once, at the edge: the parent run and its children as typed rows, then one
tidy table. Nothing after this module touches an MLflow object.

Anything that follows the MLflow contract in the README is read the same way, whether the sweep wrote it or
a person logged the runs by hand; a run that does not follow it is refused here in one line that names the
run and what it lacks (`OffContract`), never deeper down as a `KeyError`.
"""

from __future__ import annotations

import time
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError

from pipeline.core.errors import OffContract
from pipeline.core.hparams import HPARAM_TYPES, Arch, HParams
from pipeline.tracking.client import TrackingClient
from pipeline.tracking.contract import CHILD_TAG_COLUMNS, Metrics, Params, Tags
from pipeline.tracking.mlflow_io import child_runs
from reports.schema import Col, check_runs_table

PARAM_COLUMNS = tuple(HPARAM_TYPES)
TAG_COLUMNS = CHILD_TAG_COLUMNS  # tag -> column of the table


class ParentRun(BaseModel):
    """A sweep's parent run as the report reads it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    run_id: str
    experiment_id: str
    name: str | None
    start_time: int  # ms since the epoch
    artifact_uri: str
    params: dict[str, str]
    metrics: dict[str, float]
    tags: dict[str, str]

    @classmethod
    def of(cls, run: Any) -> ParentRun:
        return cls(run_id=run.info.run_id, experiment_id=run.info.experiment_id, name=run.info.run_name,
                   start_time=run.info.start_time, artifact_uri=run.info.artifact_uri,
                   params=dict(run.data.params), metrics=dict(run.data.metrics), tags=dict(run.data.tags))

    @property
    def date(self) -> str:
        return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(self.start_time / 1000))


class ChildRun(BaseModel):
    """One child run: its identity tags (typed), its hyperparameters (as MLflow holds them: strings, checked
    to parse), its final metrics."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    run_id: str
    run_name: str | None
    status: str
    start_time: int | None
    end_time: int | None = None
    artifact_uri: str
    role: Literal["trial", "select", "confirm"]
    arch: Arch
    dataset: str
    seed: int | None = None
    index: int | None = None
    rank: int = 0
    node: str | None = None
    error: str | None = None
    variant: str | None = None
    attempt: int | None = None
    source_trial: int | None = None
    stopped_early: bool = False
    params: dict[str, str]
    metrics: dict[str, float]

    def row(self) -> dict[str, Any]:
        """The table row: identity, then every hyperparameter (None when absent), the forecast horizon (1
        for runs written before horizons existed), then the metrics."""
        head = self.model_dump(exclude={"params", "metrics", "stopped_early"})
        horizon = {Params.HORIZON: int(self.params.get(Params.HORIZON, "1"))}
        return head | {p: self.params.get(p) for p in PARAM_COLUMNS} | horizon | self.metrics


def _child(run: Any) -> ChildRun:
    """A child run, checked against the contract.

    Raises:
        OffContract: a missing or malformed identity tag, a hyperparameter that does not parse, or a finished
            run without the metric its role is judged by.
    """
    tags, name = run.data.tags, f"run {run.info.run_id} ({run.info.run_name})"
    values = {col: tags.get(tag) for tag, col in TAG_COLUMNS.items()}
    if values[Col.ROLE] == "tune":  # the tune phase's user-facing name, accepted for its stored role `trial`
        values[Col.ROLE] = "trial"
    for column in (Col.ROLE, Col.ARCH, Col.DATASET):
        if values[column] is None:
            tag = next(t for t, c in TAG_COLUMNS.items() if c == column)
            raise OffContract(f"{name}: no tag {tag} (the MLflow contract: every child run names its role, "
                              "architecture and dataset)")
    try:
        child = ChildRun(run_id=run.info.run_id, run_name=run.info.run_name, status=run.info.status,
                         start_time=run.info.start_time, end_time=run.info.end_time,
                         artifact_uri=run.info.artifact_uri,
                         params=dict(run.data.params),
                         metrics={Metrics.read(k): v for k, v in run.data.metrics.items()},  # system/ -> bare
                         stopped_early=tags.get(Tags.STOPPED_EARLY) == "true",
                         **{k: v for k, v in values.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        column = str(first["loc"][0])
        tag = next((t for t, c in TAG_COLUMNS.items() if c == column), column)
        raise OffContract(f"{name}: tag {tag}: {first['input']!r}: {first['msg']}") from None
    try:
        HParams.of(child.arch, child.params)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise OffContract(f"{name}: param {first['loc'][0]}: {first['input']!r}: {first['msg']}") from None
    horizon = child.params.get(Params.HORIZON, "1")
    if not horizon.isdigit() or int(horizon) < 1:
        raise OffContract(f"{name}: param {Params.HORIZON}: {horizon!r}: not a whole number >= 1")
    if child.status == "FINISHED" and not child.stopped_early:
        missing = [m for m in Metrics.REQUIRED[child.role] if m not in child.metrics]
        if missing:
            raise OffContract(f"{name}: a finished {child.role} run without the metric {', '.join(missing)} (the "
                              "MLflow contract; a store written before gatesweep 0.1.0 may lack it)")
    return child


def runs_table(client: TrackingClient, parent_run_id: str) -> pd.DataFrame:
    """One row per child run: identity tags, params, final metrics, status; sorted stably. Every final
    metric of the contract is a column, NaN where a run has none. Checked against `reports.schema` (its
    columns `Col.*`, their dtypes).

    Raises:
        OffContract: a child run that does not follow the MLflow contract.
    """
    rows = [_child(run).row() for run in child_runs(client, parent_run_id)]
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    for metric in Col.METRICS:
        if metric not in df:
            df[metric] = float("nan")
    return check_runs_table(df.sort_values(list(Col.ORDER), kind="stable").reset_index(drop=True))


def parent_run(client: TrackingClient, parent_run_id: str) -> ParentRun:
    return ParentRun.of(client.get_run(parent_run_id))
