"""The networks' recipe, part by part, on a public benchmark (`python -m pipeline.dev.recipe`): an ablation.

Each configuration is trained as a sweep's chosen configuration is: early stopping on the validation part (the
h points before the test part) picks the epochs, then the final fit on everything before the test part trains
that many epochs and forecasts the test part (one origin, the last h points). Each seed is scored alone and the
seeds' mean and median forecasts as ensembles; sMAPE and MASE as the competition computes them (means over
series). No Ray, no MLflow: one process, so the figures are the recipe's, not the orchestration's.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.core.data import load_sweep
from pipeline.core.hparams import HParams
from pipeline.core.scoring import Scoring
from pipeline.core.training import fit_and_score
from pipeline.dev.competition import bench_spec, ensemble_scores, space_for

RECIPES: dict[str, dict[str, Any]] = {  # what each row changes from the one before it
    "before (log, series scaling, MSE)": {"transform": "log", "normalize": "series", "loss_fn": "mse"},
    "+ window normalisation": {"transform": "log", "normalize": "window", "loss_fn": "mse"},
    "+ MAE loss": {"transform": "log", "normalize": "window", "loss_fn": "mae"},
    "log_diff instead (series, MSE)": {"transform": "log_diff", "normalize": "series", "loss_fn": "mse"},
    "+ STL deseasonalisation (log_stl)": {"transform": "log_stl", "normalize": "window", "loss_fn": "mae"},
    "log_stl with series scaling": {"transform": "log_stl", "normalize": "series", "loss_fn": "mae"},
}
BASE = {"hidden_size": 32, "window": 15, "optimizer": "adam", "learning_rate": 0.003, "batch_size": 256,
        "epochs": 60, "strategy": "direct"}


def run(benchmark: str, series: int | None, seeds: int, arch: str, recipes: list[str], patience: int,
        epoch_windows: int, base: dict[str, Any] | None = None) -> list[dict[str, Any]]:

    with tempfile.TemporaryDirectory() as tmp:
        spec, panels = load_sweep(bench_spec(benchmark, space_for(benchmark), series, Path(tmp)))
    ds = spec.datasets[0]
    panel = panels[ds.name]
    # the benchmark's scoring with this run's `patience` (the chosen fit stops early; the final fit ignores it)
    scoring = Scoring.of(spec, ds.name).model_copy(update={"patience": patience})
    rows = []
    for name in recipes:
        hp = HParams(arch=arch, **{**BASE, **(base or {})}, **RECIPES[name],  # type: ignore[arg-type]
                     epoch_windows=epoch_windows)
        t0 = time.perf_counter()
        per_seed, forecasts = [], []
        for seed in range(seeds):
            chosen = fit_and_score(hp, panel, scoring, seed=seed, evaluate_test=False)
            epochs = int(chosen.metrics["best_epoch"]) + 1
            final = fit_and_score(hp.model_copy(update={"epochs": epochs}), panel, scoring, seed=seed,
                                  evaluate_test=True, refit=True)
            assert final.forecasts is not None
            fc: list[Any] = final.forecasts.get("series") or [final.forecasts]  # type: ignore[assignment]
            forecasts.append([np.asarray(s["test_pred"], float) for s in fc])
            truth = [np.asarray(s["truth"], float)[-ds.horizon:] for s in fc]
            scales = [float(s["mase_scale"][0]) for s in fc]
            per_seed.append({"seed": seed, "epochs": epochs, "val_mase": chosen.metrics["val_mase"],
                             "test_smape": final.metrics["test_smape"], "test_mase": final.metrics["test_mase"]})
        ens = ensemble_scores(forecasts, truth, scales)
        rows.append({"recipe": name, "arch": arch, "base": {**BASE, **(base or {})}, "series": len(panel.series),
                     "seeds": per_seed,
                     "val_mase": float(np.mean([s["val_mase"] for s in per_seed])),
                     "seed_smape": float(np.mean([s["test_smape"] for s in per_seed])),
                     "seed_mase": float(np.mean([s["test_mase"] for s in per_seed])),
                     **{k: (e["smape"], e["mase"]) for k, e in ens.items()},
                     "seconds": time.perf_counter() - t0})
        print(_row(rows[-1]), flush=True)
    return rows


def _row(r: dict[str, Any]) -> str:
    return (f"{r['recipe']:36} {r['arch']:4} val MASE {r['val_mase']:.3f} | per seed sMAPE {r['seed_smape']:6.2f} "
            f"MASE {r['seed_mase']:.3f} | mean ensemble {r['ensemble_mean'][0]:6.2f} {r['ensemble_mean'][1]:.3f} | "
            f"median ensemble {r['ensemble_median'][0]:6.2f} {r['ensemble_median'][1]:.3f} | {r['seconds']:.0f} s")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--benchmark", default="m3-monthly")
    p.add_argument("--series", type=int, default=200)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--arch", default="gru")
    p.add_argument("--patience", type=int, default=10)
    p.add_argument("--epoch-windows", type=int, default=0)
    p.add_argument("--recipe", action="append", choices=list(RECIPES))
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="change a base hyperparameter")
    p.add_argument("--json", type=Path)
    a = p.parse_args()
    base = {k: json.loads(v) if v[:1].isdigit() or v[:1] == "-" else v for k, v in (x.split("=", 1) for x in a.set)}
    rows = run(a.benchmark, a.series, a.seeds, a.arch, a.recipe or list(RECIPES), a.patience, a.epoch_windows, base)
    if a.json:
        a.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
