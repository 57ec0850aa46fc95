"""Expected best validation score after k trials (Dodge et al., 2019), with bootstrap bands.

Exact for random sampling from the trials' distribution; for TPE or QMC the trials are not
exchangeable, and the report says so beside the curve.
"""

from __future__ import annotations

import numpy as np


def expected_best(values: np.ndarray, ks: np.ndarray) -> np.ndarray:
    """E[min of k draws with replacement] from `values` (lower is better), for each k."""
    v = np.sort(np.asarray(values, float))
    n = len(v)
    i = np.arange(n)  # P(min = v_(i)) = ((n-i)/n)^k - ((n-i-1)/n)^k, with ranks from 0
    p = ((n - i) / n)[None, :] ** ks[:, None] - ((n - i - 1) / n)[None, :] ** ks[:, None]
    return p @ v


def budget_curve(values: np.ndarray, *, max_k: int | None = None, n_boot: int = 1000,
                 seed: int = 0) -> dict[str, list[float]]:
    """Expected best score for k = 1..max_k with a 95% bootstrap band over the trials."""
    values = np.asarray(values, float)
    values = values[np.isfinite(values)]
    ks = np.arange(1, (max_k or len(values)) + 1)
    rng = np.random.default_rng(seed)
    boots = np.stack([expected_best(rng.choice(values, len(values)), ks) for _ in range(n_boot)])
    return {"k": ks.tolist(), "mean": expected_best(values, ks).tolist(),
            "low": np.percentile(boots, 2.5, axis=0).tolist(), "high": np.percentile(boots, 97.5, axis=0).tolist()}
