"""The report stage: MLflow runs in, a statistical verdict out (logged back under `report/`).

`build_report` reads nothing but MLflow, so `gatesweep report PARENT_RUN_ID` rebuilds the same
`verdict.json` anywhere the tracking store is reachable.
"""

from __future__ import annotations

from reports.build import build_report, compute_verdict

__all__ = ["build_report", "compute_verdict"]
