"""What each architecture costs to train: the source article's "GRU trains faster" claim, tested.

Per epoch alone misleads when the confirmed configurations differ (a batch twice as large halves the
steps of an epoch), so the cost is also given per training step and per training window, each as a
GRU/LSTM ratio of geometric means with a Welch 95% interval on the logs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from pipeline.verdict.model import CostRatio, DatasetCost
from pipeline.verdict.stats import welch
from reports.schema import Col, check_runs_table

UNITS = {"epoch": Col.SECONDS_PER_EPOCH, "step": "seconds_per_step", "window": "seconds_per_window"}


def _differing_params(d: pd.DataFrame) -> dict[str, dict[str, str]]:
    """Hyperparameters whose confirmed values differ between the architectures: name -> arch -> values."""
    out = {}
    for c in (c for c in Col.HPARAMS if c in d):
        values = {str(arch): ", ".join(sorted({_short(v) for v in g[c].dropna()})) for arch, g in d.groupby(Col.ARCH)}
        if len(set(values.values())) > 1:
            out[c] = values
    return out


def _short(v: Any) -> str:
    try:
        return f"{float(v):.3g}"
    except (TypeError, ValueError):
        return str(v)


def _ratio(g: np.ndarray, l: np.ndarray) -> CostRatio | None:
    if len(g) < 2 or len(l) < 2 or not ((g > 0).all() and (l > 0).all()):
        return None
    w = welch(np.log(g), np.log(l), 0.0)
    return CostRatio(ratio=float(np.exp(w.effect)), ci_low=float(np.exp(w.ci_low)), ci_high=float(np.exp(w.ci_high)))


def cost_comparison(confirm: pd.DataFrame) -> dict[str, DatasetCost]:
    """Per dataset: parameters, and seconds per epoch / step / window as GRU/LSTM ratios with 95% CIs."""
    confirm = check_runs_table(confirm, needs=(Col.DATASET, Col.ARCH, Col.N_PARAMS))
    out: dict[str, DatasetCost] = {}
    for dataset in sorted(confirm[Col.DATASET].unique()):
        d = confirm[confirm[Col.DATASET] == dataset].copy()
        if {Col.STEPS_PER_EPOCH, Col.TRAIN_WINDOWS} <= set(d.columns):
            d["seconds_per_step"] = d[Col.SECONDS_PER_EPOCH] / d[Col.STEPS_PER_EPOCH]
            d["seconds_per_window"] = d[Col.SECONDS_PER_EPOCH] / d[Col.TRAIN_WINDOWS]
        entry: dict[str, Any] = {
            "n_params_gru": float(d.loc[d[Col.ARCH] == "gru", Col.N_PARAMS].mean()),
            "n_params_lstm": float(d.loc[d[Col.ARCH] == "lstm", Col.N_PARAMS].mean()),
            "differing_hyperparameters": _differing_params(d),
        }
        for unit, column in UNITS.items():
            if column in d:
                entry[f"per_{unit}"] = _ratio(d.loc[d[Col.ARCH] == "gru", column].dropna().to_numpy(float),
                                             d.loc[d[Col.ARCH] == "lstm", column].dropna().to_numpy(float))
        entry["sentence"] = _sentence(dataset, entry)
        out[dataset] = DatasetCost(**entry)
    return out


def _sentence(dataset: str, e: dict[str, Any]) -> str:
    parts = []
    for unit in UNITS:
        r = e.get(f"per_{unit}")
        if r:
            faster = "GRU faster" if r.ci_high < 1 else "LSTM faster" if r.ci_low > 1 else "no clear difference"
            parts.append(f"per {unit} {r.ratio:.2f} ({r.ci_low:.2f}–{r.ci_high:.2f}, {faster})")
    if not parts:
        return f"{dataset}: not enough confirm runs to compare training cost"
    text = (f"{dataset}: training time GRU/LSTM " + "; ".join(parts)
            + f". Parameters: GRU {e['n_params_gru']:.0f}, LSTM {e['n_params_lstm']:.0f}.")
    differ = e["differing_hyperparameters"]
    if differ:
        detail = "; ".join(f"{k} GRU {v.get('gru', '–')}, LSTM {v.get('lstm', '–')}" for k, v in differ.items())
        text += (f" The confirmed configurations differ ({detail}), so this compares the tuned configurations,"
                 " not the cells at equal size; per step is the fairest of the three when batch sizes differ.")
    else:
        text += (" Same configuration apart from the cell (at equal hidden size GRU has 3/4 of LSTM's recurrent"
                 " weights).")
    return text
