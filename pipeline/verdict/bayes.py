"""Bayesian signed-rank test with a region of practical equivalence (Benavoli et al. 2017, JMLR 18), from
`baycomp`, the authors' reference implementation (prior weight 0.5 on the pseudo-observation at 0).

Across datasets: is one architecture practically better, or are they practically equivalent?
"""

from __future__ import annotations

import numpy as np


def bayesian_signed_rank(diffs: np.ndarray, rope: float, *, samples: int = 20000, seed: int = 0) -> dict[str, float]:
    """Posterior probabilities that the differences lie left of, inside, or right of the ROPE.

    Args:
        diffs: one difference per dataset (here: mean log MASE GRU - LSTM; negative favours GRU).
        rope: half-width of the region of practical equivalence, in the units of `diffs`.
        samples: Dirichlet-process posterior samples.

    Returns:
        `p_left` (GRU practically better), `p_rope` (practically equivalent), `p_right` (LSTM better): the
        share of posterior samples in which that region is the most probable.
    """
    from baycomp import SignedRankTest  # lazy: loads baycomp

    d = np.asarray(diffs, float)
    p_left, p_rope, p_right = SignedRankTest.probs(np.zeros_like(d), d, rope=rope, prior=0.5, nsamples=samples,
                                                   random_state=seed)
    return {"p_left": float(p_left), "p_rope": float(p_rope), "p_right": float(p_right)}
