"""The verdict: does GRU or LSTM win on each dataset, and across datasets? Pure numpy/scipy; no MLflow, no Ray.

One estimand everywhere: the difference of mean log test MASE per seed, GRU minus LSTM (`effect`; its
exponential is the ratio of geometric-mean MASE, below 1 when GRU is better). Per dataset:

1. fewer than `min_seeds` finished seeds in an arm -> `inconclusive` (too few seeds);
2. equivalence by two one-sided Welch tests (TOST) at alpha/2 per side, Holm-adjusted across datasets
   -> `equivalent` (the 95% interval lies inside ±log(1 + margin));
3. a two-sided Welch test, Holm-adjusted, p < alpha, and an estimated difference larger than the margin
   -> the better architecture wins; a significant difference estimated inside the margin is negligible,
   never a win;
4. otherwise `inconclusive`, with the seeds per architecture that would detect `smallest_effect` with
   80% power.

Welch's t on logs was chosen by simulation (tests/pipeline/verdict/test_calibration.py; the table is in the
README): it keeps its size and coverage with unequal seed noise and heavy-tailed seeds, where the
permutation test and the BCa bootstrap on the ratio of means it replaces did not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from pipeline.core.config import ReportSpec
from pipeline.verdict.columns import RunColumns
from pipeline.verdict.model import PRACTICAL_SEEDS, WINNERS, DatasetVerdict

N_BOOT = 1999
TARGET_POWER = 0.8
MAX_SEEDS = PRACTICAL_SEEDS  # "seeds needed" beyond this is "more than 1000", never a number
DEFAULT_RULES = ReportSpec()  # the sweep file's `report:` section, its defaults


@dataclass(frozen=True)
class MoreThan:
    """No seed count up to `n` per architecture reaches `TARGET_POWER`: more than any practical number."""

    n: int = MAX_SEEDS


Seeds = int | MoreThan  # seeds per architecture, or more than any practical number


@dataclass(frozen=True)
class Welch:
    """Welch's two-sample t on log MASE (GRU - LSTM), elementwise over leading axes."""

    effect: np.ndarray
    se: np.ndarray
    df: np.ndarray
    p: np.ndarray  # two-sided, H0: effect = 0
    p_equiv: np.ndarray  # TOST, H0: |effect| >= bound (the larger one-sided p)
    ci_low: np.ndarray  # 95%
    ci_high: np.ndarray


def welch(log_g: np.ndarray, log_l: np.ndarray, bound: float) -> Welch:
    """Welch's test, its 95% interval and the TOST p-value against ±`bound`, along the last axis."""
    ng, nl = log_g.shape[-1], log_l.shape[-1]
    vg, vl = np.var(log_g, axis=-1, ddof=1) / ng, np.var(log_l, axis=-1, ddof=1) / nl
    se = np.sqrt(vg + vl)
    with np.errstate(divide="ignore", invalid="ignore"):  # no spread in either arm: handled by the caller
        df = (vg + vl) ** 2 / (vg**2 / (ng - 1) + vl**2 / (nl - 1))
        effect = np.mean(log_g, axis=-1) - np.mean(log_l, axis=-1)
        t = effect / se
        p = 2 * stats.t.sf(np.abs(t), df)
        p_equiv = np.maximum(stats.t.sf((effect + bound) / se, df), stats.t.sf((bound - effect) / se, df))
        q = stats.t.ppf(0.975, df)
    return Welch(effect, se, df, p, p_equiv, effect - q * se, effect + q * se)


