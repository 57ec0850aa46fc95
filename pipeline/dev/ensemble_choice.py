"""Mean or median over seeds: which seed ensemble forecasts better, measured on a finished sweep's stored
forecasts (`python -m pipeline.dev.ensemble_choice --tracking-uri sqlite:///mlflow.db [PARENT_RUN_ID ...]`).

For every sweep (parent run) in the store, dataset and architecture: the chosen configuration's confirm runs'
test forecasts (`forecasts.json`), combined per origin and step by their mean and by their median, scored as
the report scores them (`pipeline.verdict.horizon.ensemble_mase`), beside the seeds' own mean test MASE. Printed as a
Markdown table; `pipeline.verdict.horizon.ENSEMBLE` records the choice.
"""

from __future__ import annotations

import argparse

import numpy as np

from pipeline.tracking.contract import ARCHITECTURES, Tags
from pipeline.verdict.horizon import ensemble_mase
from reports.schema import Col


def measure(tracking_uri: str, parents: list[str]) -> list[dict[str, object]]:
    """One row per (sweep, dataset, architecture) with stored forecasts."""
    from mlflow import MlflowClient  # lazy: loads MLflow

    from reports.build import Forecasts, _arm_paths, chosen_confirm_runs  # lazy: loads MLflow
    from reports.runs import runs_table  # lazy: loads MLflow

    client = MlflowClient(tracking_uri)
    if not parents:
        parents = [r.info.run_id for e in client.search_experiments()
                   for r in client.search_runs([e.experiment_id], f"tags.`{Tags.ROLE}` = 'sweep'")]
    rows: list[dict[str, object]] = []
    for parent in parents:
        table = runs_table(client, parent)
        confirm = chosen_confirm_runs(table)
        forecasts = Forecasts(client, table)
        for ds in sorted(confirm[Col.DATASET].unique()):
            paths = _arm_paths(confirm, ds, forecasts)
            for arch in ARCHITECTURES:
                runs = paths[arch]
                if len(runs) < 2:
                    continue
                seeds = [float(np.mean([p.mase() for p in run])) for run in runs]
                rows.append({"sweep": parent[:8], "dataset": ds, "arch": arch, "seeds": len(runs),
                             "seed_mean": float(np.mean(seeds)), "mean": ensemble_mase(runs, "mean"),
                             "median": ensemble_mase(runs, "median")})
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("parents", nargs="*", help="parent run ids (default: every sweep in the store)")
    ap.add_argument("--tracking-uri", required=True)
    args = ap.parse_args(argv)
    rows = measure(args.tracking_uri, args.parents)
    print("| sweep | dataset | arch | seeds | mean per-seed MASE | mean ensemble | median ensemble | median/mean |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        ratio = float(r["median"]) / float(r["mean"])  # type: ignore[arg-type]
        print(f"| {r['sweep']} | {r['dataset']} | {r['arch']} | {r['seeds']} | {r['seed_mean']:.4f} | "
              f"{r['mean']:.4f} | {r['median']:.4f} | {ratio:.3f} |")
    if rows:
        logs = np.log([float(r["median"]) / float(r["mean"]) for r in rows])  # type: ignore[arg-type]
        print(f"\ngeometric mean median/mean over {len(rows)} cells: {np.exp(logs.mean()):.3f}; median lower in "
              f"{int((logs < 0).sum())} of {len(rows)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
