"""Diebold–Mariano test with the Harvey–Leybourne–Newbold small-sample correction. Pure numpy/scipy."""

from __future__ import annotations

import numpy as np
from scipy import stats


def diebold_mariano(err_a: np.ndarray, err_b: np.ndarray, h: int = 1, power: int = 2) -> dict[str, float]:
    """Two-sided test of equal forecast accuracy of A and B from their forecast errors.

    Loss differential `d_t = |e_a|^p - |e_b|^p`; its long-run variance uses autocovariances up to lag
    `h - 1`; the HLN factor `sqrt((T + 1 - 2h + h(h-1)/T) / T)` corrects the statistic, which is then
    compared with Student's t on `T - 1` degrees of freedom (Harvey, Leybourne & Newbold, 1997).

    Returns:
        `statistic` (negative: A more accurate), `p_value`, `mean_loss_diff` and `n`.
    """
    d = np.abs(np.asarray(err_a, float)) ** power - np.abs(np.asarray(err_b, float)) ** power
    t = len(d)
    if t < 3:
        raise ValueError(f"Diebold-Mariano needs at least 3 forecasts, got {t}")
    mean = d.mean()
    dc = d - mean
    gamma = [float(np.dot(dc[k:], dc[: t - k]) / t) for k in range(h)]
    var = (gamma[0] + 2 * sum(gamma[1:])) / t
    if var <= 0:
        return {"statistic": 0.0, "p_value": 1.0, "mean_loss_diff": float(mean), "n": float(t)}
    hln = np.sqrt((t + 1 - 2 * h + h * (h - 1) / t) / t)
    stat = float(hln * mean / np.sqrt(var))
    return {"statistic": stat, "p_value": float(2 * stats.t.sf(abs(stat), df=t - 1)),
            "mean_loss_diff": float(mean), "n": float(t)}
