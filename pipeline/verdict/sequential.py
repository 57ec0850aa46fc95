"""Sequential confirm seeds: a group-sequential design for the verdict's own tests. Pure numpy/scipy.

The confirm phase trains `seeds` per architecture, then rounds of `seeds_per_round` more, up to `max_seeds`,
and looks at the data after each round. Each look uses the verdict's tests (Welch on log test MASE for a
winner, TOST for equivalence; `pipeline.verdict.stats`) at a stricter nominal level, so that the chance of a false
decision over all looks stays at the fixed design's:

- **Alpha spending.** Lan-DeMets' O'Brien-Fleming-type spending function, alpha(t) = 2 - 2 Phi(z_{1-a/2} / sqrt t),
  at information fractions t_k = n_k / max_seeds, for the two-sided winner test at level `alpha` and for each
  one-sided test of TOST at `alpha / 2`. The z boundaries come from the joint law of the looks (Brownian
  motion, recursive numerical integration); each boundary is applied to Welch's p-value through its nominal
  level (p < 2 (1 - Phi(c_k))), which keeps the boundaries right for the t statistics the verdict uses (checked
  by simulation: tests/pipeline/verdict/test_sequential.py).
- **Several datasets.** Holm across datasets, as in the fixed design, with each rejection's level passed on
  to the datasets still open (the graphical approach of Maurer and Bretz 2013 for group-sequential designs;
  earlier looks are not retested, which only makes it stricter).
- **Futility** (non-binding: the boundaries ignore it, so it can only lower error rates). A dataset stops
  when no decision is reachable by `max_seeds`: given the seeds so far, the chance of a winner if the
  remaining seeds differ by `smallest_effect` (in the direction seen so far), and the chance of equivalence
  if they do not differ, are both below `FUTILITY`.
- **`max_seeds == seeds`** is one look at the full level: exactly the fixed design (same labels on the same
  runs; tested).

One procedure, vectorised over simulations, decides both the simulations and a real sweep (`replay`): the
driver calls it after each round to choose what to train next, the report calls it on the same runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

from pipeline.core.config import ConfirmSpec, ReportSpec
from pipeline.verdict.columns import RunColumns
from pipeline.verdict.stats import Welch, decide, welch

FUTILITY = 0.10  # stop a dataset when neither decision has this chance by max_seeds (`_reachable`)
_GRID = 1601  # points of the numerical integration per look

@dataclass(frozen=True)
class Design:
    """Seeds per architecture at each look (`ConfirmSpec.looks`): `seeds`, then `seeds_per_round` more, up to
    `max_seeds`."""

    seeds: int
    per_round: int
    max_seeds: int

    @classmethod
    def of(cls, confirm: ConfirmSpec) -> Design:
        return cls(confirm.seeds, confirm.seeds_per_round, confirm.seed_cap)

    @property
    def spec(self) -> ConfirmSpec:
        return ConfirmSpec(seeds=self.seeds, seeds_per_round=self.per_round, max_seeds=self.max_seeds)

    @cached_property
    def looks(self) -> tuple[int, ...]:  # validated once, read at every look
        return self.spec.looks

    @property
    def fixed(self) -> bool:
        return self.max_seeds <= self.seeds

    def fractions(self) -> tuple[float, ...]:
        return tuple(n / self.max_seeds for n in self.looks)


def _spent(t: np.ndarray, level: float) -> np.ndarray:
    """O'Brien-Fleming-type spending: the error allowed by information fraction t."""
    return 2 - 2 * stats.norm.cdf(stats.norm.ppf(1 - level / 2) / np.sqrt(t))


