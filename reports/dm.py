"""Diebold–Mariano test of equal forecast accuracy. Pure numpy/scipy.

Two variances for the mean loss differential:
- `hac` (the default): Newey–West with the Bartlett kernel and Andrews' (1991) AR(1) plug-in bandwidth,
  at least `h - 1` lags. One-step errors of smooth series are autocorrelated, and then the classic
  variance understates the uncertainty.
- `hln`: the classic DM variance (autocovariances up to lag `h - 1`) with the Harvey–Leybourne–Newbold
  small-sample factor; right only when the loss differentials are uncorrelated beyond lag `h - 1`.
"""

from __future__ import annotations

import numpy as np
from scipy import stats


def andrews_lags(d: np.ndarray) -> int:
    """Andrews' automatic bandwidth for the Bartlett kernel, from an AR(1) fit to `d` (truncated lags)."""
    t = len(d)
    dc = d - d.mean()
    denom = float(dc @ dc)
    if denom == 0:
        return 0
    rho = float(np.clip((dc[1:] @ dc[:-1]) / denom, -0.97, 0.97))
    alpha = 4 * rho**2 / ((1 - rho) ** 2 * (1 + rho) ** 2)
    return int(min(t - 2, np.floor(1.1447 * (alpha * t) ** (1 / 3))))


def diebold_mariano(err_a: np.ndarray, err_b: np.ndarray, h: int = 1, power: int = 2,
                    variance: str = "hac") -> dict[str, float]:
    """Two-sided test of equal forecast accuracy of A and B from their forecast errors.

    Loss differential `d_t = |e_a|^p - |e_b|^p`; the statistic `mean(d) / sqrt(var(mean(d)))` is compared
    with Student's t on `T - 1` degrees of freedom.

    Returns:
        `statistic` (negative: A more accurate), `p_value`, `mean_loss_diff`, `n` and `lags` (used by
        the variance).
    """
    if variance not in ("hac", "hln"):
        raise ValueError(f"variance must be 'hac' or 'hln', got {variance!r}")
    d = np.abs(np.asarray(err_a, float)) ** power - np.abs(np.asarray(err_b, float)) ** power
    t = len(d)
    if t < 3:
        raise ValueError(f"Diebold-Mariano needs at least 3 forecasts, got {t}")
    mean = d.mean()
    dc = d - mean
    lags = max(h - 1, andrews_lags(d)) if variance == "hac" else h - 1
    gamma = [float(np.dot(dc[k:], dc[: t - k]) / t) for k in range(lags + 1)]
    if variance == "hac":
        weights = [1 - k / (lags + 1) for k in range(1, lags + 1)]  # Bartlett: never a negative variance
        var = (gamma[0] + 2 * sum(w * g for w, g in zip(weights, gamma[1:], strict=True))) / t
        factor = 1.0
    else:
        var = (gamma[0] + 2 * sum(gamma[1:])) / t
        factor = float(np.sqrt((t + 1 - 2 * h + h * (h - 1) / t) / t))
    if var <= 0:
        return {"statistic": 0.0, "p_value": 1.0, "mean_loss_diff": float(mean), "n": float(t), "lags": float(lags)}
    stat = float(factor * mean / np.sqrt(var))
    return {"statistic": stat, "p_value": float(2 * stats.t.sf(abs(stat), df=t - 1)),
            "mean_loss_diff": float(mean), "n": float(t), "lags": float(lags)}
