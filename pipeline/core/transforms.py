"""Target transforms: what the network models instead of the raw series. Pure numpy.

A trending series leaves, in its test split, the range the network saw in training; min-max or standard
scaling cannot fix that, differencing can. Every transform is `z_t = f(y_t) - f(y_{t-lag})` (or `f(y_t)`
for lag 0) with `f` the identity, the log or log(1 + y), so a one-step forecast inverts exactly from the past:
`y_t = f⁻¹(z_t + f(y_{t-lag}))`. Nothing is fitted (the scaler that follows is fitted on the training
part), so nothing of the validation or test split can leak into a transform.

The deseasonalising transforms `stl` and `log_stl` (Hewamalage, Bergmeir & Bandara 2021's recipe) are the
exception: `z_t = f(y_t) - s_t` with `s` the seasonal component of a periodic STL (R's `stl(s.window =
"periodic")`: every cycle position's effect is the mean of its detrended subseries) fitted on the part the
network fits on only (`Transform.fitted`); every later point carries that fitted season forward, so an origin
reads nothing after it. A part shorter than two seasons gets no seasonal component (`s = 0`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

TRANSFORMS = ("none", "log", "diff", "seasonal_diff", "log_diff", "log_seasonal_diff", "log1p", "log1p_diff",
              "stl", "log_stl", "log1p_stl")


@dataclass(frozen=True)
class Transform:
    kind: str = "none"
    season: int | None = None
    # `stl` kinds, once fitted: the seasonal component over the fitted part `fit` (in f's units)
    seasonal: np.ndarray | None = field(default=None, compare=False, repr=False)
    fit: tuple[int, int] = (0, 0)

    def __post_init__(self) -> None:
        if self.kind not in TRANSFORMS:
            raise ValueError(f"unknown transform {self.kind!r}; expected one of {', '.join(TRANSFORMS)}")
        if ("seasonal" in self.kind or self.deseasonalises) and not self.season:
            raise ValueError(f"transform {self.kind} needs the dataset's season")

    @property
    def deseasonalises(self) -> bool:
        """An STL transform: fitted (`fitted`) before use."""
        return self.kind.endswith("stl")

    def fitted(self, y: np.ndarray, fit: tuple[int, int]) -> Transform:
        """This transform with what it fits taken from `y[fit[0]:fit[1]]` only (itself when it fits nothing)."""
        if not self.deseasonalises:
            return self
        assert self.season is not None
        a0, a1 = fit
        m = self.season
        fy = self._f(np.asarray(y, float)[a0:a1])
        if a1 - a0 < 2 * m:
            return replace(self, seasonal=np.zeros(a1 - a0), fit=fit)
        from statsmodels.tsa.seasonal import STL  # lazy: loads statsmodels

        # a seasonal smoother wider than the series with degree 0: each cycle position's mean (R's "periodic")
        wide = 10 * len(fy) + 1
        stl = STL(fy, period=m, seasonal=wide, seasonal_deg=0, robust=False).fit()
        return replace(self, seasonal=np.asarray(stl.seasonal, float), fit=fit)

    def season_at(self, at: np.ndarray) -> np.ndarray:
        """The seasonal component at the positions `at`: fitted inside the fitted part, its last cycle carried
        forward after it (and back before it)."""
        if self.seasonal is None:
            raise ValueError(f"transform {self.kind} is used before it is fitted")
        a0, a1 = self.fit
        at = np.asarray(at, int)
        m = max(1, min(int(self.season or 1), a1 - a0))
        inside = (at >= a0) & (at < a1)
        last = a1 - m + np.mod(at - (a1 - m), m)  # the same cycle position in the fitted part's last cycle
        return self.seasonal[np.where(inside, at, last) - a0] if len(self.seasonal) else np.zeros(at.shape)

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

    def forward(self, y: np.ndarray, at: np.ndarray | None = None) -> np.ndarray:
        """The transformed series, aligned with `y`: NaN where `t < lag`. `at`: the series positions of `y`'s
        values (default: `y` starts the series), read by the `stl` kinds."""
        fy = self._f(np.asarray(y, float))
        if self.deseasonalises:
            return fy - self.season_at(np.arange(len(fy)) if at is None else at)
        if self.lag == 0:
            return fy
        z = np.full(len(fy), np.nan)
        z[self.lag:] = fy[self.lag:] - fy[: -self.lag]
        return z

    def inverse(self, z: np.ndarray, y_lagged: np.ndarray | None, at: np.ndarray | None = None) -> np.ndarray:
        """Original-unit values from transformed ones and the series `lag` steps before each (None at lag 0);
        `at`: their series positions (needed by the `stl` kinds)."""
        if self.deseasonalises:
            if at is None:
                raise ValueError(f"transform {self.kind} inverts at known positions only")
            return self._f_inv(np.asarray(z, float) + self.season_at(at))
        if self.lag == 0:
            return self._f_inv(np.asarray(z, float))
        assert y_lagged is not None
        return self._f_inv(np.asarray(z, float) + self._f(np.asarray(y_lagged, float)))


def check_transform(kind: str, series: np.ndarray, season: int | None, dataset: str) -> str | None:
    """Why `kind` cannot be used on this series (a one-line reason), or None."""
    if ("seasonal" in kind or kind.endswith("stl")) and not season:
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
