from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reports.render import verdict_json
from reports.stats import compare_architectures, holm, label, overall, to_dict


def _table(g: np.ndarray, l: np.ndarray, dataset: str = "d") -> pd.DataFrame:
    return pd.DataFrame({"dataset": dataset, "arch": ["gru"] * len(g) + ["lstm"] * len(l),
                         "test_mase": np.concatenate([g, l])})


def test_holm_matches_the_textbook_example() -> None:
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])


def test_labels() -> None:
    assert label((-0.2, -0.1), 0.01, (0.7, 0.9), alpha=0.05, margin=0.02) == "gru"
    assert label((0.1, 0.2), 0.01, (0.1, 0.3), alpha=0.05, margin=0.02) == "lstm"
    assert label((-0.01, 0.01), 0.5, (0.4, 0.6), alpha=0.05, margin=0.02) == "equivalent"
    assert label((-0.1, 0.1), 0.5, (0.3, 0.7), alpha=0.05, margin=0.02) == "inconclusive"
    # significant but the probability of superiority is not convincingly above 1/2: no winner
    assert label((-0.2, -0.1), 0.01, (0.45, 0.9), alpha=0.05, margin=0.02) == "inconclusive"


def test_clear_lstm_win_is_named_with_a_plain_sentence() -> None:
    rng = np.random.default_rng(0)
    g = 1.2 * np.exp(rng.normal(0, 0.05, 20))
    l = 1.0 * np.exp(rng.normal(0, 0.05, 20))
    (v,) = compare_architectures(_table(g, l), {"d": {"naive_mase": 2.0, "ar_mase": 1.5}})
    assert v.label == "lstm" and v.ci_low > 0
    assert v.sentence.startswith("d: LSTM wins — test MASE") and "20 GRU / 20 LSTM seeds" in v.sentence
    assert v.beats_naive and v.beats_ar


def test_identical_inputs_give_byte_identical_verdict_json() -> None:
    rng = np.random.default_rng(1)
    t = _table(rng.lognormal(0, 0.1, 8), rng.lognormal(0, 0.1, 8))
    a = verdict_json({"datasets": [to_dict(v) for v in compare_architectures(t, {})]})
    b = verdict_json({"datasets": [to_dict(v) for v in compare_architectures(t.copy(), {})]})
    assert a == b


def test_too_few_runs_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least 2 finished confirm runs"):
        compare_architectures(_table(np.array([1.0]), np.array([1.0, 2.0])), {})


def test_overall_says_why_there_is_no_overall_test() -> None:
    rng = np.random.default_rng(3)
    verdicts = compare_architectures(_table(rng.lognormal(0, 0.1, 5), rng.lognormal(0, 0.1, 5)), {})
    result = overall(verdicts)
    assert result["test"] is None and "not enough datasets" in result["note"]
