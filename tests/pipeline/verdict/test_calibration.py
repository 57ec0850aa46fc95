"""The verdict's error rates, measured by simulation (no training): statistics tested like code.

Seed tables are simulated on the log scale (log-normal seed noise, as trained networks' test MASE
behaves): the noise settings are sd 0.1, sd 0.3, heavy-tailed (sd 0.1 plus a 10% chance that a seed
lands 3x worse) and unequal (GRU sd 0.05, LSTM sd 0.3). The rule is vectorised (`welch` + `decide`), so
the whole grid runs in about a second; `GRID_SIMS` sets its size (400 here; the README's table used 4000,
`GATESWEEP_CALIBRATION_SIMS=4000 pytest tests/pipeline/verdict/test_calibration.py -s` prints it).
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from pipeline.core.config import ReportSpec
from pipeline.verdict.overall import overall
from pipeline.verdict.stats import compare_architectures, decide, holm, seeds_for_equivalence, seeds_needed, welch

GRID_SIMS = int(os.environ.get("GATESWEEP_CALIBRATION_SIMS", "400"))
NOISES = ("sd0.1", "sd0.3", "heavy", "unequal")
SEEDS = (3, 5, 10, 20)
RULES = ReportSpec()


def _draw(rng: np.random.Generator, noise: str, arm: str, mu: float, n: int, sims: int) -> np.ndarray:
    """Log test MASE of `n` seeds, `sims` times."""
    if noise == "heavy":
        return mu + rng.normal(0, 0.1, (sims, n)) + np.log(3) * (rng.random((sims, n)) < 0.1)
    sd = {"sd0.1": 0.1, "sd0.3": 0.3, "unequal": 0.05 if arm == "gru" else 0.3, "tiny": 0.01}[noise]
    return mu + rng.normal(0, sd, (sims, n))


def _rule(g: np.ndarray, l: np.ndarray, rules: ReportSpec = RULES) -> tuple[np.ndarray, np.ndarray, object]:
    """The per-dataset decision on one dataset, vectorised over simulations (Holm is the identity for one)."""
    w = welch(g, l, np.log1p(rules.equivalence_margin))
    labels, reasons = decide(w, w.p, w.p_equiv, min(g.shape[-1], l.shape[-1]), alpha=rules.alpha,
                             margin=rules.equivalence_margin, min_seeds=rules.min_seeds)
    return labels, reasons, w


def _mc_limit(rate: float, sims: int) -> float:
    return rate + 2 * np.sqrt(rate * (1 - rate) / sims)


def grid(sims: int, seed: int = 0) -> dict[tuple[str, int], dict[str, float]]:
    """Winners and interval coverage with no true difference, for every noise and seed count."""
    rng = np.random.default_rng(seed)
    out = {}
    for noise in NOISES:
        for n in SEEDS:
            g, l = _draw(rng, noise, "gru", 0.0, n, sims), _draw(rng, noise, "lstm", 0.0, n, sims)
            labels, _, w = _rule(g, l)
            raw = RULES.alpha > w.p  # Welch alone, without the minimum-seeds rule
            out[(noise, n)] = {"winners": float(np.isin(labels, ["gru", "lstm"]).mean()),
                               "welch_rejects": float(raw.mean()),
                               "coverage": float(((w.ci_low <= 0) & (0 <= w.ci_high)).mean())}
    return out


@pytest.fixture(scope="module")
def null_grid() -> dict[tuple[str, int], dict[str, float]]:
    return grid(GRID_SIMS)


def test_no_true_difference_names_a_winner_at_most_five_percent_in_every_cell(null_grid: dict) -> None:
    for cell, r in null_grid.items():
        assert r["winners"] <= _mc_limit(0.05, GRID_SIMS), (cell, r)


def test_intervals_cover_at_ten_and_twenty_seeds_in_every_noise_setting(null_grid: dict) -> None:
    for (noise, n), r in null_grid.items():
        if n >= 10:
            assert r["coverage"] >= 0.93, (noise, n, r)


def test_too_few_seeds_is_inconclusive_with_its_reason() -> None:
    rng = np.random.default_rng(1)
    g, l = _draw(rng, "sd0.1", "gru", np.log(0.5), 3, 50), _draw(rng, "sd0.1", "lstm", 0.0, 3, 50)
    labels, reasons, w = _rule(g, l)
    assert (w.p < 0.05).mean() > 0.9  # Welch alone would crown GRU here
    assert set(labels) == {"inconclusive"} and set(reasons) == {"too few seeds"}


def test_ten_percent_effect_is_found_as_often_as_welch_alone_and_never_reversed() -> None:
    rng = np.random.default_rng(2)
    sims = max(GRID_SIMS, 400)
    for noise, floor, wrong in (("sd0.1", 0.85, 0.0), ("sd0.3", 0.0, 0.01)):
        g, l = _draw(rng, noise, "gru", np.log(0.9), 20, sims), _draw(rng, noise, "lstm", 0.0, 20, sims)
        labels, _, w = _rule(g, l)
        power, welch_power = (labels == "gru").mean(), ((w.p < 0.05) & (w.effect < 0)).mean()
        assert power >= floor and (labels == "lstm").mean() <= wrong, (noise, power)
        assert power >= welch_power - 0.03, (noise, power, welch_power)


def test_a_true_difference_at_the_margin_is_rarely_called_equivalent() -> None:
    """Seed noise (sd 0.01) small enough that the interval can fit inside the ±2% margin."""
    rng = np.random.default_rng(3)
    sims = max(GRID_SIMS, 1000)
    for n in (2, 5, 10, 20):
        g = _draw(rng, "tiny", "gru", np.log1p(RULES.equivalence_margin), n, sims)
        l = _draw(rng, "tiny", "lstm", 0.0, n, sims)
        labels, _, _ = _rule(g, l)
        assert (labels == "equivalent").mean() <= _mc_limit(0.025, sims), n


def test_a_significant_but_negligible_difference_is_never_a_win() -> None:
    """1% apart, almost no seed noise, 20 seeds: the difference is real and inside the 2% margin.

    A win needs an estimate beyond the margin, which here takes a 3-sigma error: 0.1% of 4000 simulations;
    none of these 400. The rest is `equivalent` (about 85%) or, when the interval reaches past the
    margin, `inconclusive` with the reason "negligible"."""
    rng = np.random.default_rng(4)
    g, l = _draw(rng, "tiny", "gru", np.log(0.99), 20, 400), _draw(rng, "tiny", "lstm", 0.0, 20, 400)
    labels, reasons, w = _rule(g, l)
    assert (w.p < 0.05).mean() > 0.8 and not np.isin(labels, ["gru", "lstm"]).any()
    assert (labels == "equivalent").mean() > 0.8 and set(reasons) == {"equivalent", "negligible"}


def test_seeds_needed_really_gives_about_eighty_percent_power() -> None:
    """Ask for the seeds that detect a 5% difference, then simulate the whole rule with that many."""
    rng = np.random.default_rng(5)
    for sd_g, sd_l in ((0.05, 0.05), (0.1, 0.1), (0.05, 0.3)):
        n = seeds_needed(sd_g, sd_l, effect=-np.log(0.95), alpha=0.05, min_seeds=5)
        assert n is not None
        g = np.log(0.95) + rng.normal(0, sd_g, (2000, n))
        l = rng.normal(0, sd_l, (2000, n))
        labels, _, _ = _rule(g, l)
        assert 0.70 <= (labels == "gru").mean() <= 0.90, (sd_g, sd_l, n, (labels == "gru").mean())


def test_seeds_for_equivalence_really_give_about_eighty_percent_power() -> None:
    """Ask for the seeds that show a difference inside the ±2% margin, then simulate the whole rule with that
    many: `equivalent` about 80% of the time (the elec_equip CSV's spread and estimate among the cases)."""
    rng = np.random.default_rng(7)
    bound = float(np.log1p(0.02))
    for sd_g, sd_l, effect in ((0.0189, 0.0212, -0.0126), (0.02, 0.02, 0.0), (0.01, 0.03, 0.008)):
        n = seeds_for_equivalence(sd_g, sd_l, effect=effect, bound=bound, alpha=0.05, min_seeds=2)
        assert n is not None and n < 1000
        g = effect + rng.normal(0, sd_g, (2000, n))
        l = rng.normal(0, sd_l, (2000, n))
        labels, _, _ = _rule(g, l)
        assert 0.72 <= (labels == "equivalent").mean() <= 0.88, (sd_g, sd_l, effect, n, (labels == "equivalent").mean())
    assert seeds_for_equivalence(0.02, 0.02, effect=0.03, bound=bound, alpha=0.05, min_seeds=2) is None


def _table(g: np.ndarray, l: np.ndarray, dataset: str = "d") -> pd.DataFrame:
    return pd.DataFrame({"dataset": dataset, "arch": ["gru"] * len(g) + ["lstm"] * len(l),
                         "test_mase": np.concatenate([g, l])})


def test_five_datasets_each_favouring_gru_by_thirty_percent_name_gru_overall() -> None:
    rng = np.random.default_rng(7)
    tables = [_table(0.7 * np.exp(rng.normal(0, 0.3, 10)), np.exp(rng.normal(0, 0.3, 10)), f"d{i}") for i in range(5)]
    verdicts = compare_architectures(pd.concat(tables), {})
    result = overall(verdicts)
    assert result.label == "gru" and result.test is not None
    assert result.test.p_value < 0.05 and result.test.n_datasets == 5


def test_holm_adjusts_along_the_last_axis() -> None:
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    np.testing.assert_allclose(holm(np.array([[0.01, 0.04, 0.03], [0.5, 0.01, 0.02]])),
                               [[0.03, 0.06, 0.06], [0.5, 0.03, 0.04]])


if __name__ == "__main__" or os.environ.get("GATESWEEP_CALIBRATION_PRINT"):
    for (noise, n), r in grid(GRID_SIMS).items():
        print(f"{noise:8} {n:3d}  winners {r['winners']:.3f}  Welch alone {r['welch_rejects']:.3f}  "
              f"coverage {r['coverage']:.3f}")


def test_an_overall_difference_estimated_inside_the_margin_is_never_an_overall_win() -> None:
    """Five datasets, LSTM better by about 1% on each, tightly measured: significant, but negligible."""
    rng = np.random.default_rng(9)
    tables = [_table(1.01 * np.exp(rng.normal(0, 0.01, 10)), np.exp(rng.normal(0, 0.01, 10)), f"d{i}")
              for i in range(5)]
    result = overall(compare_architectures(pd.concat(tables), {}))
    assert result.test is not None and result.test.p_value < 0.05 and result.label in ("equivalent", "inconclusive")
