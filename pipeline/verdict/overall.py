"""The verdict across datasets, on the per-dataset scale (mean log MASE, GRU - LSTM). Pure numpy/scipy/statsmodels.

Why a random-effects meta-analysis and not a rank test over datasets: with five datasets a two-sided
Wilcoxon or sign-flip test cannot go below p = 0.0625, so five datasets that all favour one architecture
could never name it; the meta-analysis also uses how precisely each dataset measured its effect.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from pipeline.core.config import ReportSpec
from pipeline.verdict.bayes import bayesian_signed_rank
from pipeline.verdict.model import WINNERS, DatasetVerdict, Label, MetaTest, Overall, SignedRank
from pipeline.verdict.stats import DEFAULT_RULES

MIN_DATASETS = 3  # the across-dataset test has m - 1 degrees of freedom


def overall(verdicts: list[DatasetVerdict], rules: ReportSpec = DEFAULT_RULES) -> Overall:
    """Across datasets: is one architecture better on average over datasets, on the same log scale?

    A random-effects meta-analysis of the per-dataset effects (Paule-Mandel between-dataset variance,
    Hartung-Knapp-Sidik-Jonkman t test with m - 1 degrees of freedom, never narrower than the plain
    random-effects interval), from `MIN_DATASETS` datasets; with one dataset the overall verdict is that
    dataset's; with two there is no overall test and no overall winner. Beside it, the Bayesian signed-rank
    test (Benavoli et al. 2017, reference implementation `baycomp`, prior weight 0.5) with the margin as ROPE.
    """
    m = len(verdicts)
    if m == 1:
        return Overall(label=verdicts[0].label, test=None, note="one dataset: the overall verdict is that dataset's")
    if m < MIN_DATASETS:
        return Overall(label="inconclusive", test=None, note=f"not enough datasets for an overall test ({m} < "
                                                             f"{MIN_DATASETS}); see each dataset's verdict")
    # a dataset whose effect has no standard error (no spread between seeds, or an architecture with fewer than
    # 2 finished runs) cannot be weighed: it would take all the weight (1/0) or none
    measured = [v for v in verdicts if np.isfinite(v.effect) and np.isfinite(v.se) and v.se > 0]
    if len(measured) < MIN_DATASETS:
        return Overall(label="inconclusive", test=None,
                       note=f"{len(measured)} of {m} datasets have an effect with a standard error (the others: no "
                            f"spread between seeds, or too few finished runs), fewer than the {MIN_DATASETS} an "
                            "overall test needs; see each dataset's verdict")
    left_out = "" if len(measured) == m else f"; {m - len(measured)} dataset(s) without a standard error left out"
    m = len(measured)
    effects = np.array([v.effect for v in measured])
    variances = np.array([v.se**2 for v in measured])
    test = random_effects(effects, variances)
    margin = rules.equivalence_margin
    bound = float(np.log1p(margin))
    lab: Label
    if test.ci_low > -bound and test.ci_high < bound:
        lab = "equivalent"
    elif test.p_value < rules.alpha and abs(test.effect) > bound:  # the per-dataset rule: never a win inside
        lab = WINNERS[0] if test.effect < 0 else WINNERS[1]
    else:
        lab = "inconclusive"
    bayes = SignedRank(rope=bound, **bayesian_signed_rank(effects, bound))
    return Overall(label=lab, test=test, bayesian_signed_rank=bayes,
                   note=(f"random-effects meta-analysis over {m} datasets (HKSJ): geometric-mean MASE ratio GRU/LSTM "
                         f"{np.exp(test.effect):.3f} (95% CI {np.exp(test.ci_low):.3f}–{np.exp(test.ci_high):.3f})"
                         f", p = {test.p_value:.3g}; Bayesian signed-rank (ROPE ±{100 * margin:g}%): P(GRU better) "
                         f"{bayes.p_left:.2f}, P(equivalent) {bayes.p_rope:.2f}, P(LSTM better) {bayes.p_right:.2f}"
                         f"{left_out}"))


def random_effects(effects: np.ndarray, variances: np.ndarray) -> MetaTest:
    """Random-effects mean of per-dataset effects with the (modified) HKSJ t test and 95% interval."""
    from statsmodels.stats.meta_analysis import combine_effects

    with np.errstate(divide="ignore", invalid="ignore"):  # identical effects: statsmodels' unused I² is 1 - 1/0
        res = combine_effects(effects, variances, method_re="iterated", use_t=True)
    m = len(effects)
    se = float(max(res.sd_eff_w_re_hksj, np.sqrt(res.var_eff_w_re)))  # modified HKSJ: never below plain RE
    mean = float(res.mean_effect_re)
    q = stats.t.ppf(0.975, m - 1)
    return MetaTest(name="random-effects HKSJ", effect=mean, se=se, df=float(m - 1), ci_low=mean - q * se,
                    ci_high=mean + q * se,
                    p_value=float(2 * stats.t.sf(abs(mean / se), m - 1)) if se > 0 else float(mean == 0),
                    tau2=float(res.tau2), n_datasets=float(m))
