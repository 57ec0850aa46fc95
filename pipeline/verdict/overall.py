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

    The `note` is left empty: the report stage words it (`reports.wording.overall_note`).
    """
    if len(verdicts) == 1:
        return Overall(label=verdicts[0].label, test=None, note="")
    measured = measured_datasets(verdicts)
    if len(verdicts) < MIN_DATASETS or len(measured) < MIN_DATASETS:
        return Overall(label="inconclusive", test=None, note="")
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
    return Overall(label=lab, test=test, bayesian_signed_rank=bayes, note="")


def measured_datasets(verdicts: list[DatasetVerdict]) -> list[DatasetVerdict]:
    """The verdicts whose effect has a standard error. A dataset without one (no spread between seeds, or an
    architecture with fewer than 2 finished runs) cannot be weighed: it would take all the weight (1/0) or none."""
    return [v for v in verdicts if np.isfinite(v.effect) and np.isfinite(v.se) and v.se > 0]


def random_effects(effects: np.ndarray, variances: np.ndarray) -> MetaTest:
    """Random-effects mean of per-dataset effects with the (modified) HKSJ t test and 95% interval."""
    from statsmodels.stats.meta_analysis import combine_effects  # lazy: loads statsmodels

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
