"""The report's tune-phase section: hyperparameter importance (`reports.importance`) and the tune plots."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.core.config import SearchSpace
from reports.importance import fanova_importance


def test_fanova_finds_the_hyperparameter_that_matters() -> None:
    rng = np.random.default_rng(0)
    rows = []
    for _ in range(30):
        lr, hidden = 10 ** rng.uniform(-3, -1), int(rng.choice([16, 32, 64]))
        rows.append({"learning_rate": str(lr), "hidden_size": str(hidden),
                     "val_mase": (np.log10(lr) + 2) ** 2 + 0.001 * rng.normal()})
    space = SearchSpace(learning_rate={"low": 0.001, "high": 0.1, "log": True}, hidden_size={"choice": [16, 32, 64]})
    imp = fanova_importance(pd.DataFrame(rows), space)
    assert imp is not None and imp["learning_rate"] > 0.8


def test_tune_plots_skip_trials_without_a_score() -> None:
    """ASHA-stopped trials can lack a final `val_mase`: the tune plots draw the others (was an error)."""
    from reports.plots import parallel_coordinates, tune_history

    space = SearchSpace(hidden_size={"choice": [8, 16]}, optimizer={"choice": ["sgd", "adam"]},
                        learning_rate={"low": 0.001, "high": 0.1, "log": True})
    trials = pd.DataFrame({"arch": ["gru", "gru", "lstm", "lstm", "lstm"], "index": ["0", "1", "0", "1", "2"],
                           "hidden_size": ["8", "16", "8", "16", "16"],
                           "optimizer": ["sgd", "adam", "adam", "sgd", "adam"],
                           "learning_rate": ["0.01", "0.002", "0.05", "0.003", "0.02"],
                           "val_mase": [0.5, 0.4, None, 0.7, 0.3]})
    for png in (parallel_coordinates(trials, space, "d"), tune_history(trials, "d")):
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
