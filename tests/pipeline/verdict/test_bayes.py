"""The Bayesian signed-rank test across datasets (`pipeline.verdict.bayes`)."""

from __future__ import annotations

import numpy as np

from pipeline.verdict.bayes import bayesian_signed_rank


def test_bayesian_signed_rank_sides_and_rope() -> None:
    assert bayesian_signed_rank(np.full(8, -0.3), rope=0.02)["p_left"] > 0.95
    assert bayesian_signed_rank(np.full(8, 0.3), rope=0.02)["p_right"] > 0.95
    assert bayesian_signed_rank(np.linspace(-0.005, 0.005, 8), rope=0.02)["p_rope"] > 0.95
