"""Diebold–Mariano test of equal forecast accuracy. Pure numpy/scipy.

The loss is the absolute error by default: the loss MASE scales, so the test asks the verdict's own
question of the seed ensembles' forecasts (median over seeds). Two variances for the mean loss differential:
- `hac` (the default): Newey–West with the Bartlett kernel and a bandwidth that is a fixed share `b` of
  the test split (`lags = ceil(b·T) - 1`, at least `h - 1`). One-step errors of smooth series are
  autocorrelated, and then the classic variance understates the uncertainty. Its p-value comes from the
  fixed-b reference distribution (Kiefer & Vogelsang, 2005): the same statistic on i.i.d. normal series of
  the same length and lags, simulated with a fixed seed. That reference assumes the bandwidth ratio is
  fixed, which a data-dependent choice (Andrews' plug-in, used before) is not: measured here at T = 60,
  AR(1) 0.8 errors, absolute loss, 2000 simulations, a 5% test rejected 8.7% with Andrews' lags and 6.7%
  with b = 0.5 (b = 0.5: 5.6-6.7% at T = 60-120 for AR 0 to 0.8; 9.6% at T = 30, AR 0.8).
- `hln`: the classic DM variance (autocovariances up to lag `h - 1`) with the Harvey–Leybourne–Newbold
  small-sample factor; right only when the loss differentials are uncorrelated beyond lag `h - 1`.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy import stats

BANDWIDTH = 0.5  # b: Bartlett bandwidth as a share of the test split's length


def fixed_b_lags(t: int, h: int = 1, b: float = BANDWIDTH) -> int:
    """Lags of the Newey–West variance for `t` loss differentials at bandwidth ratio `b`."""
    return int(min(t - 2, max(h - 1, int(np.ceil(b * t)) - 1)))


FIXED_B_SIMS = 20000


def _hac_t(x: np.ndarray, lags: int) -> np.ndarray:
    """The HAC t statistic of the mean of each row of `x` (Bartlett weights, `lags` lags)."""
    t = x.shape[1]
    xc = x - x.mean(axis=1, keepdims=True)
    var = (xc * xc).sum(axis=1) / t
    for k in range(1, lags + 1):
        var += 2 * (1 - k / (lags + 1)) * (xc[:, k:] * xc[:, :-k]).sum(axis=1) / t
    return x.mean(axis=1) / np.sqrt(var / t)


@functools.lru_cache(maxsize=64)
def fixed_b_null(t: int, lags: int, sims: int = FIXED_B_SIMS) -> np.ndarray:
    """Sorted |t| statistics under the null for length `t` and `lags` lags (deterministic)."""
    rng = np.random.default_rng(20050101)
    chunks = [np.abs(_hac_t(rng.normal(size=(min(5000, sims - i), t)), lags)) for i in range(0, sims, 5000)]
    return np.sort(np.concatenate(chunks))


def diebold_mariano(err_a: np.ndarray, err_b: np.ndarray, h: int = 1, power: int = 1,
                    variance: str = "hac") -> dict[str, float]:
    """Two-sided test of equal forecast accuracy of A and B from their forecast errors.

    Loss differential `d_t = |e_a|^p - |e_b|^p`; the statistic is `mean(d) / sqrt(var(mean(d)))`, compared
    with the fixed-b reference (`hac`) or Student's t on `T - 1` degrees of freedom (`hln`).

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
    lags = fixed_b_lags(t, h) if variance == "hac" else h - 1
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
    if variance == "hac":
        null = fixed_b_null(t, lags)
        p_value = (1 + len(null) - np.searchsorted(null, abs(stat), side="left")) / (len(null) + 1)
    else:
        p_value = 2 * stats.t.sf(abs(stat), df=t - 1)
    return {"statistic": stat, "p_value": float(p_value), "mean_loss_diff": float(mean), "n": float(t),
            "lags": float(lags)}
