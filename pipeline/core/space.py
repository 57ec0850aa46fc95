"""The search space in Optuna's terms: distributions, fixed values, samplers. No Ray, no MLflow."""

from __future__ import annotations

from typing import Any

from pipeline.core.config import HPARAM_TYPES, ChoiceParam, RangeParam, SearchSpace

__all__ = ["make_sampler", "optuna_space"]


def optuna_space(space: SearchSpace) -> dict[str, Any]:
    """Optuna distributions for the searched hyperparameters (fixed ones are left out)."""
    import optuna.distributions as od  # lazy: loads Optuna

    out: dict[str, Any] = {}
    for name in space.searched():
        p = getattr(space, name)
        if isinstance(p, ChoiceParam):
            out[name] = od.CategoricalDistribution(p.choice)
        elif isinstance(p, RangeParam) and HPARAM_TYPES[name] is int:
            out[name] = od.IntDistribution(int(p.low), int(p.high), log=p.log)
        elif isinstance(p, RangeParam):
            out[name] = od.FloatDistribution(p.low, p.high, log=p.log)
    return out


def make_sampler(kind: str, seed: int) -> Any:
    import optuna  # lazy: loads Optuna

    if kind == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if kind == "qmc":
        return optuna.samplers.QMCSampler(seed=seed, warn_independent_sampling=False)
    return optuna.samplers.TPESampler(seed=seed)
