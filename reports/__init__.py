"""The report stage: MLflow runs in, a statistical verdict out (logged back by `pipeline.tracking.publish`).

`build_report` reads nothing but MLflow, so `gatesweep report PARENT_RUN_ID` rebuilds the same
`verdict.json` anywhere the tracking store is reachable. The statistics and the verdict's type live in the
pure `pipeline.verdict`, which the sweep imports too; this package reads runs, assembles, decides, words
(`reports.wording`) and draws; it never imports MLflow itself, but importing it imports MLflow.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.verdict.model import Verdict
from reports.build import build_report, compute_verdict

__all__ = ["build_report", "compute_verdict", "stored_verdict"]


def stored_verdict(out_dir: Path) -> Verdict | None:
    """The verdict a finished sweep wrote to `out_dir/report/verdict.json` (None if there is none)."""
    path = Path(out_dir) / "report" / "verdict.json"
    return Verdict.from_json(path.read_text(encoding="utf-8")) if path.exists() else None
