"""Is either network worth using? The better architecture's seed ensemble against every baseline on the same
test origins (the sweep's `baselines.json`), before any GRU-against-LSTM advice. Pure numpy/scipy.

The rule (README, "Usefulness"):
- The ensemble of each architecture is `pipeline.verdict.horizon.ENSEMBLE` over its confirm seeds; its test MASE is the
  mean over the dataset's series of each series' MASE. The better architecture is the one with the lower.
- The best baseline is the one with the lowest mean test MASE over the series among those present.
- The better ensemble is tested one-sided (H1: more accurate) against EVERY baseline present; it is `useful`
  only if every test rejects. That is an intersection-union test: the claim "beats all" is an intersection, and
  such a test has size at most its tests' level with no multiplicity correction. The level is alpha/2: the
  architecture tested is the better one on the same test data, and either network being useful is a union of
  two claims, so Bonferroni over the two architectures keeps the rule's false-positive rate at alpha.
- One series with at least 3 origins: Diebold-Mariano on absolute errors (`dm_over_origins`: the fixed-b HAC
  variance), one-sided. A panel (2+ series): Wilcoxon signed-rank over series of log(MASE ensemble / MASE
  baseline), one-sided (exact for small panels; its error rates against a paired t: `pipeline.dev.useful_sim`).
  One series with fewer than 3 origins: untestable, and a network is then never recommended.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from pipeline.verdict.horizon import ENSEMBLE, Paths, dm_over_origins, ensemble_mase, panel_ensemble
from pipeline.verdict.model import BASELINE_NAMES, Usefulness

MIN_ORIGINS = 3  # Diebold-Mariano needs at least this many forecasts


def baseline_paths(entry: dict[str, Any], horizon: int, ids: list[str] | None = None) -> dict[str, list[Paths]]:
    """Per baseline with forecasts on every series of a dataset (`baselines.json`'s `datasets[ds]`), one `Paths`
    per series: in the order of `ids` (a panel's series as the networks' forecasts list them) when every id is
    there, else in the artifact's order."""
    series = entry["series"]
    by_id = {str(s["id"]): s for s in series}
    if ids is not None and len(by_id) == len(series) and set(ids) == set(by_id):
        series = [by_id[i] for i in ids]
    names = set.intersection(*(set(s.get("pred", {})) for s in series)) if series else set()
    out: dict[str, list[Paths]] = {}
    for name in sorted(names):
        out[name] = [Paths(np.asarray(s["test_origins"], int),
                           np.asarray(s["pred"][name], float).reshape(len(s["test_origins"]), horizon),
                           np.asarray(s["truth"], float).reshape(len(s["test_origins"]), horizon),
                           float(s["mase_scale"]), str(s["id"])) for s in series]
    return out


def one_sided_dm(net: Paths, base: Paths) -> float:
    """p of Diebold-Mariano (absolute error, fixed-b HAC) for H1: `net` more accurate than `base`. The fixed-b
    reference is symmetric, so the one-sided p is half the two-sided one on the favoured side."""
    step = int(np.min(np.diff(net.origins))) if len(net.origins) > 1 else 1
    test = dm_over_origins(net, base, step)
    half = test["p_value"] / 2
    return float(half if test["statistic"] < 0 else 1 - half)


def one_sided_panel(net: np.ndarray, base: np.ndarray) -> float:
    """p of the Wilcoxon signed-rank test over series for H1: log(MASE net / MASE base) is below 0 (exact for up
    to 50 series without ties, the normal approximation beyond)."""
    d = np.log(np.asarray(net, float)) - np.log(np.asarray(base, float))
    if np.all(d == 0):
        return 1.0
    return float(stats.wilcoxon(d, alternative="less", zero_method="zsplit").pvalue)


def usefulness(runs: dict[str, list[list[Paths]]], baselines: dict[str, Any] | None, alpha: float,
               dataset: str) -> Usefulness:
    """The usefulness verdict of one dataset from each architecture's stored forecasts (per seed, one `Paths`
    per series) and the dataset's entry of `baselines.json` (None: a sweep from before it was logged)."""
    mase = {arch: ensemble_mase(r) for arch, r in runs.items()}
    known = {a: x for a, x in mase.items() if x is not None and np.isfinite(x)}
    base = dict(ensemble=ENSEMBLE, ensemble_mase=mase, level=alpha / 2)
    if not known:
        return Usefulness(useful="untestable", arch=None, **base,
                          sentence=f"{dataset}: no stored test forecasts, so neither network could be scored "
                                   "against the baselines; no network is recommended.")
    arch = min(known, key=lambda a: known[a])
    if baselines is None:
        return Usefulness(useful="untestable", arch=arch, **base,
                          sentence=f"{dataset}: the {arch.upper()} ensemble's test MASE is {known[arch]:#.3g}; this "
                                   "sweep logged no baselines.json, so it could not be tested against the baselines "
                                   "and no network is recommended over them.")
    net = panel_ensemble(runs[arch])
    paths = baseline_paths(baselines, net[0].horizon, [p.id for p in net])
    scores = {name: float(np.mean([p.mase() for p in ps])) for name, ps in paths.items()}
    same = all(len(ps) == len(net) and all(np.array_equal(p.origins, n.origins) for p, n in zip(ps, net, strict=True))
               for ps in paths.values())
    if not scores or not same:
        why = "no baseline has forecasts on every series" if not scores else "their test origins differ"
        return Usefulness(useful="untestable", arch=arch, baseline_mase=scores, **base,
                          sentence=f"{dataset}: the {arch.upper()} ensemble could not be tested against the "
                                   f"baselines ({why}); no network is recommended over them.")
    best = min(scores, key=lambda k: scores[k])
    facts = dict(arch=arch, best_baseline=best, baseline_mase=scores, **base)
    said = (f"the {arch.upper()} seed ensemble ({ENSEMBLE} of its seeds' forecasts) has test MASE "
            f"{known[arch]:#.3g}, the best baseline ({BASELINE_NAMES.get(best, best)}) {scores[best]:#.3g}")
    if len(net) == 1 and len(net[0].origins) < MIN_ORIGINS:
        return Usefulness(useful="untestable", **facts, sentence=(
            f"{dataset}: {said}; with {len(net[0].origins)} test origin{'s' * (len(net[0].origins) != 1)} no test "
            f"can tell them apart (at least {MIN_ORIGINS}: set `test_origins`), so no network is recommended."))
    if len(net) == 1:
        p = {name: one_sided_dm(net[0], ps[0]) for name, ps in paths.items()}
        test = "Diebold-Mariano, absolute error, fixed-b HAC variance, one-sided"
    else:
        net_mase = np.array([s.mase() for s in net])
        p = {name: one_sided_panel(net_mase, np.array([s.mase() for s in ps])) for name, ps in paths.items()}
        test = f"Wilcoxon signed-rank over {len(net)} series of log MASE ratios, one-sided"
    beaten = [k for k, x in p.items() if x < alpha / 2]
    if len(beaten) == len(p):
        return Usefulness(useful=arch, p_values=p, test=test, **facts, sentence=(
            f"{dataset}: worth using — {said}, and it beats every baseline (largest one-sided p "
            f"{max(p.values()):.3g} < {alpha / 2:g}, {test})."))
    unbeaten = sorted((k for k in p if k not in beaten), key=lambda k: scores[k])
    return Usefulness(useful=f"baseline:{best}", p_values=p, test=test, **facts, sentence=(
        f"{dataset}: use {BASELINE_NAMES.get(best, best)} — {said}; the network is not shown to beat "
        + ", ".join(f"{BASELINE_NAMES.get(k, k)} (p = {p[k]:.3g})" for k in unbeaten)
        + f" at one-sided {alpha / 2:g} ({test})."))
