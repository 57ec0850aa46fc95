"""A store written by an earlier release (tests/data/stores/, made by tests/data/stores/make_store.sh) stays
readable: its report is rebuilt with the same verdict, it exports, and its verdict.json loads."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from pipeline.app.cli import main
from reports.verdict import Verdict
from tests.conftest import RELEASE_0_1_0, RELEASE_0_1_0_PARENT, release_store


def test_the_0_1_0_verdict_json_loads_and_dumps_to_the_same_bytes_but_its_schema_line() -> None:
    text = (RELEASE_0_1_0 / "verdict.json").read_text(encoding="utf-8")
    verdict = Verdict.from_json(text)
    assert verdict.schema_version == 1 and [v.label for v in verdict.datasets] == ["gru", "inconclusive"]
    dumped = verdict.to_json().splitlines(keepends=True)
    assert dumped.count('  "schema_version": 1,\n') == 1
    assert "".join(line for line in dumped if line != '  "schema_version": 1,\n') == text


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
    new = (out / "report" / "verdict.json").read_text(encoding="utf-8")
    # byte-identical to what 0.1.0 wrote, but for the one line this release adds
    assert new.replace('  "schema_version": 2,\n', "") == (RELEASE_0_1_0 / "verdict.json").read_text(encoding="utf-8")
    assert "GRU wins" in (out / "report" / "report.html").read_text(encoding="utf-8")


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
