"""Runs that follow the MLflow contract but were logged by hand are reported like the sweep's own."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reports import build_report, compute_verdict
from reports.stats import compare_architectures, to_dict


@pytest.fixture()
def hand_made(tmp_path: Path) -> tuple[object, str, pd.DataFrame]:
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("by-hand")
    rng = np.random.default_rng(4)
    rows = []
    with mlflow.start_run(run_name="by-hand-sweep", tags={"gatesweep.role": "sweep"}) as parent:
        mlflow.log_metrics({"baseline.sines.naive_mase": 1.4, "baseline.sines.ar_mase": 1.2})
        for arch, centre in (("gru", 0.8), ("lstm", 1.0)):
            for seed in range(6):
                mase = float(centre * rng.lognormal(0, 0.05))
                with mlflow.start_run(nested=True, run_name=f"{arch}-confirm-seed-{seed}",
                                      tags={"gatesweep.role": "confirm", "gatesweep.arch": arch,
                                            "gatesweep.dataset": "sines", "gatesweep.seed": str(seed)}):
                    mlflow.log_params({"hidden_size": 32, "window": 12, "optimizer": "adam", "epochs": 5})
                    for epoch in range(5):
                        mlflow.log_metrics({"loss": 1.0 / (epoch + 1), "val_loss": 1.2 / (epoch + 1)}, step=epoch)
                    slower = 1.3 if arch == "lstm" else 1.0
                    mlflow.log_metrics({"test_mase": mase, "val_rmse": 0.1, "n_params": 3000.0 * slower,
                                        "seconds_per_epoch": 0.01 * slower + 1e-4 * seed})
                rows.append({"dataset": "sines", "arch": arch, "seed": seed, "test_mase": mase})
    mlflow.set_tracking_uri("")
    return mlflow.MlflowClient(uri), parent.info.run_id, pd.DataFrame(rows)


def test_hand_made_runs_get_the_same_verdict(hand_made: tuple[object, str, pd.DataFrame]) -> None:
    client, parent_id, table = hand_made
    verdict, _ = compute_verdict(client, parent_id)
    (expected,) = compare_architectures(table, {"sines": {"naive_mase": 1.4, "ar_mase": 1.2}})
    got = {k: v for k, v in verdict["datasets"][0].items() if k != "dm"}
    assert got == to_dict(expected)
    assert verdict["datasets"][0]["label"] == "gru"
    assert verdict["datasets"][0]["dm"]["available"] is False  # no forecasts were logged by hand
    assert verdict["cost"]["sines"]["spe_ratio_ci"][1] < 1  # GRU faster per epoch, as logged


def test_report_files_and_tags_for_hand_made_runs(hand_made: tuple[object, str, pd.DataFrame],
                                                  tmp_path: Path) -> None:
    client, parent_id, _ = hand_made
    first = build_report(client, parent_id, tmp_path / "a")
    build_report(client, parent_id, tmp_path / "b")
    a = (tmp_path / "a" / "report" / "verdict.json").read_bytes()
    assert a == (tmp_path / "b" / "report" / "verdict.json").read_bytes()
    html = (tmp_path / "a" / "report" / "report.html").read_text()
    assert "sines: GRU wins" in html and html.count("data:image/png;base64,") >= 3
    assert client.get_run(parent_id).data.tags["gatesweep.verdict.sines"] == first["datasets"][0]["label"] == "gru"
