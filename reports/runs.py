"""Read a sweep back from MLflow: the parent run's children as one tidy table. MLflow only.

Anything that follows the MLflow contract in the README is read the same way, whether the sweep
wrote it or a person logged the runs by hand.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from pipeline.core.hparams import HPARAM_TYPES
from pipeline.tracking.mlflow_io import child_runs

PARAM_COLUMNS = tuple(HPARAM_TYPES)
TAG_COLUMNS = {"gatesweep.role": "role", "gatesweep.arch": "arch", "gatesweep.dataset": "dataset",
               "gatesweep.seed": "seed", "gatesweep.index": "index", "gatesweep.rank": "rank",
               "gatesweep.node": "node", "gatesweep.error": "error", "gatesweep.variant": "variant",
               "gatesweep.attempt": "attempt", "gatesweep.source_trial": "source_trial"}


def runs_table(client: Any, parent_run_id: str) -> pd.DataFrame:
    """One row per child run: identity tags, params, final metrics, status; sorted stably."""
    rows = []
    for run in child_runs(client, parent_run_id):
        row: dict[str, Any] = {"run_id": run.info.run_id, "run_name": run.info.run_name,
                               "status": run.info.status, "start_time": run.info.start_time,
                               "artifact_uri": run.info.artifact_uri}
        row |= {col: run.data.tags.get(tag) for tag, col in TAG_COLUMNS.items()}
        row |= {p: run.data.params.get(p) for p in PARAM_COLUMNS}
        row |= dict(run.data.metrics)
        rows.append(row)
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    df["seed"] = pd.to_numeric(df["seed"], errors="coerce")
    df["index"] = pd.to_numeric(df["index"], errors="coerce")
    df["rank"] = pd.to_numeric(df["rank"], errors="coerce").fillna(0).astype(int)
    return df.sort_values(["dataset", "arch", "role", "rank", "seed", "run_id"], kind="stable").reset_index(drop=True)


def parent_info(client: Any, parent_run_id: str) -> dict[str, Any]:
    run = client.get_run(parent_run_id)
    return {"run_id": parent_run_id, "experiment_id": run.info.experiment_id, "name": run.info.run_name,
            "params": dict(run.data.params), "metrics": dict(run.data.metrics), "tags": dict(run.data.tags),
            "run": run}
