"""`gatesweep export`'s columns, on the 0.1.0 release store (damped: GRU wins; nile: inconclusive)."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from pipeline.app.cli import main
from tests.conftest import RELEASE_0_1_0, RELEASE_0_1_0_PARENT, release_store

ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    return release_store(RELEASE_0_1_0, tmp_path_factory.mktemp("store"))


def _export(store: str, target: Path, *extra: str) -> list[dict[str, str]]:
    assert main(["export", RELEASE_0_1_0_PARENT, "--tracking-uri", store, "--output", str(target), *extra]) == 0
    return list(csv.DictReader(target.open(encoding="utf-8")))


def test_each_run_carries_its_datasets_verdict_whether_it_is_chosen_and_iso_times(store: str, tmp_path: Path,
                                                                                  capsys: pytest.CaptureFixture[str],
                                                                                  ) -> None:
    rows = _export(store, tmp_path / "runs.csv")
    assert capsys.readouterr().out.startswith("28 runs -> ")
    assert list(rows[0])[:12] == ["run_id", "run_name", "dataset", "arch", "role", "seed", "verdict", "useful",
                                  "chosen", "status", "start_time", "end_time"]
    assert {(r["dataset"], r["verdict"]) for r in rows} == {("damped", "gru"), ("nile", "inconclusive")}
    assert {r["useful"] for r in rows} == {""}  # a store from before the usefulness rule
    for r in rows:
        assert ISO.match(r["start_time"]) and ISO.match(r["end_time"]) and r["start_time"] <= r["end_time"], r
    # top_k 1: every confirm run trained the chosen configuration, and so did the trial it came from (one per
    # cell), while the other trials did not
    assert all(r["chosen"] == "True" for r in rows if r["role"] == "confirm")
    trials = [(r["dataset"], r["arch"], r["index"]) for r in rows if r["role"] == "trial" and r["chosen"] == "True"]
    sources = {(r["dataset"], r["arch"], r["source_trial"].removesuffix(".0")) for r in rows if r["role"] == "confirm"}
    assert len(trials) == 4 and set(trials) == sources
    assert sum(r["chosen"] == "False" for r in rows) == 4


def test_per_series_gives_each_series_score_overall_and_per_step(store: str, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    runs = {r["run_id"]: r for r in _export(store, tmp_path / "runs.csv")}
    rows = _export(store, tmp_path / "series.csv", "--per-series")
    assert "20 run-series rows (8 runs without stored forecasts left out)" in capsys.readouterr().out
    assert list(rows[0])[:11] == ["run_id", "run_name", "dataset", "arch", "role", "seed", "verdict", "useful",
                                  "chosen", "series", "test_mase"]
    for r in rows:  # one series per dataset here: its score is the run's own test MASE, from its forecasts
        assert r["series"] == r["dataset"] and r["verdict"] == runs[r["run_id"]]["verdict"]
        assert float(r["test_mase"]) == pytest.approx(float(runs[r["run_id"]]["test_mase"]), rel=1e-9)
        assert float(r["test_mase_step_1"]) == pytest.approx(float(r["test_mase"]))

