"""`gatesweep export`: a sweep's child runs as one table for a spreadsheet or a notebook.

One row per child run: identity, hyperparameters and final metrics (`reports.runs.runs_table`), the dataset's
verdict and usefulness as the parent run holds them, whether the run trained a chosen configuration, and its
start and end as ISO 8601 times in UTC. `per_series=True` gives one row per run and series instead, with each
series' test MASE (overall and per horizon step) from the run's `forecasts.json`.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from pipeline.tracking.client import TrackingClient
from pipeline.tracking.contract import Artifacts, Tags
from pipeline.tracking.mlflow_io import read_artifact
from pipeline.verdict.horizon import series_paths_of
from reports.build import chosen_confirm_runs
from reports.runs import parent_run, runs_table
from reports.schema import Col

# the columns each row starts with, in this order; the hyperparameters and metrics follow
LEAD = (Col.RUN_ID, Col.RUN_NAME, Col.DATASET, Col.ARCH, Col.ROLE, Col.SEED, "verdict", "useful", "chosen", Col.STATUS,
        Col.START_TIME, Col.END_TIME)
# `test_mase` here is the run's score on one series, not the run's own
SERIES_LEAD = (Col.RUN_ID, Col.RUN_NAME, Col.DATASET, Col.ARCH, Col.ROLE, Col.SEED, "verdict", "useful", "chosen",
               "series", "test_mase")


def iso_time(ms: Any) -> str | None:
    """Milliseconds since the epoch (MLflow's times) as ISO 8601 in UTC: `2026-12-02T04:34:05.120Z`."""
    if ms is None or pd.isna(ms):
        return None
    return pd.Timestamp(int(ms), unit="ms", tz="UTC").strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def chosen(table: pd.DataFrame) -> pd.Series:
    """Per run: whether it trained its cell's chosen configuration (the one confirmed and reported): the chosen
    confirm runs, and the tune trial and selection runs of the configuration they came from."""
    picked = chosen_confirm_runs(table)
    out = table[Col.RUN_ID].isin(picked[Col.RUN_ID])
    if Col.SOURCE_TRIAL not in table or picked.empty:
        return out
    sources = {(d, a, int(s)) for d, a, s in zip(picked[Col.DATASET], picked[Col.ARCH], picked[Col.SOURCE_TRIAL],
                                                  strict=True) if pd.notna(s)}

    def came_from(row: pd.Series) -> bool:
        role = row[Col.ROLE]
        number = row[Col.INDEX] if role == "trial" else row[Col.SOURCE_TRIAL] if role == "select" else None
        return number is not None and pd.notna(number) and (row[Col.DATASET], row[Col.ARCH], int(number)) in sources

    return out | table.apply(came_from, axis=1).astype(bool)


def export_table(client: TrackingClient, parent_run_id: str) -> pd.DataFrame:
    """One row per child run (see the module's docstring); columns `LEAD` first."""
    table = runs_table(client, parent_run_id)
    if table.empty:
        return pd.DataFrame(columns=list(LEAD))
    tags = parent_run(client, parent_run_id).tags
    ends = table[Col.END_TIME] if Col.END_TIME in table else pd.Series([None] * len(table), index=table.index)
    table = table.assign(
        verdict=pd.Series([tags.get(Tags.verdict_of(ds)) for ds in table[Col.DATASET]], index=table.index),
        useful=pd.Series([tags.get(Tags.useful_of(ds)) for ds in table[Col.DATASET]], index=table.index),
        chosen=chosen(table),
        start_time=table[Col.START_TIME].map(iso_time),
        end_time=ends.map(iso_time))
    return table[list(LEAD) + [c for c in table.columns if c not in LEAD]]


def per_series_table(client: TrackingClient, parent_run_id: str) -> tuple[pd.DataFrame, int]:
    """One row per run and series for every run with stored test forecasts (confirm runs): the series' test
    MASE and its MASE at each horizon step (`test_mase_step_1`, ...). Also how many runs had no forecasts."""
    runs = export_table(client, parent_run_id)
    rows, without = [], 0
    for run in runs.itertuples(index=False):
        raw = read_artifact(client, str(run.artifact_uri), Artifacts.FORECASTS)
        if raw is None:
            without += 1
            continue
        for paths in series_paths_of(json.loads(raw)):
            if paths.scale is None:  # a run from before MASE scales were stored: no score to give
                continue
            steps = paths.step_mase()
            row = {k: getattr(run, k) for k in SERIES_LEAD if k not in ("series", "test_mase")}
            row |= {"series": paths.id or run.dataset, "test_mase": float(np.mean(steps))}  # one series: its name
            row |= {f"test_mase_step_{h + 1}": float(x) for h, x in enumerate(steps)}
            rows.append(row)
    return pd.DataFrame(rows, columns=None if rows else list(SERIES_LEAD)), without