def holm(p: list[float] | np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values, in the input order (along the last axis)."""
    p = np.asarray(p, float)
    m = p.shape[-1]
    order = np.argsort(p, axis=-1, kind="stable")
    ranked = np.take_along_axis(p, order, axis=-1) * (m - np.arange(m))
    adjusted = np.minimum(1.0, np.maximum.accumulate(ranked, axis=-1))
    out = np.empty_like(adjusted)
    np.put_along_axis(out, order, adjusted, axis=-1)
    return out


def decide(w: Welch, p_holm: np.ndarray, p_equiv_holm: np.ndarray, n_min: int | np.ndarray, *, alpha: float,
           margin: float, min_seeds: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels and reasons for Welch results (elementwise), in the documented order."""
    bound = np.log1p(margin)
    inside = (w.ci_low > -bound) & (w.ci_high < bound)
    spread = np.isfinite(w.se) & (w.se > 0)
    label = np.full(np.shape(w.effect), "inconclusive", dtype=object)
    reason = np.full(np.shape(w.effect), "undecided", dtype=object)
    beyond = np.abs(w.effect) > bound  # the estimated difference is larger than the margin
    win = spread & (p_holm < alpha) & beyond & ~inside
    label = np.where(win, np.where(w.effect < 0, *WINNERS), label)
    reason = np.where(win, "difference", reason)
    negligible = spread & (p_holm < alpha) & ~beyond
    reason = np.where(negligible, "negligible", reason)  # real, but estimated inside the margin: never a win
    equivalent = spread & (p_equiv_holm < alpha / 2)
    label = np.where(equivalent, "equivalent", label)
    reason = np.where(equivalent, "equivalent", reason)
    reason = np.where(spread, reason, "no spread")
    few = n_min < min_seeds
    label = np.where(few, "inconclusive", label)
    reason = np.where(few, "too few seeds", reason)
    return label, reason


def _fewest_seeds(sd_g: float, sd_l: float, min_seeds: int, power: Callable[[float, float], float]) -> Seeds:
    """The fewest seeds per architecture (from `min_seeds`) at which `power(se, df)` of the Welch estimate
    reaches `TARGET_POWER`; `MoreThan(MAX_SEEDS)` when none up to `MAX_SEEDS` does."""
    for n in range(max(min_seeds, 2), MAX_SEEDS + 1):
        se = float(np.sqrt((sd_g**2 + sd_l**2) / n))
        df = (n - 1) * (sd_g**2 + sd_l**2) ** 2 / (sd_g**4 + sd_l**4)
        if power(se, df) >= TARGET_POWER:
            return n
    return MoreThan(MAX_SEEDS)


def seeds_needed(sd_g: float, sd_l: float, *, effect: float, alpha: float, min_seeds: int) -> Seeds | None:
    """Seeds per architecture for `TARGET_POWER` to detect a true `effect` (log scale) with Welch's test at
    two-sided level `alpha`, given the seeds' standard deviations of log MASE (noncentral t)."""
    if not (np.isfinite(sd_g) and np.isfinite(sd_l)) or sd_g + sd_l == 0:
        return None

    def power(se: float, df: float) -> float:
        q, ncp = stats.t.ppf(1 - alpha / 2, df), abs(effect) / se
        return float(stats.nct.sf(q, df, ncp) + stats.nct.cdf(-q, df, ncp))

    return _fewest_seeds(sd_g, sd_l, min_seeds, power)


def seeds_for_equivalence(sd_g: float, sd_l: float, *, effect: float, bound: float, alpha: float,
                          min_seeds: int) -> Seeds | None:
    """Seeds per architecture for `TARGET_POWER` that TOST (two one-sided Welch tests at `alpha`/2 each) shows
    the difference inside ±`bound` when it truly is `effect` (log scale; normal approximation to the estimate,
    Welch's t quantile). None when |`effect`| is not inside the bound: equivalence is then not to be expected."""
    if not (np.isfinite(sd_g) and np.isfinite(sd_l) and np.isfinite(effect)) or sd_g + sd_l == 0:
        return None
    if abs(effect) >= bound:
        return None

    def power(se: float, df: float) -> float:
        q = stats.t.ppf(1 - alpha / 2, df)
        return float(stats.norm.cdf((bound - q * se - effect) / se) - stats.norm.cdf((-bound + q * se - effect) / se))

    return _fewest_seeds(sd_g, sd_l, min_seeds, power)


def needed(v: DatasetVerdict) -> Seeds | None:
    """The verdict's `seeds_needed`, or more than `seeds_needed_above`; None when not sized."""
    return MoreThan(v.seeds_needed_above) if v.seeds_needed_above is not None else v.seeds_needed


@dataclass(frozen=True)
class Resolving:
    """What would settle an `inconclusive` dataset whose seeds were already enough to detect `smallest_effect`:
    the estimated difference is smaller than that. `goal` "equivalent" (it lies inside the margin: that many
    seeds would show it), "winner" (between the margin and `smallest_effect`: that many seeds would detect a
    difference of the estimated size) or "chance" (the seeds so far were enough for that too)."""

    goal: Literal["equivalent", "winner", "chance"]
    seeds: Seeds  # per architecture
    difference: float  # the estimated difference, percent of the geometric-mean MASE (|ratio - 1|)


def resolving(v: DatasetVerdict, alpha: float, margin: float) -> Resolving | None:
    """For an `inconclusive` verdict whose seeds per architecture already reach `seeds_needed` (so more seeds
    for `smallest_effect` is not the advice), the seeds that would settle the difference actually estimated."""
    if v.label != "inconclusive" or not v.seeds_needed or v.seeds_needed > min(v.n_gru, v.n_lstm):
        return None  # more than `seeds_needed_above` is more than the seeds used, too
    difference = 100 * abs(float(np.expm1(v.effect)))
    n = seeds_for_equivalence(v.sd_log_gru, v.sd_log_lstm, effect=v.effect, bound=float(np.log1p(margin)),
                              alpha=alpha, min_seeds=2)
    if n is not None:
        return Resolving("equivalent", n, difference)
    n = seeds_needed(v.sd_log_gru, v.sd_log_lstm, effect=v.effect, alpha=alpha, min_seeds=2)
    if n is None:
        return None
    # seeds enough for the estimated difference too: left open by the rounds' stricter boundaries, or by chance
    more = isinstance(n, MoreThan) or n > min(v.n_gru, v.n_lstm)
    return Resolving("winner" if more else "chance", n, difference)


def _prob_better(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    """P(random a < random b) + ½ P(tie): lower MASE is better."""
    a, b = np.moveaxis(a, axis, -1), np.moveaxis(b, axis, -1)
    less = (a[..., :, None] < b[..., None, :]).mean(axis=(-2, -1))
    ties = (a[..., :, None] == b[..., None, :]).mean(axis=(-2, -1))
    return less + 0.5 * ties


def _prob_ci(g: np.ndarray, l: np.ndarray, seed: int) -> tuple[float, float]:
    """Percentile bootstrap 95% interval of the probability of superiority (descriptive only)."""
    rng = np.random.default_rng(seed)
    gi = rng.integers(0, len(g), (N_BOOT, len(g)))
    li = rng.integers(0, len(l), (N_BOOT, len(l)))
    boot = _prob_better(g[gi], l[li])
    return float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5))