@lru_cache(maxsize=256)
def nominal_levels(fractions: tuple[float, ...], level: float, two_sided: bool) -> np.ndarray:
    """Nominal p-value thresholds per look: reject at look k when p_k < threshold_k (two-sided p for a
    two-sided test, one-sided p otherwise), so that P(any rejection | H0) = `level` over all looks."""
    t = np.asarray(fractions, float)
    spend = np.diff(np.concatenate([[0.0], _spent(t, level)]))
    tail = 2.0 if two_sided else 1.0
    z = np.empty(len(t))
    z[0] = stats.norm.isf(spend[0] / tail) if spend[0] > 0 else np.inf
    # density of the score S_k = Z_k sqrt(t_k) on the continuation region, on a grid
    hi = z[0] * np.sqrt(t[0]) if np.isfinite(z[0]) else 10 * np.sqrt(t[0])
    lo = -hi if two_sided else -10 * np.sqrt(t[-1])
    x = np.linspace(lo, hi, _GRID)
    dens = stats.norm.pdf(x, scale=np.sqrt(t[0]))
    for k in range(1, len(t)):
        w = dens * np.gradient(x)  # weights of the grid points (trapezoid-like)
        sd = np.sqrt(t[k] - t[k - 1])

        def crossing(c: float, x: np.ndarray = x, w: np.ndarray = w, sd: float = sd, tk: float = t[k]) -> float:
            up = stats.norm.sf((c * np.sqrt(tk) - x) / sd)
            down = stats.norm.cdf((-c * np.sqrt(tk) - x) / sd) if two_sided else 0.0
            return float(np.sum(w * (up + down)))

        if spend[k] <= 1e-15:
            z[k] = np.inf
        else:
            z[k] = optimize.brentq(lambda c, target=spend[k]: crossing(c) - target, 0.0, 40.0, xtol=1e-10)
        bound = z[k] * np.sqrt(t[k]) if np.isfinite(z[k]) else 10 * np.sqrt(t[k])
        y = np.linspace(-bound if two_sided else -10 * np.sqrt(t[-1]), bound, _GRID)
        dens = (stats.norm.pdf((y[:, None] - x[None, :]) / sd) / sd) @ w
        x = y
    return tail * stats.norm.sf(z)


@dataclass
class Looks:
    """Per-look Welch results, arrays of shape (sims, datasets): what the procedure decides from."""

    welch: list[Welch] = field(default_factory=list)
    n_min: list[np.ndarray] = field(default_factory=list)  # fewer seeds of the two arms
    sd: list[np.ndarray] = field(default_factory=list)  # sqrt(sd_gru^2 + sd_lstm^2) of log MASE per seed
    present: list[np.ndarray] = field(default_factory=list)  # the dataset has runs at this look


@dataclass
class Outcome:
    """The procedure's result, arrays of shape (sims, datasets)."""

    label: np.ndarray
    reason: np.ndarray
    stop: np.ndarray  # a key of STOP_REASONS, or "" (still open: another round is due)
    look: np.ndarray  # the look (0-based) the dataset stopped at, or the last one seen
    ci_low: np.ndarray  # repeated confidence interval at that look (the 95% Welch interval for one look)
    ci_high: np.ndarray
    plain_low: np.ndarray  # the plain 95% Welch interval at that look (not adjusted for the looks)
    plain_high: np.ndarray
    threshold: np.ndarray  # the nominal two-sided level Welch's p was held to at that look
    path: list[dict[str, np.ndarray]]  # per look: effect, ci_low, ci_high, threshold (NaN where absent)


