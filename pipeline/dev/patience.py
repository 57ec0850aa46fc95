"""How much early stopping buys: one fixed configuration per built-in dataset, trained with and without
early stopping over many seeds (`python -m pipeline.dev.patience --seeds 10`).

Each (dataset, patience, seed) is one `fit_and_score` run in a worker process of its own thread (TensorFlow
sized to one CPU); the table gives, per dataset and patience, the geometric means over seeds of validation
and test MASE, the mean epochs trained and the mean wall seconds of a run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from pipeline.core.config import SweepSpec
from pipeline.core.data import load_series
from pipeline.core.hparams import HParams
from pipeline.core.models import configure_tensorflow
from pipeline.core.scoring import Scoring
from pipeline.core.training import fit_and_score

DATASETS = {  # name: (source settings, transform: trending series need one)
    "damped": ({"name": "damped", "source": "damped_oscillation"}, "none"),
    "sunspots": ({"name": "sunspots", "source": "sunspots"}, "none"),
    "nile": ({"name": "nile", "source": "nile"}, "none"),
    "co2": ({"name": "co2", "source": "co2", "missing": "interpolate"}, "diff"),
    "elnino": ({"name": "elnino", "source": "elnino"}, "none"),
}
CONFIG = {"hidden_size": 32, "window": 20, "optimizer": "adam", "learning_rate": 0.005, "batch_size": 20,
          "epochs": 150}


def _one(task: tuple[str, str, int | None, int]) -> dict[str, Any]:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    configure_tensorflow(1)

    name, arch, patience, seed = task
    settings, transform = DATASETS[name]
    ds = SweepSpec.model_validate({"name": "p", "datasets": [settings]}).datasets[0]
    hp = HParams(arch=arch, transform=transform, **CONFIG)  # type: ignore[arg-type]
    t0 = time.perf_counter()
    r = fit_and_score(hp, load_series(ds), Scoring(patience=patience), seed=seed, evaluate_test=True)
    return {"dataset": name, "arch": arch, "patience": patience, "seed": seed, "val_mase": r.metrics["val_mase"],
            "test_mase": r.metrics["test_mase"], "epochs": r.metrics["epochs_trained"],
            "seconds": time.perf_counter() - t0}


def measure(seeds: int, patiences: list[int | None], workers: int) -> list[dict[str, Any]]:
    tasks = [(name, arch, p, 1000 + s) for name in DATASETS for arch in ("gru", "lstm") for p in patiences
             for s in range(seeds)]
    with ProcessPoolExecutor(workers) as pool:
        return list(pool.map(_one, tasks))


def table(rows: list[dict[str, Any]]) -> str:
    def gmean(xs: list[float]) -> float:
        return math.exp(sum(math.log(x) for x in xs) / len(xs))

    out = ["| dataset | arch | patience | val MASE (gmean) | test MASE (gmean) | epochs | seconds a run |",
           "|---|---|---|---|---|---|---|"]
    keys = sorted({(r["dataset"], r["arch"], r["patience"] or 0) for r in rows})
    for name, arch, p in keys:
        sel = [r for r in rows if (r["dataset"], r["arch"], r["patience"] or 0) == (name, arch, p)]
        out.append(f"| {name} | {arch} | {p or 'none'} | {gmean([r['val_mase'] for r in sel]):.3f} | "
                   f"{gmean([r['test_mase'] for r in sel]):.3f} | {sum(r['epochs'] for r in sel) / len(sel):.0f} | "
                   f"{sum(r['seconds'] for r in sel) / len(sel):.1f} |")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--patience", default="none,10,20,40", help="comma-separated; none = no early stopping")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", help="also write every run's figures here")
    args = parser.parse_args()
    patiences = [None if p == "none" else int(p) for p in args.patience.split(",")]
    rows = measure(args.seeds, patiences, args.workers)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(rows, f, indent=1)
    print(table(rows))


if __name__ == "__main__":
    main()