def compare_architectures(confirm: pd.DataFrame, baselines: dict[str, dict[str, float]],
                          rules: ReportSpec = DEFAULT_RULES, *, seed: int = 0,
                          sequential: dict[str, dict[str, Any]] | None = None) -> list[DatasetVerdict]:
    """Per-dataset verdicts from confirm-phase runs (columns dataset, arch, test_mase). `sequential`: per
    dataset, the label, reason and repeated interval the sequential rule reached over the confirm rounds
    (`pipeline.verdict.sequential.Replay.of`); they replace the fixed design's. Each verdict's `sentence` is
    left empty: wording is the report stage's (`reports.wording.worded`)."""
    alpha, margin, min_seeds, smallest_effect = (rules.alpha, rules.equivalence_margin, rules.min_seeds,
                                                 rules.smallest_effect)
    bound = np.log1p(margin)
    raw = []
    for dataset in sorted(confirm[RunColumns.DATASET].unique()):
        d = confirm[confirm[RunColumns.DATASET] == dataset]
        g = d.loc[d[RunColumns.ARCH] == "gru", RunColumns.TEST_MASE].dropna().to_numpy(float)
        l = d.loc[d[RunColumns.ARCH] == "lstm", RunColumns.TEST_MASE].dropna().to_numpy(float)
        raw.append((dataset, g, l, welch(np.log(g), np.log(l), bound) if min(len(g), len(l)) >= 2
                    else _no_test(g, l)))
    p_holm = holm([float(w.p) if np.isfinite(w.p) else 1.0 for *_, w in raw])
    p_equiv_holm = holm([float(w.p_equiv) if np.isfinite(w.p_equiv) else 1.0 for *_, w in raw])
    # Holm's first step, the strictest: what a new sweep's seeds must reach on every dataset
    alpha_each = alpha / len(raw)
    out = []
    for (dataset, g, l, w), ph, pe in zip(raw, p_holm, p_equiv_holm, strict=True):
        lab, why = decide(w, np.asarray(ph), np.asarray(pe), min(len(g), len(l)), alpha=alpha, margin=margin,
                          min_seeds=min_seeds)
        ci = (float(w.ci_low), float(w.ci_high))
        if sequential is not None and min(len(g), len(l)) >= 2:  # with fewer, no look saw the dataset
            seq = sequential[dataset]
            lab, why = seq["label"], seq["reason"]
            # a decision is read from the repeated interval; an open question from the plain one (a repeated
            # interval after an early look is too wide to say anything)
            ci = (seq["ci_low"], seq["ci_high"]) if lab != "inconclusive" else (seq["plain_low"], seq["plain_high"])
        base = baselines.get(dataset, {})
        best = min(float(np.mean(x)) for x in (g, l) if len(x))  # the better architecture that has runs
        sd_g, sd_l = _sd_log(g), _sd_log(l)
        prob_ci = _prob_ci(g, l, seed) if len(g) and len(l) else (float("nan"), float("nan"))
        v: dict[str, Any] = {
            "dataset": dataset, "label": str(lab), "reason": str(why), "n_gru": len(g), "n_lstm": len(l),
            "mean_mase_gru": _mean(g), "mean_mase_lstm": _mean(l),
            "gmean_mase_gru": float(np.exp(_mean(np.log(g)))), "gmean_mase_lstm": float(np.exp(_mean(np.log(l)))),
            "sd_log_gru": sd_g, "sd_log_lstm": sd_l, "effect": float(w.effect), "se": float(w.se),
            "df": float(w.df) if np.isfinite(w.df) else float("nan"),
            "ci_low": ci[0], "ci_high": ci[1],
            "p_value": float(w.p), "p_holm": float(ph), "p_equivalence": float(w.p_equiv),
            "p_equivalence_holm": float(pe),
            "prob_gru_better": float(_prob_better(g, l)) if len(g) and len(l) else float("nan"),
            "prob_ci_low": prob_ci[0], "prob_ci_high": prob_ci[1], "smallest_effect": smallest_effect,
            "naive_mase": base.get("naive_mase"), "ar_mase": base.get("ar_mase"),
        }
        v["beats_naive"] = None if v["naive_mase"] is None else bool(best < v["naive_mase"])
        v["beats_ar"] = None if v["ar_mase"] is None else bool(best < v["ar_mase"])
        seeds = (seeds_needed(sd_g, sd_l, effect=float(-np.log1p(-smallest_effect)), alpha=alpha_each,
                              min_seeds=min_seeds) if lab == "inconclusive" and why != "no spread" else None)
        v["seeds_needed"] = seeds if isinstance(seeds, int) else None
        v["seeds_needed_above"] = seeds.n if isinstance(seeds, MoreThan) else None
        out.append(DatasetVerdict(**v, sentence=""))  # worded by the report stage (`reports.wording.worded`)
    return out


