"""The hand-over end to end: a small sweep on a series no linear model forecasts (the logistic map), where the
usefulness rule names a network; the report registers its seed ensemble as `<sweep>.<dataset>` with `champion`,
and `gatesweep forecast models:/...@champion` writes the next values past the series' end with intervals."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.conftest import local_runs, run_gatesweep

SWEEP = """
name: handover
datasets:
  - {name: chaos, source: csv, path: chaos.csv, value_column: y}
architectures: [gru, lstm]
split: {train: 0.7, validation: 0.15, test: 0.15}
search_space: {hidden_size: 16, window: 4, optimizer: adam, learning_rate: 0.02, batch_size: 16, epochs: 60}
budget: {trials_per_cell: 0}
confirm: {candidates: 1, top_k: 1, seeds: 3, seeds_per_round: 3, max_seeds: 3}
evaluation: {statistical_baselines: [], patience: null}
resources: {cpus: 1, gpus: 0}
seed: 0
"""


def _bytes(client: Any, run_id: str, path: str) -> int:
    return sum(_bytes(client, run_id, a.path) if a.is_dir else a.file_size for a in client.list_artifacts(run_id, path))


@pytest.mark.slow
def test_a_useful_network_is_registered_and_forecasts_past_the_end(tmp_path: Path) -> None:
    y = np.empty(240)
    y[0] = 0.3
    for t in range(1, len(y)):
        y[t] = 3.9 * y[t - 1] * (1 - y[t - 1])
    pd.DataFrame({"y": y}).to_csv(tmp_path / "chaos.csv", index=False)
    (tmp_path / "handover.yaml").write_text(SWEEP, encoding="utf-8")
    proc = run_gatesweep(["run", "handover.yaml"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    client, runs = local_runs(tmp_path, "handover", "tags.`gatesweep.role` = 'confirm'")
    sizes = [_bytes(client, r.info.run_id, "model") for r in runs]  # each run's network as a pyfunc model
    assert len(runs) == 6 and all(0 < s < 50_000 for s in sizes), sizes
    _, (parent,) = local_runs(tmp_path, "handover", "tags.`gatesweep.role` = 'sweep'")
    tags = parent.data.tags
    verdict = json.loads(next(tmp_path.glob("gatesweep-output/handover/*/report/verdict.json")).read_text())
    assert verdict["datasets"][0]["useful"]["useful"] in ("gru", "lstm"), verdict["datasets"][0]["useful"]
    assert tags["gatesweep.model.chaos"] == "models:/handover.chaos/1 (champion)"

    out = tmp_path / "forecasts.csv"
    t0 = time.perf_counter()
    proc = run_gatesweep(["forecast", "models:/handover.chaos@champion", "--out", str(out)], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    wall = time.perf_counter() - t0
    table = pd.read_csv(out)
    assert table["step"].tolist() == [1] and table["id"].tolist() == ["chaos"]
    truth = 3.9 * y[-1] * (1 - y[-1])
    assert table["lo_95"][0] <= table["forecast"][0] <= table["hi_95"][0]
    assert abs(table["forecast"][0] - truth) < 0.2  # the map learned, not the mean
    print(proc.stderr.strip().splitlines()[-1], f"(command wall time {wall:.1f} s); store growth per confirm run: "
          f"{np.mean(sizes):.0f} bytes")
