"""Sequential confirm seeds, measured by simulation like the fixed design (test_calibration.py, beside this file).

The design is the default one (5 seeds, rounds of 5, at most 40 per architecture) with the default rules
(alpha 0.05, margin 2%, smallest effect 5%). `GATESWEEP_CALIBRATION_SIMS` sets the simulations per cell (600
here, about 20 s; the README's table used 4000: `GATESWEEP_CALIBRATION_SIMS=4000 pytest
tests/pipeline/verdict/test_sequential.py -s -k grid` prints it).
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from pipeline.core.config import ConfirmSpec, ReportSpec
from pipeline.verdict.sequential import Design, looks_from, nominal_levels, replay, run
from pipeline.verdict.stats import compare_architectures, decide, holm, welch

SIMS = int(os.environ.get("GATESWEEP_CALIBRATION_SIMS", "600"))
RULES = ReportSpec()
DESIGN = Design.of(ConfirmSpec())
BOUND = float(np.log1p(RULES.equivalence_margin))
SMALLEST = float(-np.log1p(-RULES.smallest_effect))  # the effect "seeds needed" is sized for, log scale
NOISES = ("equal", "unequal", "heavy")


def _noise(rng: np.random.Generator, noise: str, arm: str, shape: tuple[int, ...], sd: float) -> np.ndarray:
    if noise == "heavy":  # a seed lands 3x worse one time in ten
        return rng.normal(0, sd, shape) + np.log(3) * (rng.random(shape) < 0.1)
    if noise == "unequal":
        return rng.normal(0, 0.05 if arm == "gru" else 0.3, shape)
    return rng.normal(0, sd, shape)


def _sd_for_power(n: int, power: float) -> float:
    """The seed sd (both arms) at which the fixed design's Welch test at `n` seeds has `power` for SMALLEST."""
    def at(sd: float) -> float:
        se, df = sd * np.sqrt(2 / n), 2 * (n - 1)
        q = stats.t.isf(RULES.alpha / 2, df)
        return float(stats.nct.sf(q, df, SMALLEST / se))
    lo, hi = 1e-3, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if at(mid) > power else (lo, mid)
    return lo


SD85 = _sd_for_power(DESIGN.max_seeds, 0.85)


def simulate(effect: float, noise: str, datasets: int, sims: int, *, sd: float = 0.3, seed: int = 0,
             design: Design = DESIGN) -> dict[str, float]:
    """Every dataset with the same true effect (log GRU - log LSTM); rates over all simulations."""
    rng = np.random.default_rng(seed)
    shape = (sims, datasets, design.max_seeds)
    g = effect + _noise(rng, noise, "gru", shape, sd)
    l = _noise(rng, noise, "lstm", shape, sd)
    out = run(looks_from(g, l, design, BOUND), design, RULES)
    winners = np.isin(out.label, ["gru", "lstm"])
    seeds = np.asarray(design.looks)[out.look]
    right = "gru" if effect < 0 else "lstm"
    return {"any_winner": float(winners.any(axis=-1).mean()),
            "right": float((out.label == right).mean()), "equivalent": float((out.label == "equivalent").mean()),
            "mean_seeds": float(seeds.mean()), "futility": float((out.stop == "futility").mean()),
            "open": float((out.stop == "").mean())}


def test_one_look_spends_the_whole_level_and_more_looks_spend_less_each() -> None:
    assert nominal_levels((1.0,), 0.05, True)[0] == pytest.approx(0.05)
    levels = nominal_levels(DESIGN.fractions(), 0.05, True)
    assert np.all(np.diff(levels) > 0) and levels[-1] < 0.05 and levels[0] < 1e-4
    # the one-sided design against gsDesign's sfLDOF at one-sided 0.025, 3 equally spaced looks: 3.7103,
    # 2.5114, 1.9930 (the upper bounds of gsDesign(k=3, test.type=1, sfu=sfLDOF))
    z = stats.norm.isf(nominal_levels((1 / 3, 2 / 3, 1.0), 0.025, False))
    np.testing.assert_allclose(z, [3.7103, 2.5114, 1.9930], atol=2e-3)


def test_the_two_sided_boundaries_spend_what_they_promise_on_simulated_brownian_motion() -> None:
    """Monte Carlo, independent of the numerical integration: the chance to cross first at each look."""
    fractions = (0.25, 0.5, 0.75, 1.0)
    z = stats.norm.isf(nominal_levels(fractions, 0.05, True) / 2)
    rng = np.random.default_rng(5)
    steps = rng.normal(0, 1, (400_000, 4)) * np.sqrt(np.diff(np.concatenate([[0.0], fractions])))
    zs = np.abs(np.cumsum(steps, axis=1)) / np.sqrt(fractions)
    crossed = zs >= z
    first = np.where(crossed.any(axis=1), crossed.argmax(axis=1), -1)
    spent = 2 - 2 * stats.norm.cdf(1.959964 / np.sqrt(fractions))
    np.testing.assert_allclose([(first == k).mean() for k in range(4)], np.diff(np.concatenate([[0.0], spent])),
                               atol=4e-4)


