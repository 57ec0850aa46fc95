"""Split conformal prediction intervals from forecast errors at held-out origins (NeuralForecast's
`PredictionIntervals(method="conformal_distribution")` idea, per step of the horizon). Pure numpy.

Calibration scores are absolute errors divided by each series' MASE scale, so the series of a panel pool into
one set per step; an interval is the forecast ± that step's quantile times the series' own scale. With `n`
scores, level `q` takes the `ceil((n + 1) q)`-th smallest: under exchangeable errors the interval then covers a
new value with probability at least `q`. When `(n + 1) q > n` no finite score is enough: the half-width is
infinite (too few origins to promise that level), never quietly the largest error.
"""

from __future__ import annotations

import math

import numpy as np

LEVELS = (80, 95)


def conformal_half_widths(scores: np.ndarray, levels: tuple[int, ...] = LEVELS) -> dict[int, np.ndarray]:
    """Per level (percent), the half-width at each step: `scores` `(n, H)`, nonnegative calibration scores (rows:
    origins of every series, NaN: none there)."""
    scores = np.asarray(scores, float)
    out: dict[int, np.ndarray] = {}
    for level in levels:
        widths = []
        for col in scores.T:
            s = np.sort(col[np.isfinite(col)])
            k = math.ceil((len(s) + 1) * level / 100)
            widths.append(float(s[k - 1]) if 0 < k <= len(s) else math.inf)
        out[level] = np.asarray(widths)
    return out


def calibration_scores(pred: list[np.ndarray], truth: list[np.ndarray], scales: list[float]) -> np.ndarray:
    """`|truth - pred| / scale` of every series' origins `(origins, H)`, stacked into `(all origins, H)`."""
    return np.vstack([np.abs(np.asarray(t, float) - np.asarray(p, float)) / s
                      for p, t, s in zip(pred, truth, scales, strict=True)])


def coverage(pred: np.ndarray, truth: np.ndarray, half_width: np.ndarray) -> float:
    """The share of `truth` inside `pred ± half_width` (broadcast per step)."""
    return float(np.mean(np.abs(np.asarray(truth) - np.asarray(pred)) <= half_width))
