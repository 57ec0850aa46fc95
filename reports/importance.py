"""Hyperparameter importance per architecture: Optuna's fANOVA over the tune-phase runs in MLflow."""

from __future__ import annotations

from typing import Any

import pandas as pd

from pipeline.core.config import HPARAM_TYPES, SearchSpace
from pipeline.core.space import optuna_space
from reports.schema import Col, check_runs_table


def fanova_importance(trials: pd.DataFrame, space: SearchSpace, *, seed: int = 0) -> dict[str, float] | None:
    """Importance of each searched hyperparameter for the final validation loss.

    Args:
        trials: finished tune-phase runs of one architecture (params as strings, `val_mase`).
        space: the sweep's search space (read back from the parent run's `sweep.yaml`).

    Returns:
        name -> importance (sums to 1), or None when fewer than 3 trials or nothing is searched.
    """
    from optuna.importance import FanovaImportanceEvaluator, get_param_importances  # lazy: loads Optuna

    trials = check_runs_table(trials, needs=(Col.VAL_MASE,)).dropna(subset=[Col.VAL_MASE])
    if len(trials) < 3 or not optuna_space(space):
        return None
    study = study_of(trials, space)
    dists = optuna_space(space)
    if all(len({t.params[n] for t in study.trials}) < 2 for n in dists):
        return None
    result = get_param_importances(study, evaluator=FanovaImportanceEvaluator(seed=seed))
    return {k: float(v) for k, v in sorted(result.items())}


def study_of(trials: pd.DataFrame, space: SearchSpace, name: str | None = None) -> Any:
    """An Optuna study holding finished tune-phase runs read from MLflow (for importance and plots)."""
    import optuna  # lazy: loads Optuna

    dists = optuna_space(space)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="minimize", study_name=name)
    for _, row in trials.dropna(subset=[Col.VAL_MASE]).iterrows():
        params = {n: _typed(n, row[n], dist) for n, dist in dists.items()}
        study.add_trial(optuna.trial.create_trial(params=params, distributions=dists, value=float(row[Col.VAL_MASE])))
    return study


def _typed(name: str, value: Any, dist: Any) -> Any:
    import optuna.distributions as od  # lazy: loads Optuna

    kind = HPARAM_TYPES[name]
    if isinstance(dist, od.CategoricalDistribution):  # match the choice's own type (int 16, not "16")
        for choice in dist.choices:
            if str(choice) == str(value):
                return choice
    return kind(float(value)) if kind is int else kind(value)