def _no_test(g: np.ndarray, l: np.ndarray) -> Welch:
    """Welch's test where an architecture has fewer than 2 finished runs: the effect when both have one (else
    NaN), nothing else defined. `decide` then says `too few seeds` (`min_seeds` is at least 2)."""
    nan = np.asarray(float("nan"))
    effect = np.asarray(np.mean(np.log(g)) - np.mean(np.log(l))) if len(g) and len(l) else nan
    return Welch(effect, nan, nan, nan, nan, nan, nan)


def _mean(x: np.ndarray) -> float:
    """The mean, NaN for no values (an architecture whose confirm runs all failed), without numpy's warning."""
    return float(np.mean(x)) if len(x) else float("nan")


def _sd_log(x: np.ndarray) -> float:
    """The seed-to-seed sd of log MASE; NaN below 2 values."""
    return float(np.std(np.log(x), ddof=1)) if len(x) >= 2 else float("nan")


def mean_ci(values: np.ndarray, *, seed: int = 0) -> tuple[float, float]:
    """Bootstrap 95% percentile CI of a mean (a point when all values are equal)."""
    values = np.asarray(values, float)
    if len(values) == 0:  # an architecture whose confirm runs all failed
        return float("nan"), float("nan")
    if len(values) < 2 or np.ptp(values) == 0:
        return float(values.mean()), float(values.mean())
    res = stats.bootstrap((values,), np.mean, n_resamples=N_BOOT, method="percentile",
                          random_state=np.random.default_rng(seed))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)
