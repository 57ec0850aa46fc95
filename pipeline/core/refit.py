"""`deploy: {refit: true}`: a confirm run's network trained again, same configuration and seed, on each series'
full history (train, validation and test), for the model the hand-over registers. Pure: numpy and Keras.

The refit trains for the confirm run's own `hp.epochs` (the epochs the selection phase chose, as the confirm run's
final fit did) with nothing held out, so it has no test score of its own; the ensemble keeps the confirm runs'
test MASE and conformal half-widths (`pipeline.core.ensemble.EnsembleInfo.refit`).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence

import numpy as np

from pipeline.core.config import SplitSpec
from pipeline.core.data import Panel, Series
from pipeline.core.handover import NetworkState
from pipeline.core.scoring import Scoring
from pipeline.core.training import fit_and_score


def refit_network(state_json: str, seed: int, histories: Sequence[tuple[str, Sequence[float]]],
                  split: SplitSpec) -> tuple[str, bytes]:
    """Train the network `state_json` describes again, with `seed`, on every value of `histories` (id, values:
    each series as the sweep had it, in the state's order). `split`: the sweep's, which only places the origins
    nothing is scored at. Returns the new network's state JSON and weights (`.npz`), as a confirm run keeps them."""
    state = NetworkState.model_validate_json(state_json)
    if state.past or state.future:  # `histories` carry none: the fit would quietly drop the network's covariates
        raise ValueError(f"refit: the network reads covariates ({', '.join(state.past + state.future)}), which the "
                         "hand-over does not keep to refit on")
    known = [s.id for s in state.series]
    if [sid for sid, _ in histories] != known:
        raise ValueError(f"refit: the series {[sid for sid, _ in histories]} are not the network's {known}")
    panel = Panel(tuple(Series.of(sid, np.asarray(values, float)) for sid, values in histories))
    # scored as the network was (its season and horizon); the origins are the defaults, as nothing is scored
    scoring = Scoring(split=split, season=state.series[0].season, horizon=state.horizon,
                      covariate_names=(tuple(state.past), tuple(state.future)))
    result = fit_and_score(state.hp, panel, scoring, seed=seed, evaluate_test=False, keep_model=True, fit_all=True)
    kept = result.model
    if kept is None or "weights" not in kept:
        raise ValueError(f"refit: the network was not kept ({(kept or {}).get('skipped', 'no model')})")
    return json.dumps(kept["state"]), base64.b64decode(kept["weights"])
