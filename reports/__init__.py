"""The report stage: MLflow runs in, a statistical verdict out (logged back under `report/`).

`build_report` reads nothing but MLflow, so `gatesweep report PARENT_RUN_ID` rebuilds the same
`verdict.json` anywhere the tracking store is reachable. The statistics (`reports.stats`, `reports.dm`,
`reports.bayes`, ...) are pure: importing them does not import MLflow, so the package's entry points
are loaded on first use.
"""

from __future__ import annotations

from typing import Any

__all__ = ["build_report", "compute_verdict"]


def build_report(client: Any, parent_run_id: str, out_dir: Any, link: str | None = None) -> dict[str, Any]:
    """See `reports.build.build_report`."""
    from reports.build import build_report as build

    return build(client, parent_run_id, out_dir, link)


def compute_verdict(client: Any, parent_run_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """See `reports.build.compute_verdict`."""
    from reports.build import compute_verdict as compute

    return compute(client, parent_run_id)
