"""`gatesweep bench --scale` drives the real driver path: what it reports is what reached MLflow."""

from __future__ import annotations

from pathlib import Path

from pipeline.dev.scale import EPOCHS, format_scale, scale_benchmark
from tests.conftest import local_runs


def test_the_scale_bench_writes_every_finished_trial_and_counts_what_it_sent(tmp_path: Path) -> None:
    rows = scale_benchmark(tmp_path, [3], ["sqlite"], seconds=5, trial_s=2)
    (row,) = rows
    # 3 slots of 2 s trials, started at 0, 2/3 and 4/3 s: 5 trials end within 5 s, every one written
    assert row["finished_trials"] == 5
    assert row["in_mlflow"] == row["written"] == row["finished_trials"] and row["dead"] == 0
    assert row["results"] >= 2 * row["finished_trials"]  # a result a second, the last one final
    assert 0 < row["driver_cpu_ms_per_result"] < 1000 and row["lag_max_s"] < 5
    client, runs = local_runs(tmp_path / "sqlite", "bench-scale-3-1-1-tpe", "tags.`gatesweep.role` = 'trial'")
    assert len(runs) == row["finished_trials"]
    assert {r.data.tags["gatesweep.arch"] for r in runs} == {"gru", "lstm"}  # CellSearcher's round robin
    history = client.get_metric_history(runs[0].info.run_id, "loss")
    assert [m.step for m in history] == list(range(EPOCHS))  # every epoch's row, once
    assert "sqlite" in format_scale(rows).splitlines()[1]
