"""The verdict: does GRU or LSTM win on each dataset? Pure numpy/scipy/pandas; no MLflow, no Ray.

Effect = log(mean test MASE of GRU / mean test MASE of LSTM): negative means GRU is better.
A winner needs all three: Holm-adjusted two-sided permutation p < alpha, the effect's bootstrap 95% CI
excluding 0, and the probability that a random seed of the winner beats one of the loser above 0.5
with its CI. `equivalent` needs the whole CI inside ±log(1 + margin).
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

N_BOOT = 4999
N_PERM = 9999


@dataclass(frozen=True)
class DatasetVerdict:
    dataset: str
    label: str  # gru | lstm | equivalent | inconclusive
    n_gru: int
    n_lstm: int
    mean_mase_gru: float
    mean_mase_lstm: float
    effect: float  # log ratio GRU/LSTM
    ci_low: float
    ci_high: float
    p_value: float
    p_holm: float
    prob_gru_better: float
    prob_ci_low: float
    prob_ci_high: float
    seeds_needed: int | None  # per architecture, when inconclusive
    naive_mase: float | None
    ar_mase: float | None
    beats_naive: bool | None
    beats_ar: bool | None
    sentence: str


def holm(p: list[float]) -> list[float]:
    """Holm step-down adjusted p-values, in the input order."""
    order = np.argsort(p, kind="stable")
    m, adjusted, running = len(p), [0.0] * len(p), 0.0
    for i, j in enumerate(order):
        running = max(running, min(1.0, (m - i) * p[j]))
        adjusted[j] = running
    return adjusted


def _log_ratio(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.log(np.mean(a, axis=axis) / np.mean(b, axis=axis))


def _prob_better(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    """P(random a < random b) + ½ P(tie): lower MASE is better."""
    a, b = np.moveaxis(a, axis, -1), np.moveaxis(b, axis, -1)
    less = (a[..., :, None] < b[..., None, :]).mean(axis=(-2, -1))
    ties = (a[..., :, None] == b[..., None, :]).mean(axis=(-2, -1))
    return less + 0.5 * ties


def _bootstrap_ci(stat: Any, g: np.ndarray, l: np.ndarray, rng: np.random.Generator,
                  method: str) -> tuple[float, float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # BCa on tiny or tied samples warns and returns NaN: handled below
        res = stats.bootstrap((g, l), stat, vectorized=True, paired=False, n_resamples=N_BOOT,
                              method=method, random_state=rng)
    lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
    if not (np.isfinite(lo) and np.isfinite(hi)) and method != "percentile":
        return _bootstrap_ci(stat, g, l, rng, "percentile")
    return lo, hi


def compare_dataset(dataset: str, g: np.ndarray, l: np.ndarray, *, seed: int = 0) -> dict[str, Any]:
    """Effect, CI, permutation p and probability of superiority for one dataset (before Holm)."""
    g, l = np.asarray(g, float), np.asarray(l, float)
    rng = np.random.default_rng(seed)
    effect = float(_log_ratio(g, l))
    ci = _bootstrap_ci(_log_ratio, g, l, rng, "BCa")
    perm = stats.permutation_test((g, l), _log_ratio, permutation_type="independent", vectorized=True,
                                  n_resamples=N_PERM, alternative="two-sided", random_state=rng)
    prob = float(_prob_better(g, l))
    prob_ci = _bootstrap_ci(_prob_better, g, l, rng, "percentile")
    return {"dataset": dataset, "g": g, "l": l, "effect": effect, "ci": ci, "p": float(perm.pvalue),
            "prob": prob, "prob_ci": prob_ci}


def _seeds_needed(g: np.ndarray, l: np.ndarray, effect: float, alpha: float) -> int | None:
    """Seeds per architecture for 80% power to detect the observed effect (two-sample, log MASE)."""
    sd = np.sqrt((np.var(np.log(g), ddof=1) + np.var(np.log(l), ddof=1)) / 2)
    if not np.isfinite(sd) or abs(effect) < 1e-12:
        return None
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(0.8)
    return int(np.ceil(2 * (z * sd / effect) ** 2))


def label(effect_ci: tuple[float, float], p_holm: float, prob_ci: tuple[float, float], *,
          alpha: float, margin: float) -> str:
    lo, hi = effect_ci
    if p_holm < alpha and hi < 0 and prob_ci[0] > 0.5:
        return "gru"
    if p_holm < alpha and lo > 0 and prob_ci[1] < 0.5:
        return "lstm"
    bound = np.log1p(margin)
    if -bound < lo and hi < bound:
        return "equivalent"
    return "inconclusive"


def sentence(v: dict[str, Any], lab: str, margin: float) -> str:
    n = f"{v['n_gru']} GRU / {v['n_lstm']} LSTM seeds"
    lo, hi = v["ci_low"], v["ci_high"]
    if lab in ("gru", "lstm"):
        sign = 1 if lab == "gru" else -1  # the winner's MASE is lower by 1 - exp(∓effect)
        pct = [100 * (1 - np.exp(sign * x)) for x in (v["effect"], lo, hi)]
        return (f"{v['dataset']}: {lab.upper()} wins — test MASE {pct[0]:.1f}% lower "
                f"(95% CI {min(pct[1:]):.1f}–{max(pct[1:]):.1f}%), p = {v['p_holm']:.3g} after Holm, {n}.")
    ratio = f"GRU/LSTM test MASE ratio {np.exp(v['effect']):.3f} (95% CI {np.exp(lo):.3f}–{np.exp(hi):.3f})"
    if lab == "equivalent":
        return f"{v['dataset']}: equivalent within ±{100 * margin:g}% — {ratio}, {n}."
    more = f"; about {v['seeds_needed']} seeds each would likely decide it" if v.get("seeds_needed") else ""
    return f"{v['dataset']}: inconclusive — {ratio}, p = {v['p_holm']:.3g} after Holm, {n}{more}."


def compare_architectures(confirm: pd.DataFrame, baselines: dict[str, dict[str, float]], *, alpha: float = 0.05,
                          margin: float = 0.02, seed: int = 0) -> list[DatasetVerdict]:
    """Per-dataset verdicts from confirm-phase runs (columns dataset, arch, test_mase)."""
    raw = []
    for dataset in sorted(confirm["dataset"].unique()):
        d = confirm[confirm["dataset"] == dataset]
        g = d.loc[d["arch"] == "gru", "test_mase"].dropna().to_numpy(float)
        l = d.loc[d["arch"] == "lstm", "test_mase"].dropna().to_numpy(float)
        if len(g) < 2 or len(l) < 2:
            raise ValueError(f"{dataset}: need at least 2 finished confirm runs per architecture "
                             f"(have GRU {len(g)}, LSTM {len(l)})")
        raw.append(compare_dataset(dataset, g, l, seed=seed))
    adjusted = holm([r["p"] for r in raw])
    out = []
    for r, p_adj in zip(raw, adjusted, strict=True):
        g, l = r["g"], r["l"]
        base = baselines.get(r["dataset"], {})
        best = min(g.mean(), l.mean())
        v: dict[str, Any] = {
            "dataset": r["dataset"], "n_gru": len(g), "n_lstm": len(l), "mean_mase_gru": float(g.mean()),
            "mean_mase_lstm": float(l.mean()), "effect": r["effect"], "ci_low": r["ci"][0], "ci_high": r["ci"][1],
            "p_value": r["p"], "p_holm": p_adj, "prob_gru_better": r["prob"], "prob_ci_low": r["prob_ci"][0],
            "prob_ci_high": r["prob_ci"][1], "naive_mase": base.get("naive_mase"), "ar_mase": base.get("ar_mase"),
        }
        v["beats_naive"] = None if v["naive_mase"] is None else bool(best < v["naive_mase"])
        v["beats_ar"] = None if v["ar_mase"] is None else bool(best < v["ar_mase"])
        lab = label(r["ci"], p_adj, r["prob_ci"], alpha=alpha, margin=margin)
        v["seeds_needed"] = _seeds_needed(g, l, r["effect"], alpha) if lab == "inconclusive" else None
        v["sentence"] = sentence(v, lab, margin)
        out.append(DatasetVerdict(label=lab, **v))
    return out


def overall(verdicts: list[DatasetVerdict], *, alpha: float = 0.05, margin: float = 0.02,
            min_datasets: int = 5) -> dict[str, Any]:
    """Across datasets: paired Wilcoxon signed-rank and a Bayesian signed-rank test with a ROPE.

    Both need at least `min_datasets` datasets; with fewer, the report says why there is no overall test.
    """
    from reports.bayes import bayesian_signed_rank

    labels = sorted({v.label for v in verdicts})
    if len(verdicts) < min_datasets:
        lab = labels[0] if len(labels) == 1 else "inconclusive"
        agree = ("the overall label is that dataset's" if len(verdicts) == 1 else
                 "every dataset agrees" if len(labels) == 1 else "datasets disagree or are undecided")
        return {"label": lab, "test": None,
                "note": f"not enough datasets for an overall test ({len(verdicts)} < {min_datasets}); {agree}"}
    g = np.array([v.mean_mase_gru for v in verdicts])
    l = np.array([v.mean_mase_lstm for v in verdicts])
    p = float(stats.wilcoxon(g, l).pvalue)
    bayes = bayesian_signed_rank(np.array([v.effect for v in verdicts]), float(np.log1p(margin)))
    lab = "inconclusive" if p >= alpha else ("gru" if np.median(g - l) < 0 else "lstm")
    if lab == "inconclusive" and bayes["p_rope"] > 0.95:
        lab = "equivalent"
    return {"label": lab, "test": {"name": "wilcoxon", "p_value": p, "n_datasets": len(verdicts)},
            "bayesian_signed_rank": {"rope": float(np.log1p(margin)), **bayes},
            "note": (f"paired Wilcoxon signed-rank over {len(verdicts)} datasets, p = {p:.3g}; Bayesian signed-rank "
                     f"(ROPE ±{100 * margin:g}%): P(GRU better) {bayes['p_left']:.2f}, P(equivalent) "
                     f"{bayes['p_rope']:.2f}, P(LSTM better) {bayes['p_right']:.2f}")}


def to_dict(v: DatasetVerdict) -> dict[str, Any]:
    return asdict(v)


def mean_ci(values: np.ndarray, *, seed: int = 0) -> tuple[float, float]:
    """Bootstrap 95% percentile CI of a mean (a point when all values are equal)."""
    values = np.asarray(values, float)
    if len(values) < 2 or np.ptp(values) == 0:
        return float(values.mean()), float(values.mean())
    res = stats.bootstrap((values,), np.mean, n_resamples=N_BOOT, method="percentile",
                          random_state=np.random.default_rng(seed))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def _differing_params(d: pd.DataFrame) -> list[str]:
    from pipeline.hparams import HPARAM_TYPES

    cols = [c for c, kind in HPARAM_TYPES.items() if kind is int and c in d]
    values = {c: {arch: frozenset(g[c].dropna()) for arch, g in d.groupby("arch")} for c in cols}
    return [c for c in cols if len(set(values[c].values())) > 1]


def cost_comparison(confirm: pd.DataFrame, *, seed: int = 0) -> dict[str, Any]:
    """The seeds' "GRU is faster" claim per dataset: ratio of mean seconds per epoch, bootstrap 95% CI."""
    out: dict[str, Any] = {}
    for dataset in sorted(confirm["dataset"].unique()):
        d = confirm[confirm["dataset"] == dataset]
        g = d.loc[d["arch"] == "gru", "seconds_per_epoch"].dropna().to_numpy(float)
        l = d.loc[d["arch"] == "lstm", "seconds_per_epoch"].dropna().to_numpy(float)
        entry: dict[str, Any] = {
            "n_params_gru": float(d.loc[d["arch"] == "gru", "n_params"].mean()),
            "n_params_lstm": float(d.loc[d["arch"] == "lstm", "n_params"].mean()),
        }
        if len(g) >= 2 and len(l) >= 2:
            ratio = float(np.exp(_log_ratio(g, l)))
            lo, hi = _bootstrap_ci(_log_ratio, g, l, np.random.default_rng(seed), "percentile")
            entry |= {"spe_ratio_gru_lstm": ratio, "spe_ratio_ci": [float(np.exp(lo)), float(np.exp(hi))]}
            faster = "GRU" if hi < 0 else "LSTM" if lo > 0 else None
            differ = _differing_params(d)
            entry["differing_hyperparameters"] = differ
            entry["sentence"] = (
                f"{dataset}: seconds per epoch GRU/LSTM = {ratio:.2f} (95% CI {np.exp(lo):.2f}–{np.exp(hi):.2f}); "
                + (f"{faster} is faster per epoch" if faster else "no clear speed difference")
                + f"; parameters GRU {entry['n_params_gru']:.0f}, LSTM {entry['n_params_lstm']:.0f}. "
                + (f"The confirmed configurations also differ in {', '.join(differ)}, so this compares tuned "
                   "configurations, not the cells at equal size" if differ
                   else "Same configuration apart from the cell")
                + " (at equal hidden size GRU has 3/4 of the LSTM's recurrent weights).")
        out[dataset] = entry
    return out
