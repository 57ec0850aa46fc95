"""The report stage: MLflow runs in, a statistical verdict out (logged back under `report/`).

`build_report` reads nothing but MLflow, so `gatesweep report PARENT_RUN_ID` rebuilds the same
`verdict.json` anywhere the tracking store is reachable.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from reports import plots
from reports.render import report_html, summary_md, verdict_json
from reports.runs import parent_info, runs_table
from reports.stats import compare_architectures, cost_summary, overall, to_dict

__all__ = ["build_report", "compute_verdict"]


def _chosen_confirm_runs(table: pd.DataFrame) -> pd.DataFrame:
    """Finished confirm runs of each cell's best config, chosen by mean validation RMSE (never test)."""
    confirm = table[(table["role"] == "confirm") & (table["status"] == "FINISHED")]
    keep = []
    for _, cell in confirm.groupby(["dataset", "arch"], sort=True):
        best_rank = cell.groupby("rank")["val_rmse"].mean().idxmin() if cell["val_rmse"].notna().any() else 0
        keep.append(cell[cell["rank"] == best_rank])
    return pd.concat(keep) if keep else confirm


def _baselines(parent_metrics: dict[str, float]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for key, value in parent_metrics.items():
        parts = key.split(".")
        if len(parts) == 3 and parts[0] == "baseline":
            out.setdefault(parts[1], {})[parts[2]] = value
    return out


def _counts(table: pd.DataFrame) -> dict[str, dict[str, dict[str, int]]]:
    out: dict[str, dict[str, dict[str, int]]] = {}
    for (role, arch), d in table.groupby(["role", "arch"], sort=True):
        out.setdefault(str(role), {})[str(arch)] = {"finished": int((d["status"] == "FINISHED").sum()),
                                                    "failed": int((d["status"] == "FAILED").sum())}
    return out


def compute_verdict(client: Any, parent_run_id: str) -> tuple[dict[str, Any], pd.DataFrame, list[Any]]:
    """The verdict dictionary (what `verdict.json` holds), the chosen confirm runs and the verdicts."""
    parent = parent_info(client, parent_run_id)
    table = runs_table(client, parent_run_id)
    if table.empty:
        raise ValueError(f"parent run {parent_run_id} has no child runs")
    alpha = float(parent["params"].get("alpha", 0.05))
    margin = float(parent["params"].get("equivalence_margin", 0.02))
    confirm = _chosen_confirm_runs(table)
    verdicts = compare_architectures(confirm, _baselines(parent["metrics"]), alpha=alpha, margin=margin)
    sweep = client.get_experiment(parent["experiment_id"]).name
    verdict = {
        "sweep": sweep, "parent_run_id": parent_run_id,
        "datasets": [to_dict(v) for v in verdicts],
        "overall": overall(verdicts, alpha=alpha),
        "cost": cost_summary(confirm),
        "counts": _counts(table),
        "settings": {"alpha": alpha, "equivalence_margin": margin, "test": "two-sided permutation, Holm",
                     "ci": "bootstrap BCa 95%", "confirm_runs_used": int(len(confirm))},
    }
    return verdict, confirm, verdicts


def _figures(client: Any, confirm: pd.DataFrame, verdict: dict[str, Any],
             verdicts: list[Any]) -> list[tuple[str, bytes]]:
    images = [("Effect per dataset with 95% CI", plots.effects(verdicts, verdict["settings"]["equivalence_margin"]))]
    for v in verdict["datasets"]:
        ds = v["dataset"]
        images.append((f"{ds}: test MASE per seed", plots.mase_strip(confirm, ds, v["naive_mase"])))
        curves, histories = {}, {}
        for arch, d in confirm[confirm["dataset"] == ds].groupby("arch", sort=True):
            run_id = d.sort_values("seed").iloc[0]["run_id"]
            with tempfile.TemporaryDirectory() as tmp:
                path = client.download_artifacts(run_id, "closed_loop.json", tmp)
                curves[arch] = json.loads(Path(path).read_text())
            histories[arch] = {k: [m.value for m in sorted(client.get_metric_history(run_id, k), key=lambda m: m.step)]
                               for k in ("loss", "val_loss")}
        images.append((f"{ds}: closed-loop generation", plots.closed_loop(curves, ds)))
        images.append((f"{ds}: loss curves", plots.loss_curves(histories, ds)))
    return images


def build_report(client: Any, parent_run_id: str, out_dir: Path) -> dict[str, Any]:
    """Compute the verdict, write report.html / summary.md / verdict.json, log them and the tags."""
    verdict, confirm, verdicts = compute_verdict(client, parent_run_id)
    report_dir = Path(out_dir) / "report"
    report_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / "verdict.json").write_text(verdict_json(verdict), encoding="utf-8")
    (report_dir / "summary.md").write_text(summary_md(verdict), encoding="utf-8")
    html = report_html(verdict, _figures(client, confirm, verdict, verdicts))
    (report_dir / "report.html").write_text(html, encoding="utf-8")
    for name in ("verdict.json", "summary.md", "report.html"):
        client.log_artifact(parent_run_id, str(report_dir / name), "report")
    client.set_tag(parent_run_id, "gatesweep.verdict", verdict["overall"]["label"])
    for v in verdict["datasets"]:
        client.set_tag(parent_run_id, f"gatesweep.verdict.{v['dataset']}", v["label"])
    return verdict
