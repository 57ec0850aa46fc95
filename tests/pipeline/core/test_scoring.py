"""`Scoring`: how a dataset is scored, built once from the sweep file and handed to the networks and the baselines
alike."""

from __future__ import annotations

import numpy as np
import pydantic
import pytest

from pipeline.core.config import SplitSpec, SweepSpec
from pipeline.core.data import load_datasets
from pipeline.core.hparams import HParams
from pipeline.core.metrics import baselines
from pipeline.core.scoring import Scoring
from pipeline.core.training import fit_and_score

OWN = {"name": "own", "source": "damped_oscillation", "points": 120, "noise": 0.05, "season": 12, "horizon": 3,
       "origin_step": 2, "test_origins": 4, "split": {"validation": 15, "test": 15}}
SPEC = SweepSpec.model_validate({
    "name": "s", "split": {"train": 0.6, "validation": 0.2, "test": 0.2},
    "datasets": [OWN, {"name": "plain", "source": "damped_oscillation"},
                 {"name": "macro", "source": "us_macro", "series": ["realgdp"], "past_covariates": ["infl"],
                  "future_covariates": ["quarter"], "search_space": {"strategy": "direct"}}],
    "evaluation": {"patience": 2, "closed_loop_horizon": 5, "final_fit": "train"}})


def test_a_dataset_with_its_own_split_and_origins_is_scored_by_them_with_the_sweeps_evaluation() -> None:
    assert Scoring.of(SPEC, "own") == Scoring(split=SplitSpec(validation=15, test=15), season=12, horizon=3,
                                              origin_step=2, origin_count=4, closed_loop_steps=5, patience=2,
                                              final_fit="train", covariate_names=((), ()))


def test_a_dataset_without_its_own_split_gets_the_sweeps_and_a_panel_names_its_covariates() -> None:
    plain, macro = Scoring.of(SPEC, "plain"), Scoring.of(SPEC, "macro")
    assert plain.split == SPEC.split and (plain.horizon, plain.origin_step, plain.origin_count) == (1, None, None)
    assert macro.covariate_names == (("infl",), ("quarter",))


def test_a_scoring_is_frozen_and_a_misspelt_setting_is_an_error() -> None:
    with pytest.raises(pydantic.ValidationError):
        Scoring(horizon=2).horizon = 3  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError, match="origins"):
        Scoring(origins=4)  # type: ignore[call-arg]


def test_a_network_and_its_baselines_are_scored_from_the_datasets_own_origins_on_the_same_scale() -> None:
    scoring = Scoring.of(SPEC, "own")
    y = load_datasets(SPEC)["own"].series[0].y
    hp = HParams(arch="gru", hidden_size=8, window=8, batch_size=16, epochs=4, optimizer="adam", learning_rate=0.01)
    net = fit_and_score(hp, y, scoring, seed=3, evaluate_test=True, keep_model=True)
    base = baselines(y, scoring, 8, statistical=False)
    assert net.forecasts is not None and net.model is not None
    at = [int(o) for o in net.forecasts["test_origins"]]
    assert at == [111, 113, 115, 117] == np.asarray(base.origins).tolist()  # 4 origins 2 apart, the last at n - 3
    assert net.forecasts["mase_scale"] == [base.scale] and net.model["state"]["horizon"] == 3
    assert "best_epoch" in net.metrics  # the sweep's patience: early stopping is on