def _rci(w: Welch, level: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(invalid="ignore"):
        q = stats.t.isf(np.asarray(level) / 2, w.df)
    return w.effect - q * w.se, w.effect + q * w.se


def run(looks: Looks, design: Design, rules: ReportSpec, *, final_look: int | None = None) -> Outcome:
    """The sequential decision on the looks seen so far (all datasets over `sims` simulations at once).

    `final_look`: the last look that will happen (default: the design's last); at it an open dataset stops
    with `max_seeds`. A dataset absent from a look after it stopped stays stopped."""
    alpha, margin, min_seeds = rules.alpha, rules.equivalence_margin, rules.min_seeds
    fr = design.fractions()
    last = len(fr) - 1 if final_look is None else final_look
    shape = looks.welch[0].effect.shape
    m = shape[-1]
    # thresholds[r][k]: level alpha / (m - r) after r Holm rejections (winner: two-sided; TOST: each side)
    thr_w = np.array([nominal_levels(fr, alpha / (m - r), True) for r in range(m)])
    thr_e = np.array([nominal_levels(fr, alpha / 2 / (m - r), False) for r in range(m)])
    thr_rci = nominal_levels(fr, alpha, True)
    rej_w = np.zeros(shape, bool)
    rej_e = np.zeros(shape, bool)
    open_ = np.ones(shape, bool)
    label = np.full(shape, "inconclusive", dtype=object)
    reason = np.full(shape, "undecided", dtype=object)
    stop = np.full(shape, "", dtype=object)
    look_at = np.zeros(shape, int)
    ci_low, ci_high = np.full(shape, np.nan), np.full(shape, np.nan)
    plain_low, plain_high = np.full(shape, np.nan), np.full(shape, np.nan)
    threshold = np.full(shape, np.nan)
    path = []
    for k, w in enumerate(looks.welch):
        here = open_ & looks.present[k]
        p = np.where(np.isfinite(w.p), w.p, 1.0)
        pe = np.where(np.isfinite(w.p_equiv), w.p_equiv, 1.0)
        for rej, pk, thr in ((rej_w, p, thr_w), (rej_e, pe, thr_e)):
            while True:  # Holm: each rejection passes its level on to the datasets still open
                r = rej.sum(axis=-1, keepdims=True)
                level = thr[np.minimum(r, m - 1), k]
                new = here & ~rej & (pk < level)
                if not new.any():
                    break
                rej |= new
        lo, hi = _rci(w, thr_rci[k])
        one = Welch(w.effect, w.se, w.df, w.p, w.p_equiv, lo, hi)  # `decide` reads the interval from here
        lab, why = decide(one, np.where(rej_w, 0.0, 1.0), np.where(rej_e, 0.0, 1.0), looks.n_min[k], alpha=alpha,
                          margin=margin, min_seeds=min_seeds)
        label = np.where(here, lab, label)
        reason = np.where(here, why, reason)
        look_at = np.where(here, k, look_at)
        ci_low, ci_high = np.where(here, lo, ci_low), np.where(here, hi, ci_high)
        plain_low, plain_high = np.where(here, w.ci_low, plain_low), np.where(here, w.ci_high, plain_high)
        r = rej_w.sum(axis=-1, keepdims=True)
        threshold = np.where(here, thr_w[np.minimum(r, m - 1), k], threshold)
        path.append({"effect": np.where(looks.present[k], w.effect, np.nan),
                     "ci_low": np.where(looks.present[k], lo, np.nan),
                     "ci_high": np.where(looks.present[k], hi, np.nan),
                     "threshold": np.where(looks.present[k], thr_w[np.minimum(r, m - 1), k], np.nan)})
        decided = here & np.isin(lab, ["gru", "lstm", "equivalent"])
        stop = np.where(decided, "decided", stop)
        open_ &= ~decided
        if k >= last:
            stop = np.where(here, "fixed", stop) if design.fixed else np.where(here & open_, "max_seeds", stop)
            open_ &= ~here
            break
        futile = here & open_ & (_reachable(w, looks.sd[k], looks.n_min[k], design, rules, rej_w, rej_e, thr_w,
                                            thr_e) < FUTILITY) & (looks.n_min[k] >= min(min_seeds, design.seeds))
        stop = np.where(futile, "futility", stop)
        open_ &= ~futile
    return Outcome(label, reason, stop, look_at, ci_low, ci_high, plain_low, plain_high, threshold, path)


def _reachable(w: Welch, sd: np.ndarray, n: np.ndarray, design: Design, rules: ReportSpec, rej_w: np.ndarray,
               rej_e: np.ndarray, thr_w: np.ndarray, thr_e: np.ndarray) -> np.ndarray:
    """The better of two chances at `max_seeds`, given the seeds so far (normal approximation): a winner if
    the remaining seeds differ by `smallest_effect` in the direction seen so far, and equivalence if they do
    not differ at all."""
    m = rej_w.shape[-1]
    n_max, last = design.max_seeds, len(design.looks) - 1
    bound = np.log1p(rules.equivalence_margin)
    smallest = -np.log1p(-rules.smallest_effect)
    with np.errstate(invalid="ignore", divide="ignore"):
        se_final = sd / np.sqrt(n_max)
        future = sd * np.sqrt(np.maximum(n_max - n, 0)) / n_max  # sd of the final mean effect given today's
        z_w = stats.norm.isf(thr_w[np.minimum(rej_w.sum(axis=-1, keepdims=True), m - 1), last] / 2)
        z_e = stats.norm.isf(thr_e[np.minimum(rej_e.sum(axis=-1, keepdims=True), m - 1), last])
        need_w = np.maximum(np.where(rej_w, 0.0, z_w * se_final), bound)  # |effect| beyond this names a winner
        need_e = bound - z_e * se_final  # |effect| within this is equivalence
        now = n * w.effect / n_max
        e = now + np.where(w.effect < 0, -1, 1) * smallest * (n_max - n) / n_max
        p_win = stats.norm.sf((need_w - e) / future) + stats.norm.cdf((-need_w - e) / future)
        p_eq = np.where(need_e > 0, stats.norm.cdf((need_e - now) / future) - stats.norm.cdf((-need_e - now) / future),
                        0.0)
        out = np.maximum(p_win, p_eq)
    return np.where(np.isfinite(out), out, 1.0)  # no spread yet: keep going


def looks_from(log_g: np.ndarray, log_l: np.ndarray, design: Design, bound: float) -> Looks:
    """Welch at every look of simulated seeds: arrays (sims, datasets, max_seeds) per arm."""
    out = Looks()
    for n in design.looks:
        w = welch(log_g[..., :n], log_l[..., :n], bound)
        out.welch.append(w)
        out.n_min.append(np.full(w.effect.shape, n))
        out.sd.append(np.sqrt(np.var(log_g[..., :n], axis=-1, ddof=1) + np.var(log_l[..., :n], axis=-1, ddof=1)))
        out.present.append(np.ones(w.effect.shape, bool))
    return out


@dataclass(frozen=True)
class Replay:
    """The procedure replayed on a sweep's confirm runs: per dataset its outcome and path."""

    datasets: list[str]
    outcome: Outcome
    seeds_by_look: list[dict[str, tuple[int, int]]]  # per look, dataset -> (GRU seeds, LSTM seeds)

    def open_datasets(self) -> list[str]:
        return [d for i, d in enumerate(self.datasets) if self.outcome.stop[0, i] == ""]

    def of(self, dataset: str) -> dict[str, Any]:
        i = self.datasets.index(dataset)
        o = self.outcome
        return {"label": str(o.label[0, i]), "reason": str(o.reason[0, i]), "stop": str(o.stop[0, i]),
                "look": int(o.look[0, i]), "ci_low": float(o.ci_low[0, i]), "ci_high": float(o.ci_high[0, i]),
                "plain_low": float(o.plain_low[0, i]), "plain_high": float(o.plain_high[0, i]),
                "threshold": float(o.threshold[0, i]),
                "path": [{key: float(v[0, i]) for key, v in step.items()} | {
                    "n_gru": self.seeds_by_look[k].get(dataset, (0, 0))[0],
                    "n_lstm": self.seeds_by_look[k].get(dataset, (0, 0))[1]}
                    for k, step in enumerate(o.path) if dataset in self.seeds_by_look[k]]}


def replay(confirm: pd.DataFrame, design: Design, rules: ReportSpec, *, final_look: int | None = None) -> Replay:
    """The procedure on real confirm runs (columns dataset, arch, test_mase, round; round 1 when absent):
    look k sees every finished run of rounds 1..k. Datasets need 2 finished runs per arm at a look."""
    bound = np.log1p(rules.equivalence_margin)
    rounds = confirm["round"].fillna(1).astype(int) if "round" in confirm else pd.Series(1, index=confirm.index)
    datasets = sorted(confirm[RunColumns.DATASET].unique())
    n_looks = int(rounds.max()) if len(rounds) else 1
    looks, seeds_by_look = Looks(), []
    for k in range(1, n_looks + 1):
        cols: dict[str, list[float]] = {key: [] for key in ("effect", "se", "df", "p", "p_equiv", "lo", "hi", "n", "sd",
                                                              "present")}
        counts = {}
        for ds in datasets:
            d = confirm[(confirm[RunColumns.DATASET] == ds) & (rounds <= k)]
            in_look = bool(((confirm[RunColumns.DATASET] == ds) & (rounds == k)).any())
            g = np.log(d.loc[d[RunColumns.ARCH] == "gru", RunColumns.TEST_MASE].dropna().to_numpy(float))
            l = np.log(d.loc[d[RunColumns.ARCH] == "lstm", RunColumns.TEST_MASE].dropna().to_numpy(float))
            ok = in_look and len(g) >= 2 and len(l) >= 2
            w = welch(g, l, bound) if ok else welch(np.zeros(2), np.zeros(2), bound)
            for key, v in zip(("effect", "se", "df", "p", "p_equiv", "lo", "hi"), (w.effect, w.se, w.df, w.p, w.p_equiv,
                                                                                  w.ci_low, w.ci_high), strict=True):
                cols[key].append(float(v))
            cols["n"].append(min(len(g), len(l)))
            cols["sd"].append(float(np.sqrt(np.var(g, ddof=1) + np.var(l, ddof=1))) if ok else np.nan)
            cols["present"].append(ok)
            if ok:
                counts[ds] = (len(g), len(l))
        arr = {key: np.asarray([v]) for key, v in cols.items()}
        looks.welch.append(Welch(arr["effect"], arr["se"], arr["df"], arr["p"], arr["p_equiv"], arr["lo"], arr["hi"]))
        looks.n_min.append(arr["n"].astype(int))
        looks.sd.append(arr["sd"])
        looks.present.append(arr["present"].astype(bool))
        seeds_by_look.append(counts)
    return Replay(datasets, run(looks, design, rules, final_look=final_look), seeds_by_look)


