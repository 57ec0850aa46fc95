"""A store written by an earlier release (tests/data/stores/, made by tests/data/stores/make_store.sh) stays
readable: its report is rebuilt with the same verdict, it exports, and its verdict.json loads."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import pytest

from pipeline.app.cli import main
from pipeline.verdict.model import Verdict
from tests.conftest import RELEASE_0_1_0, RELEASE_0_1_0_PARENT, release_store

# what schema 2 adds to each dataset entry
_SCHEMA_2_DATASET = {f".datasets[{i}].{k}" for i in (0, 1) for k in (
    "horizon", "series", "per_step", "baseline_mase", "best_baseline", "beats_best_baseline", "baselines_failed",
    "per_series", "dropped_series")}


def test_the_0_1_0_verdict_json_loads_and_keeps_every_value() -> None:
    text = (RELEASE_0_1_0 / "verdict.json").read_text(encoding="utf-8")
    verdict = Verdict.from_json(text)
    assert verdict.schema_version == 1 and [v.label for v in verdict.datasets] == ["gru", "inconclusive"]
    assert [(v.horizon, v.series, v.per_step) for v in verdict.datasets] == [(1, 1, [])] * 2  # schema 1: one step
    assert _added(json.loads(text), json.loads(verdict.to_json())) == {".schema_version", ".settings.patience",
                                                                       ".settings.final_fit", *_SCHEMA_2_DATASET}
    assert verdict.settings.patience is None and verdict.settings.final_fit is None


def test_a_verdict_json_that_drifts_from_the_shape_is_refused() -> None:
    from pydantic import ValidationError

    text = (RELEASE_0_1_0 / "verdict.json").read_text(encoding="utf-8").replace('"reason":', '"why":', 1)
    with pytest.raises(ValidationError, match="why"):
        Verdict.from_json(text)


def test_the_report_of_a_0_1_0_store_rebuilds_the_same_verdict(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    uri = release_store(RELEASE_0_1_0, tmp_path)
    out = tmp_path / "rebuilt"
    assert main(["report", RELEASE_0_1_0_PARENT, "--tracking-uri", uri, "--out", str(out)]) == 0
    printed = capsys.readouterr().out.splitlines()
    stored = (RELEASE_0_1_0 / "stdout.txt").read_text(encoding="utf-8").splitlines()
    assert printed[:2] == stored[:2]  # the per-dataset sentences, as 0.1.0 printed them
    new = json.loads((out / "report" / "verdict.json").read_text(encoding="utf-8"))
    old = json.loads((RELEASE_0_1_0 / "verdict.json").read_text(encoding="utf-8"))
    # every value 0.1.0 wrote is written again, equal; what schema 2 adds is all that is new
    assert _added(old, new) == {".schema_version", ".sweep_info.search_space.all datasets.strategy",
                                *(f".sweep_info.search_space.all datasets.{k}" for k in ("normalize", "loss_fn",
                                                                                          "epoch_windows")),
                                ".settings.patience", ".settings.final_fit", *_SCHEMA_2_DATASET,
                                ".datasets[0].useful", ".datasets[1].useful", ".datasets[0].scores",
                                ".datasets[1].scores", ".nightly.history[0].datasets.damped.useful",
                                ".nightly.history[0].datasets.nile.useful"}
    # 0.1.0's one-step forecasts are scored and drawn; with no baselines.json, the networks alone
    assert [d["scores"]["forecasters"] for d in new["datasets"]] == [["gru", "gru_ensemble", "lstm",
                                                                      "lstm_ensemble"]] * 2
    assert "test forecasts against actuals, its one series" in (out / "report" / "report.html").read_text()
    # no baselines.json in 0.1.0: nothing is tested against the baselines, so no network is recommended
    assert [d["useful"]["useful"] for d in new["datasets"]] == ["untestable"] * 2
    # the history's one night is this report's own: it carries the usefulness just computed
    assert [v["useful"] for v in new["nightly"]["history"][0]["datasets"].values()] == ["untestable"] * 2
    assert not any("use the GRU configuration" in s for s in new["next_steps"])
    assert new["settings"]["patience"] is None  # 0.1.0 trained every epoch (its param), whatever today's default
    assert new["settings"]["final_fit"] is None  # and fitted its confirm runs on the training part
    damped = new["datasets"][0]  # 0.1.0 logged naive and AR baselines; ETS and Theta came later
    assert set(damped["baseline_mase"]) == {"naive", "ar"} and damped["beats_best_baseline"] is False
    assert [d["horizon"] for d in new["datasets"]] == [1, 1]
    # at horizon 1 the one step's ratio is the verdict's ratio
    assert new["datasets"][0]["per_step"][0]["ratio"] == pytest.approx(math.exp(old["datasets"][0]["effect"]))
    assert "GRU wins" in (out / "report" / "report.html").read_text(encoding="utf-8")


# values the report now computes differently (schema 5): the seed ensemble is the median of the seeds' forecasts
# (was their mean), which moves the DM test on the ensembles and the ensemble's test MASE; the advice follows the
# usefulness rule (0.1.0 logged no baselines.json, so no network is recommended)
_RECOMPUTED = (r"\.datasets\[\d+\]\.dm\..*", r"\.configurations\..*\.ensemble_test_mase", r"\.next_steps.*")


def _added(old: Any, new: Any, path: str = "") -> set[str]:
    """Paths in `new` that `old` lacks; fails on any value of `old` that `new` changes or drops (but those in
    `_RECOMPUTED`)."""
    import re

    if any(re.fullmatch(p, path) for p in _RECOMPUTED):
        return set()
    if isinstance(old, dict):
        assert isinstance(new, dict) and set(old) <= set(new), path
        return {f"{path}.{k}" for k in set(new) - set(old)} | {p for k in old for p in _added(old[k], new[k],
                                                                                               f"{path}.{k}")}
    if isinstance(old, list):
        assert isinstance(new, list) and len(old) == len(new), path
        return {p for i, (a, b) in enumerate(zip(old, new, strict=True)) for p in _added(a, b, f"{path}[{i}]")}
    assert old == new, (path, old, new)
    return set()


def test_a_0_1_0_store_exports(tmp_path: Path) -> None:
    uri = release_store(RELEASE_0_1_0, tmp_path)
    target = tmp_path / "runs.csv"
    assert main(["export", RELEASE_0_1_0_PARENT, "--tracking-uri", uri, "--output", str(target)]) == 0
    rows = list(csv.DictReader(target.open()))
    assert len(rows) == 28  # 8 tune trials + 20 confirm seeds
    assert {r["role"] for r in rows} == {"trial", "confirm"} and all(r["test_mase"] for r in rows
                                                                     if r["role"] == "confirm")


@pytest.mark.slow
def test_a_new_nightly_compares_itself_with_a_0_1_0_night(tmp_path: Path) -> None:
    """The sweep that wrote the 0.1.0 store, run again by this release into a copy of that store: the new
    night reads the old one as its previous night (verdicts, ratios and MASE from the old run's metrics)."""
    import shutil

    from tests.conftest import run_gatesweep

    uri = release_store(RELEASE_0_1_0, tmp_path)
    space = tmp_path / "release_store.yaml"
    shutil.copy(RELEASE_0_1_0.parent / "release_store.yaml", space)
    # today's default confirms in rounds of up to 40 seeds; one round of 5, as 0.1.0 ran, keeps this test short
    text = space.read_text(encoding="utf-8")
    space.write_text(text.replace("seeds: 5,", "seeds: 5, max_seeds: 5,"), encoding="utf-8")
    proc = run_gatesweep(["nightly", str(space), "--tracking-uri", uri, "--lock-dir", str(tmp_path / "locks")],
                         tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "nightly: code changed since the last night (16a01f6f9127adf573a4eac4f9171079443ef93f ->" in proc.stdout
    verdict = Verdict.from_json(next(tmp_path.glob("gatesweep-output/release-store/nightly-*/report/verdict.json"))
                                .read_text(encoding="utf-8"))
    assert verdict.nightly is not None and verdict.nightly.previous_run_id == RELEASE_0_1_0_PARENT
    old = verdict.nightly.history[1]
    assert old.overall == "inconclusive" and old.datasets["damped"].label == "gru"
    assert old.datasets["nile"].test_mase["gru"].mean == pytest.approx(0.7427667405)


def test_a_schema_3_verdict_json_loads_its_sentinel_and_null_interval_as_the_explicit_forms() -> None:
    """Schema 3 wrote "more than 1000 seeds" as `seeds_needed` 1001 and an undefined repeated interval as null
    with no note; both load as schema 4 says them (`seeds_needed_above`; "not defined" in the report)."""
    from pipeline.verdict.model import Rounds, RoundStep
    from reports.render import summary_md

    old = json.loads((RELEASE_0_1_0 / "verdict.json").read_text(encoding="utf-8"))
    nile = old["datasets"][1]
    nile["seeds_needed"] = 1001
    nile["minutes_needed"] = 91.5
    step = {"round": 1, "n_gru": 5, "n_lstm": 5, "ratio": 0.9, "ci_low": None, "ci_high": None, "threshold": 3e-8}
    nile["rounds"] = {"stop": "futility", "why": "no decision reachable within max_seeds", "rounds": 1,
                      "max_rounds": 8, "max_seeds": 40, "path": [step]}
    old["schema_version"] = 3
    verdict = Verdict.from_json(json.dumps(old))
    v = verdict.datasets[1]
    assert v.seeds_needed is None and v.seeds_needed_above == 1000
    assert v.rounds == Rounds(stop="futility", why="no decision reachable within max_seeds", rounds=1, max_rounds=8,
                              max_seeds=40, path=[RoundStep(**step)])
    assert "ratio 0.900 (repeated 95% CI not defined)" in summary_md(verdict)
    again = json.loads(verdict.to_json())["datasets"][1]
    assert (again["seeds_needed"], again["seeds_needed_above"]) == (None, 1000)
