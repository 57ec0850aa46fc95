"""A real sweep with horizons: two datasets forecast 6 and 4 steps ahead from rolling origins, both strategies
searched, through Ray Tune, MLflow and the report; `gatesweep report` rebuilds the same verdict."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import DATA, run_gatesweep

SPACE = DATA / "valid" / "horizon.yaml"


@pytest.mark.slow
def test_a_horizon_sweep_scores_every_step_and_every_baseline(tmp_path: Path) -> None:
    from mlflow import MlflowClient

    proc = run_gatesweep(["run", str(SPACE)], tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    parent = re.search(r"parent run: ([0-9a-f]{32})", proc.stdout)
    assert parent, proc.stdout
    parent_id = parent.group(1)
    report = next(tmp_path.glob("gatesweep-output/horizon/*/report"))
    verdict = json.loads((report / "verdict.json").read_text(encoding="utf-8"))
    by_name = {d["dataset"]: d for d in verdict["datasets"]}
    assert {k: (d["horizon"], len(d["per_step"])) for k, d in by_name.items()} == {"damped": (6, 6), "nile": (4, 4)}
    assert "damped (6 steps ahead): " in proc.stdout and "nile (4 steps ahead): " in proc.stdout  # the sentences
    for d in by_name.values():
        assert {"naive", "ar", "ets", "theta"} <= set(d["baseline_mase"]) or set(d["baselines_failed"])
        assert d["best_baseline"] in d["baseline_mase"] and isinstance(d["beats_best_baseline"], bool)
        assert d["dm"]["available"] is True and d["dm"]["n"] == {"damped": 10, "nile": 3}[d["dataset"]]
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    exp = client.get_experiment_by_name("horizon")
    children = client.search_runs([exp.experiment_id], f"tags.mlflow.parentRunId = '{parent_id}'")
    assert len(children) == 8 + 12
    for run in children:
        horizon = {"damped": "6", "nile": "4"}[run.data.tags["gatesweep.dataset"]]
        assert run.data.params["horizon"] == horizon and run.data.params["strategy"] in ("direct", "recursive")
    metrics = client.get_run(parent_id).data.metrics
    assert {"baseline.damped.ets_mase", "baseline.damped.theta_mase", "baseline.nile.ets_mase"} <= set(metrics)
    timings = json.loads((Path(client.download_artifacts(parent_id, "timings.json", str(tmp_path)))).read_text())
    assert timings["seconds"]["baselines"] > 0
    html = (report / "report.html").read_text(encoding="utf-8")
    assert "damped: test MASE per step of the horizon" in html and "relative to naive" in html
    assert "damped: test forecasts against actuals" in html and "nile: test MASE at each step ahead" in html
    # the report from MLflow alone: the same verdict
    rebuilt = run_gatesweep(["report", parent_id, "--out", str(tmp_path / "rebuilt")], tmp_path)
    assert rebuilt.returncode == 0, rebuilt.stderr[-2000:]
    assert (tmp_path / "rebuilt" / "report" / "verdict.json").read_bytes() == (report / "verdict.json").read_bytes()
