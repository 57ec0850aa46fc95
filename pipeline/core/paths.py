"""Forecast paths in original units from a network's predictions: what a confirm run scores and what a handed-over
model forecasts share this code, so the two cannot drift apart. Pure numpy; `predict` is any callable that maps model
inputs `(n, W, C)` to outputs `(n, W, outputs)` (a compiled Keras call, or a plain one)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from pipeline.core.data import PreparedData

Predict = Callable[[np.ndarray], Any]


def forecast_paths(predict: Predict, parts: list[PreparedData], at: list[np.ndarray],
                   strategy: str) -> list[np.ndarray]:
    """Each series' forecasts `(origins, H)` in original units from its origins `at`."""
    if strategy == "direct":
        x = np.concatenate([d.inputs_at(a) for d, a in zip(parts, at, strict=True)])
        z = np.asarray(predict(x))[:, -1, :]
        return [d.paths_to_original(zs, a) for d, zs, a in zip(parts, split_rows(z, at), at, strict=True)]
    return recursive_paths(predict, parts, at)[1]


def recursive_paths(predict: Predict, parts: list[PreparedData],
                    at: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """The one-step network fed its own forecasts for H steps from every origin of every series at once:
    the scaled, transformed predictions `(all origins, H)` and each series' paths in original units."""
    rows = [d.history_rows(a) for d, a in zip(parts, at, strict=True)]
    horizon = parts[0].horizon
    z = np.empty((sum(len(a) for a in at), horizon))
    for h in range(horizon):
        x = np.concatenate([d.rows_input(r, a + h) for d, r, a in zip(parts, rows, at, strict=True)])
        z[:, h] = np.asarray(predict(x))[:, -1, 0]
        rows = [np.column_stack([r, d.rows_value(zs, r, a + h)])
                for d, r, zs, a in zip(parts, rows, split_rows(z[:, h], at), at, strict=True)]
    return z, [r[:, -horizon:] for r in rows]


def split_rows(z: np.ndarray, at: list[np.ndarray]) -> list[np.ndarray]:
    """Rows of `z` (every series' origins, in order) back into one block per series."""
    return np.split(z, np.cumsum([len(a) for a in at])[:-1])
