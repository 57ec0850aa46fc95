"""What one trial trains: the architecture and its hyperparameters. The single table of hyperparameters.

The sweep file's `search_space`, the trainer, the MLflow params and the report's columns all read their
names, types and defaults from `HParams`, so a new hyperparameter is added here and nowhere else.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict

from pipeline.core.models import NORMALIZE
from pipeline.core.transforms import TRANSFORMS

OPTIMIZERS = ("sgd", "adam", "rmsprop")
# how a network forecasts H steps: all at once from one window (a multi-output head), or one step at a time
# with its own forecasts fed back (the source article's closed loop); the same at H = 1
STRATEGIES = ("direct", "recursive")
# the training loss: squared error, or absolute error (what MASE and the competitions score; Hewamalage et al.
# and NeuralForecast train on it)
LOSSES = ("mse", "mae")
# the architectures compared, named once: the config, the CLI, the MLflow contract and the report use these
Arch = Literal["gru", "lstm"]
ARCHITECTURES: tuple[Arch, ...] = get_args(Arch)


class HParams(BaseModel):
    """One trial's architecture and hyperparameters (defaults: the source article's setting)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    arch: Arch
    hidden_size: int = 40
    num_layers: int = 1
    window: int = 20
    optimizer: str = "sgd"
    learning_rate: float = 0.01
    batch_size: int = 10
    epochs: int = 100
    transform: str = "none"  # what the network models: see pipeline.core.transforms
    strategy: str = "direct"  # multi-step forecasts: see STRATEGIES
    normalize: str = "series"  # each window relative to its own level, or not: see pipeline.core.models
    loss_fn: str = "mse"  # the training loss on the scaled, transformed series: see LOSSES (Darts' name)
    epoch_windows: int = 0  # windows an epoch samples from all the series' (0: every window, the article's epoch)

    @classmethod
    def of(cls, arch: str, values: dict[str, Any]) -> HParams:
        """From any mapping that holds the hyperparameters (a job, MLflow's string params, ...)."""
        return cls(arch=arch, **{k: values[k] for k in HPARAM_TYPES if k in values})  # type: ignore[arg-type]

    def values(self) -> dict[str, Any]:
        """The hyperparameters without the architecture, in table order."""
        return {k: getattr(self, k) for k in HPARAM_TYPES}


# name -> Python type, in the order of the table (the search space, params and report columns use it)
HPARAM_TYPES: dict[str, type] = {name: f.annotation for name, f in HParams.model_fields.items()  # type: ignore[misc]
                                 if name != "arch"}
# hyperparameters whose values are names: the names allowed
HPARAM_CHOICES: dict[str, tuple[str, ...]] = {"optimizer": OPTIMIZERS, "transform": TRANSFORMS, "strategy": STRATEGIES,
                                              "normalize": NORMALIZE, "loss_fn": LOSSES}
