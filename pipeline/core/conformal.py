"""Split conformal prediction intervals from forecast errors at held-out origins (NeuralForecast's
`PredictionIntervals(method="conformal_distribution")` idea, per step of the horizon). Pure numpy.

Calibration scores are absolute errors divided by each series' MASE scale, so the series of a panel pool into
one set per step; an interval is the forecast ± that step's quantile times the series' own scale. With `n`
scores, level `q` takes the `ceil((n + 1) q)`-th smallest: under exchangeable errors the interval then covers a
new value with probability at least `q`. When `(n + 1) q > n` no finite score is enough: the half-width is
infinite (too few origins to promise that level), never quietly the largest error.

`adaptive_walk` is adaptive conformal inference (ACI; Gibbs & Candès 2021, "Adaptive Conformal Inference Under
Distribution Shift"): walking the origins in time order, the level each interval uses moves after every origin by
how its interval did, `alpha_{t+1} = alpha_t + gamma (alpha - err_t)`, so a series whose later errors outgrow the
earlier ones gets wider intervals than the same quantile of its scores would give.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

LEVELS = (80, 95)
# ACI's step `gamma` as a share of the level's miscoverage: 0.02 at 80%, 0.005 at 95%. Chosen on simulated series
# only (`python -m pipeline.dev.aci_gamma`, 100 replicates), never on the real series' held-out parts. One gamma for
# both levels would not do: a miss moves alpha by about gamma, so a gamma that corrects 80% intervals in time
# (0.02-0.05) empties 95%'s 0.05 after a few misses and made 3-36% of its intervals infinite (`--share 0.4
# --share 1`). A tenth of alpha is the smallest share tried (0.025, 0.05, 0.1, 0.25) that brought every simulated
# shift (variance drifting or jumping) within 3 points of nominal at both levels: 77.6-79.7% at 80%, 92.6-94.2% at
# 95% (the latest errors at the nominal level: 70.8-77.0%, 90.9-93.7%), with at most 0.3% infinite intervals and
# stationary series at nominal (79.8-79.9%, 95.1-95.6%). A quarter came closer (79.4-80.1%) at the price of 1-3.5%
# infinite 80% intervals.
GAMMA_SHARE = 0.1
_EPS = 1e-9  # `(n + 1) q` computed from `1 - alpha` may land a hair above an integer that `level / 100` hits


def conformal_half_widths(scores: np.ndarray, levels: tuple[int, ...] = LEVELS) -> dict[int, np.ndarray]:
    """Per level (percent), the half-width at each step: `scores` `(n, H)`, nonnegative calibration scores (rows:
    origins of every series, NaN: none there)."""
    scores = np.asarray(scores, float)
    return {level: _quantiles(scores, np.full(scores.shape[1], level / 100)) for level in levels}


def _quantiles(scores: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Per step `h`, the `ceil((n + 1) q[h])`-th smallest of column `h`'s finite scores: infinite past the
    largest (`q` near or above 1, or too few scores), 0 when `q <= 0` (ACI's `alpha >= 1`)."""
    out = np.empty(scores.shape[1])
    for h, col in enumerate(scores.T):
        s = np.sort(col[np.isfinite(col)])
        k = math.ceil((len(s) + 1) * q[h] - _EPS)
        out[h] = 0.0 if q[h] <= 0 else float(s[max(k, 1) - 1]) if k <= len(s) else math.inf
    return out


@dataclass(frozen=True)
class AdaptiveWalk:
    """ACI at one level through rows of scores in time order: per row and step, the miscoverage its interval used
    and its half-width; after the last row's feedback, the miscoverage and half-widths of a forecast past it."""

    alpha: np.ndarray  # (n, H)
    widths: np.ndarray  # (n, H)
    final_alpha: np.ndarray  # (H,)
    final_widths: np.ndarray  # (H,)


