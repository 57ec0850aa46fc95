"""Bayesian signed-rank test with a region of practical equivalence (Benavoli et al., 2017, JMLR 18).

Across datasets: is one architecture practically better, or are they practically equivalent?
"""

from __future__ import annotations

import numpy as np


def bayesian_signed_rank(diffs: np.ndarray, rope: float, *, samples: int = 20000, seed: int = 0) -> dict[str, float]:
    """Posterior probabilities that the differences lie left of, inside, or right of the ROPE.

    Args:
        diffs: one difference per dataset (here: log MASE ratio GRU/LSTM; negative favours GRU).
        rope: half-width of the region of practical equivalence, in the units of `diffs`.
        samples: Dirichlet-process posterior samples.

    Returns:
        `p_left` (GRU practically better), `p_rope` (practically equivalent), `p_right` (LSTM better).
    """
    z = np.concatenate([[0.0], np.asarray(diffs, float)])  # the prior's pseudo-observation at 0
    rng = np.random.default_rng(seed)
    w = rng.dirichlet(np.ones(len(z)), size=samples)  # (samples, n+1)
    pair = z[:, None] + z[None, :]  # Walsh averages times two
    left, right = (pair < -2 * rope).astype(float), (pair > 2 * rope).astype(float)
    theta_l = np.einsum("si,ij,sj->s", w, left, w)
    theta_r = np.einsum("si,ij,sj->s", w, right, w)
    theta_0 = 1.0 - theta_l - theta_r
    winner = np.argmax(np.stack([theta_l, theta_0, theta_r]), axis=0)
    return {"p_left": float(np.mean(winner == 0)), "p_rope": float(np.mean(winner == 1)),
            "p_right": float(np.mean(winner == 2))}
