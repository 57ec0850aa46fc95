"""A report that fails after the training finished: one line, the parent FINISHED and tagged, and the report
built again by `gatesweep resume` (and `gatesweep report`) once the cause is gone. On the 0.1.0 store (a real
sweep's runs in a real MLflow store), through the sweep's own last steps; no Ray: nothing is left to train."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from pipeline.app.cli import main
from pipeline.core.config import SweepSpec
from pipeline.tracking.contract import Tags
from pipeline.tracking.state import SweepState, unfinished
from pipeline.verdict.model import SCHEMA_VERSION
from tests.conftest import RELEASE_0_1_0, RELEASE_0_1_0_PARENT, release_store

SPACE = RELEASE_0_1_0.parent / "release_store.yaml"


def _trained_sweep(tmp_path: Path) -> tuple[str, Path]:
    """A copy of the 0.1.0 store and a sweep directory for its parent, every run trained: the report is next."""
    uri = release_store(RELEASE_0_1_0, tmp_path)
    out = tmp_path / "home" / "20250101-000000-6de1bc49"
    spec = SweepSpec.model_validate(yaml.safe_load(SPACE.read_text(encoding="utf-8")))
    SweepState(tracking_uri=uri, experiment=spec.name, parent_run_id=RELEASE_0_1_0_PARENT, phase="trained",
               spec_path=str(SPACE), spec=spec).save(out)
    return uri, out


def _overflow(*_: object) -> None:
    raise OverflowError("math range error")  # what `math.exp` of an unbounded repeated interval raised


def test_a_failed_report_is_one_line_leaves_the_parent_finished_and_resume_builds_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from mlflow import MlflowClient

    import reports
    from pipeline.app.sweep import resume
    from pipeline.tracking.state import REPORT_ERROR

    uri, out = _trained_sweep(tmp_path)
    client = MlflowClient(uri)
    monkeypatch.setattr("reports.build.compute_verdict", _overflow)
    assert main(["sync", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0], err
    assert err[0].startswith("report: computing the verdict failed: OverflowError: math range error; the training "
                             f"finished and is in MLflow (parent run {RELEASE_0_1_0_PARENT}, FINISHED"), err[0]
    assert f"`gatesweep resume {out}` builds the report" in err[0]
    parent = client.get_run(RELEASE_0_1_0_PARENT)
    assert parent.info.status == "FINISHED"
    assert parent.data.tags[Tags.REPORT_FAILED] == "computing the verdict failed: OverflowError: math range error"
    assert "Traceback" in (out / REPORT_ERROR).read_text(encoding="utf-8")
    assert SweepState.load(out).phase == "report_failed"
    assert unfinished(out.parent) is None  # its training ended: a new sweep may start in the same home

    # `gatesweep report` fails the same way, one line, and leaves the parent as it was
    assert main(["report", RELEASE_0_1_0_PARENT, "--tracking-uri", uri, "--out", str(tmp_path / "rebuilt")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("report: computing the verdict failed: OverflowError"), err

    monkeypatch.undo()  # the cause fixed
    outcome = resume(out, None, reports)
    assert [v.label for v in outcome.verdict.datasets] == ["gru", "inconclusive"]
    parent = client.get_run(RELEASE_0_1_0_PARENT)
    assert parent.info.status == "FINISHED" and Tags.REPORT_FAILED not in parent.data.tags
    assert SweepState.load(out).phase == "done"
    assert json.loads((out / "report" / "verdict.json").read_text(encoding="utf-8"))["schema_version"] == SCHEMA_VERSION
    assert (out / "report" / "report.html").exists()
