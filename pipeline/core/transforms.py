"""Target transforms: what the network models instead of the raw series. Pure numpy.

A trending series leaves, in its test split, the range the network saw in training; min-max or standard
scaling cannot fix that, differencing can. Every transform is `z_t = f(y_t) - f(y_{t-lag})` (or `f(y_t)`
for lag 0) with `f` the identity, the log or log(1 + y), so a one-step forecast inverts exactly from the past:
`y_t = f⁻¹(z_t + f(y_{t-lag}))`. Nothing is fitted (the scaler that follows is fitted on the training
part), so nothing of the validation or test split can leak into a transform.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TRANSFORMS = ("none", "log", "diff", "seasonal_diff", "log_diff", "log_seasonal_diff", "log1p", "log1p_diff")


@dataclass(frozen=True)
class Transform:
    kind: str = "none"
    season: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in TRANSFORMS:
            raise ValueError(f"unknown transform {self.kind!r}; expected one of {', '.join(TRANSFORMS)}")
        if "seasonal" in self.kind and not self.season:
            raise ValueError(f"transform {self.kind} needs the dataset's season")

    @property
    def log(self) -> bool:
        return self.kind.startswith("log")

    @property
    def log1p(self) -> bool:
        """log(1 + y): a log for series with zeros (counts, intermittent sales), as Hewamalage et al. use."""
        return self.kind.startswith("log1p")

    @property
    def lag(self) -> int:
        """How many leading values have no transformed value (the differencing lag)."""
        if self.kind.endswith("seasonal_diff"):
            assert self.season is not None
            return self.season
        return 1 if self.kind.endswith("diff") else 0

    def _f(self, y: np.ndarray) -> np.ndarray:
        if self.log1p:
            return np.log1p(y)
        return np.log(y) if self.log else np.asarray(y, float)

    def _f_inv(self, v: np.ndarray) -> np.ndarray:
        if self.log1p:
            return np.expm1(v)
        return np.exp(v) if self.log else v

    def forward(self, y: np.ndarray) -> np.ndarray:
        """The transformed series, aligned with `y`: NaN where `t < lag`."""
        fy = self._f(np.asarray(y, float))
        if self.lag == 0:
            return fy
        z = np.full(len(fy), np.nan)
        z[self.lag:] = fy[self.lag:] - fy[: -self.lag]
        return z

    def inverse(self, z: np.ndarray, y_lagged: np.ndarray | None) -> np.ndarray:
        """Original-unit values from transformed ones and the series `lag` steps before each (None at lag 0)."""
        if self.lag == 0:
            return self._f_inv(np.asarray(z, float))
        assert y_lagged is not None
        return self._f_inv(np.asarray(z, float) + self._f(np.asarray(y_lagged, float)))


def check_transform(kind: str, series: np.ndarray, season: int | None, dataset: str) -> str | None:
    """Why `kind` cannot be used on this series (a one-line reason), or None."""
    if "seasonal" in kind and not season:
        return f"transform {kind} needs a season; dataset {dataset!r} has none (set datasets[].season)"
    if kind.startswith("log1p"):
        if not np.all(series >= 0):
            bad = np.flatnonzero(~(series >= 0))
            return (f"transform {kind} needs a series without negative values; dataset {dataset!r} has {len(bad)} "
                    f"(the first at index {bad[0]}: {series[bad[0]]:g})")
        return None
    if kind.startswith("log") and not np.all(series > 0):
        bad = np.flatnonzero(~(series > 0))
        return (f"transform {kind} needs a positive series; dataset {dataset!r} has {len(bad)} values <= 0 "
                f"(the first at index {bad[0]}: {series[bad[0]]:g})")
    return None