@pytest.mark.parametrize("datasets", [1, 3])
def test_max_seeds_equal_to_seeds_gives_the_fixed_design_labels_on_the_same_runs(datasets: int) -> None:
    """`run` with one look against today's rule (Welch, Holm-adjusted p-values, `decide`)."""
    rng = np.random.default_rng(datasets)
    fixed = Design(5, 5, 5)
    for effect in (0.0, -0.05, -0.2, 0.01):
        g = effect + rng.normal(0, 0.1, (SIMS, datasets, 5))
        l = rng.normal(0, 0.1, (SIMS, datasets, 5))
        seq = run(looks_from(g, l, fixed, BOUND), fixed, RULES)
        w = welch(g, l, BOUND)
        p = holm(np.where(np.isfinite(w.p), w.p, 1.0))
        pe = holm(np.where(np.isfinite(w.p_equiv), w.p_equiv, 1.0))
        labels, reasons = decide(w, p, pe, 5, alpha=RULES.alpha, margin=RULES.equivalence_margin,
                                 min_seeds=RULES.min_seeds)
        np.testing.assert_array_equal(seq.label, labels)
        np.testing.assert_array_equal(seq.reason, reasons)
        assert set(seq.stop.ravel()) == {"fixed"}
        np.testing.assert_allclose(seq.ci_low, w.ci_low)


def _runs(rng: np.random.Generator, effects: dict[str, float], rounds: int, design: Design) -> pd.DataFrame:
    rows = []
    for ds, effect in effects.items():
        for k, n in enumerate(design.looks[:rounds]):
            start = design.looks[k - 1] if k else 0
            for arch, mu in (("gru", effect), ("lstm", 0.0)):
                rows += [{"dataset": ds, "arch": arch, "round": k + 1,
                          "test_mase": float(np.exp(mu + rng.normal(0, 0.1)))} for _ in range(n - start)]
    return pd.DataFrame(rows)


def test_replay_on_runs_matches_the_vectorised_procedure_and_the_fixed_report() -> None:
    rng = np.random.default_rng(3)
    runs = _runs(rng, {"a": -0.3, "b": 0.0, "c": 0.02}, 1, Design(5, 5, 5))
    fixed = compare_architectures(runs.drop(columns="round"), {}, RULES)
    one = replay(runs, Design(5, 5, 5), RULES)
    assert [one.of(v.dataset)["label"] for v in fixed] == [v.label for v in fixed]
    assert [one.of(v.dataset)["reason"] for v in fixed] == [v.reason for v in fixed]
    # several rounds: a dataset with a large effect stops at its first look, the others go on
    three = Design(5, 5, 15)
    runs = _runs(rng, {"a": -1.0, "b": 0.0}, 1, three)
    r = replay(runs, three, RULES)
    assert r.of("a")["stop"] == "decided" and r.of("a")["label"] == "gru"
    assert r.open_datasets() == ["b"]
    more = pd.concat([runs, _runs(rng, {"b": 0.0}, 3, three).query("round > 1")])
    r = replay(more, three, RULES)
    assert r.of("a")["look"] == 0 and r.of("a")["label"] == "gru"  # stopped datasets stay as they were
    assert [step["n_gru"] for step in r.of("b")["path"]] == [5, 10, 15]
    assert r.of("b")["stop"] in ("max_seeds", "decided", "futility") and r.open_datasets() == []


def test_the_calibration_grid_meets_every_target(capsys: pytest.CaptureFixture[str]) -> None:
    """The issue's grid, each cell against its target (Monte Carlo allowance 2 standard errors); with -s it
    prints the table the README shows."""
    rows = []
    for noise in NOISES:
        for m in (1, 3, 5):
            r = simulate(0.0, noise, m, SIMS, sd=0.1, seed=100 + m)
            rows.append(("no difference", noise, m, "winner named (family)", r["any_winner"], "<=", 0.05,
                         r["mean_seeds"]))
        r = simulate(BOUND, noise, 1, SIMS, sd=0.01, seed=200)  # equivalence is reachable at this spread
        rows.append(("difference at the margin", noise, 1, "equivalent", r["equivalent"], "<=", 0.025, r["mean_seeds"]))
    for mult, target in ((1, 0.80), (2, 0.90)):
        r = simulate(-mult * SMALLEST, "equal", 1, SIMS, sd=SD85, seed=300 + mult)
        rows.append((f"{mult}x smallest effect, sd {SD85:.3f}", "equal", 1, "right winner", r["right"], ">=", target,
                     r["mean_seeds"]))
        if mult == 2:
            rows.append((f"{mult}x smallest effect, sd {SD85:.3f}", "equal", 1, "mean seeds / max_seeds",
                         r["mean_seeds"] / DESIGN.max_seeds, "<=", 0.5, r["mean_seeds"]))
    with capsys.disabled():
        print(f"\n{SIMS} simulations a cell; seeds per architecture at each look {DESIGN.looks}")
        print("| case | seed noise | datasets | measured | rate | target | mean seeds used |")
        for case, noise, m, what, rate, op, target, seeds in rows:
            print(f"| {case} | {noise} | {m} | {what} | {rate:.4f} | {op} {target} | {seeds:.1f} |")
    for case, noise, m, what, rate, op, target, _ in rows:
        slack = 2 * np.sqrt(target * (1 - target) / SIMS) if what != "mean seeds / max_seeds" else 0.0
        ok = rate <= target + slack if op == "<=" else rate >= target - slack
        assert ok, (case, noise, m, what, rate, op, target)
