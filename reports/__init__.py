"""The report stage: MLflow runs in, a statistical verdict out (logged back under `report/`).

`build_report` reads nothing but MLflow, so `gatesweep report PARENT_RUN_ID` rebuilds the same
`verdict.json` anywhere the tracking store is reachable. The statistics and the verdict's type live in the
pure `pipeline.verdict`, which the sweep imports too; importing them does not import MLflow, so the package's
entry points are loaded on first use.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipeline.verdict.model import Verdict

__all__ = ["build_report", "compute_verdict", "stored_verdict"]


def build_report(client: Any, parent_run_id: str, out_dir: Path, link: str | None = None) -> Verdict:
    """See `reports.build.build_report`."""
    from reports.build import build_report as build

    return build(client, parent_run_id, out_dir, link)


def compute_verdict(client: Any, parent_run_id: str) -> tuple[Verdict, dict[str, Any]]:
    """See `reports.build.compute_verdict`."""
    from reports.build import compute_verdict as compute

    return compute(client, parent_run_id)


def stored_verdict(out_dir: Path) -> Verdict | None:
    """The verdict a finished sweep wrote to `out_dir/report/verdict.json` (None if there is none)."""
    from pipeline.verdict.model import Verdict

    path = Path(out_dir) / "report" / "verdict.json"
    return Verdict.from_json(path.read_text(encoding="utf-8")) if path.exists() else None