def aci_gamma(level: int) -> float:
    """ACI's step at a level (percent): `GAMMA_SHARE` of its miscoverage."""
    return GAMMA_SHARE * (1 - level / 100)


def adaptive_walk(scores: np.ndarray, origins: np.ndarray, horizon: int, level: int, gamma: float | None = None,
                  window: int | None = None) -> AdaptiveWalk:
    """ACI through `scores` `(n, H)` (rows in time order; NaN: none there) made at `origins` `(n,)` (positions,
    nondecreasing): at each origin `t` the interval is the conformal quantile at `1 - alpha_t` of the rows known
    by then (origin + `horizon` <= `t`; the latest `window` of them when given), and once `t`'s horizon is known
    `alpha` moves by `gamma (1 - level/100 - err_t)` (`gamma`: `aci_gamma(level)` unless given). `alpha_t <= 0`
    is an infinite width, `>= 1` a zero one. With `gamma=0` and `window=k` it is the rolling rule: the plain
    conformal quantile of the latest `k` scores known at each origin.

    Per step: each step has its own `alpha`, and `err_t` is whether step `h`'s value fell outside step `h`'s
    interval, because the widths are per step and each step's level is what an interval promises (a miss at any
    step would aim at joint coverage of the path, which no interval here claims). Origins shared by several
    rows (a panel's series) are one step of the walk, `err_t` the share of them missed there, so a 1000-series
    panel does not move `alpha` 1000 times as far as one series. While the nominal level's quantile is itself
    infinite (fewer known scores than it needs), the walk does not move: an interval infinite for want of
    scores says nothing about the level, and counting it as a cover would narrow every later one.
    """
    scores, origins = np.asarray(scores, float), np.asarray(origins, int)
    if np.any(np.diff(origins) < 0):
        raise ValueError("adaptive_walk: origins must be in time order")
    nominal, gamma = 1 - level / 100, aci_gamma(level) if gamma is None else gamma
    steps = scores.shape[1]
    alpha = np.full(steps, nominal)
    alphas, widths = np.empty(scores.shape), np.empty(scores.shape)
    pending: deque[tuple[int, np.ndarray]] = deque()  # (when the horizon is known, alpha's move), in that order
    for t in np.unique(origins):
        while pending and pending[0][0] <= t:
            alpha = alpha + pending.popleft()[1]
        known = _latest(scores[origins + horizon <= t], window)
        here = origins == t
        width = _quantiles(known, 1 - alpha)
        alphas[here], widths[here] = alpha, width
        s = scores[here]
        seen = np.isfinite(s).sum(axis=0)
        miss = np.where(np.isfinite(s), s > width, False).sum(axis=0) / np.maximum(seen, 1)
        n = np.isfinite(known).sum(axis=0)
        live = (seen > 0) & (np.ceil((n + 1) * (1 - nominal) - _EPS) <= n)  # the nominal quantile is finite
        pending.append((int(t) + horizon, np.where(live, gamma * (nominal - miss), 0.0)))
    for _, move in pending:
        alpha = alpha + move
    return AdaptiveWalk(alphas, widths, alpha, _quantiles(_latest(scores, window), 1 - alpha))


def _latest(scores: np.ndarray, window: int | None) -> np.ndarray:
    return scores if window is None else scores[len(scores) - min(window, len(scores)):]


def calibration_scores(pred: list[np.ndarray], truth: list[np.ndarray], scales: list[float]) -> np.ndarray:
    """`|truth - pred| / scale` of every series' origins `(origins, H)`, stacked into `(all origins, H)`."""
    return np.vstack([np.abs(np.asarray(t, float) - np.asarray(p, float)) / s
                      for p, t, s in zip(pred, truth, scales, strict=True)])


def coverage(pred: np.ndarray, truth: np.ndarray, half_width: np.ndarray) -> float:
    """The share of `truth` inside `pred ± half_width` (broadcast per step)."""
    return float(np.mean(np.abs(np.asarray(truth) - np.asarray(pred)) <= half_width))
