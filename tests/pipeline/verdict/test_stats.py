"""The per-dataset comparison (`pipeline.verdict.stats`) and the verdict across datasets (`overall`); the
sentences that say them are the report stage's (`tests/reports/test_wording.py`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.verdict.model import Verdict
from pipeline.verdict.overall import overall
from pipeline.verdict.stats import compare_architectures
from tests.conftest import RELEASE_0_1_0


def _table(g: np.ndarray, l: np.ndarray, dataset: str = "d") -> pd.DataFrame:
    return pd.DataFrame({"dataset": dataset, "arch": ["gru"] * len(g) + ["lstm"] * len(l),
                         "test_mase": np.concatenate([g, l])})


def test_identical_inputs_give_byte_identical_verdict_json() -> None:
    rng = np.random.default_rng(1)
    t = _table(rng.lognormal(0, 0.1, 8), rng.lognormal(0, 0.1, 8))
    base = Verdict.from_json((RELEASE_0_1_0 / "verdict.json").read_text(encoding="utf-8"))  # a real one's shape
    a = base.model_copy(update={"datasets": compare_architectures(t, {})}).to_json()
    b = base.model_copy(update={"datasets": compare_architectures(t.copy(), {})}).to_json()
    assert a == b and Verdict.from_json(a).to_json() == a


def test_one_dataset_is_its_own_overall_verdict() -> None:
    rng = np.random.default_rng(3)
    verdicts = compare_architectures(_table(rng.lognormal(0, 0.1, 5), rng.lognormal(0, 0.1, 5)), {})
    result = overall(verdicts)
    assert result.test is None and result.label == verdicts[0].label
