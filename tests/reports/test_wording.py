"""The verdict in words (`reports.wording`): each dataset's sentence and the note across datasets, on verdicts the
pure statistics (`pipeline.verdict`) computed from simulated seeds."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.core.config import ReportSpec
from pipeline.verdict.model import Verdict
from pipeline.verdict.stats import compare_architectures
from reports.wording import worded, worded_overall
from tests.reports.verdicts import stored_verdict


def _table(g: np.ndarray, l: np.ndarray, dataset: str = "d") -> pd.DataFrame:
    return pd.DataFrame({"dataset": dataset, "arch": ["gru"] * len(g) + ["lstm"] * len(l),
                         "test_mase": np.concatenate([g, l])})


def test_clear_lstm_win_is_named_with_a_plain_sentence() -> None:
    rng = np.random.default_rng(0)
    g = 1.2 * np.exp(rng.normal(0, 0.05, 20))
    l = 1.0 * np.exp(rng.normal(0, 0.05, 20))
    (v,) = worded(compare_architectures(_table(g, l), {"d": {"naive_mase": 2.0, "ar_mase": 1.5}}), ReportSpec())
    assert v.label == "lstm" and v.ci_low > 0
    assert v.sentence.startswith("d: LSTM wins — geometric-mean test MASE") and "20 GRU / 20 LSTM seeds" in v.sentence
    lower = 100 * (1 - np.exp(-v.effect))  # LSTM's geometric-mean MASE below GRU's
    assert f"{lower:.1f}% lower" in v.sentence and 10 < lower < 25
    assert v.beats_naive and v.beats_ar


def test_an_architecture_with_fewer_than_two_finished_runs_is_too_few_seeds_with_its_statistics_null() -> None:
    """It was an error that ended the report; a verdict that says so serves better (schema 4)."""
    (v,) = worded(compare_architectures(_table(np.array([1.0]), np.array([1.0, 2.0])), {}), ReportSpec())
    assert (v.label, v.reason, v.n_gru, v.n_lstm) == ("inconclusive", "too few seeds", 1, 2)
    assert np.isnan(v.se) and np.isnan(v.ci_low) and v.seeds_needed is None
    assert "95% CI not defined: fewer than 2 seeds in an architecture" in v.sentence
    (none,) = worded(compare_architectures(_table(np.array([1.0, 1.2, 0.9]), np.array([])), {}), ReportSpec())
    assert none.n_lstm == 0 and np.isnan(none.effect) and "ratio not defined" in none.sentence
    assert Verdict.from_json(stored_verdict().model_copy(update={"datasets": [v, none]}).to_json()).datasets[1] \
        .n_lstm == 0


def test_identical_seeds_are_not_equivalent_with_a_zero_width_interval() -> None:
    (v,) = worded(compare_architectures(_table(np.full(5, 0.5), np.full(5, 0.5)), {}), ReportSpec())
    assert v.label == "inconclusive" and v.reason == "no spread" and "same MASE" in v.sentence


def test_seeds_needed_from_an_inconclusive_run_is_sized_for_the_stated_effect() -> None:
    rng = np.random.default_rng(6)
    g, l = np.exp(rng.normal(0, 0.1, 5)), np.exp(rng.normal(0, 0.1, 5))
    (v,) = worded(compare_architectures(_table(g, l), {}), ReportSpec())
    assert v.label == "inconclusive" and v.seeds_needed is not None and v.seeds_needed >= 5
    assert "would detect a 5% difference with 80% power" in v.sentence


def test_two_datasets_have_no_overall_winner_without_a_test() -> None:
    rng = np.random.default_rng(8)
    tables = [_table(0.5 * np.exp(rng.normal(0, 0.1, 10)), np.exp(rng.normal(0, 0.1, 10)), f"d{i}") for i in range(2)]
    verdicts = compare_architectures(pd.concat(tables), {})
    assert [v.label for v in verdicts] == ["gru", "gru"]
    result = worded_overall(verdicts, ReportSpec())
    assert result.label == "inconclusive" and result.test is None and "not enough datasets" in result.note
