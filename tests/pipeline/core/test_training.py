from __future__ import annotations

import numpy as np
import pytest

from pipeline.core.data import damped_oscillation
from pipeline.core.hparams import HParams
from pipeline.core.scoring import Scoring
from pipeline.core.training import TrainingDiverged, fit_and_score, forget_compiled_loops

SERIES = damped_oscillation(points=80)
TINY = dict(hidden_size=8, window=6, batch_size=10, epochs=3, optimizer="adam", learning_rate=0.01)


def test_one_trial_reports_every_contract_metric() -> None:
    seen: list[int] = []
    result = fit_and_score(HParams(arch="gru", **TINY), SERIES, Scoring(), seed=1, evaluate_test=True,
                           on_epoch=lambda e, loss, val, val_mase: seen.append(e))
    assert seen == [0, 1, 2] and len(result.loss) == len(result.val_loss) == 3
    for key in ("val_rmse", "test_rmse", "test_mase", "closed_loop_rmse", "n_params", "seconds_per_epoch",
                "train_seconds"):
        assert np.isfinite(result.metrics[key]), key
    assert result.forecasts is not None
    assert len(result.forecasts["generated"]) == len(SERIES) - TINY["window"]
    test_start = int(result.forecasts["test_start"][0])
    assert len(result.forecasts["test_pred"]) == len(SERIES) - test_start


def test_tune_phase_never_scores_the_test_split() -> None:
    result = fit_and_score(HParams(arch="lstm", **TINY), SERIES, Scoring(), seed=1, evaluate_test=False)
    assert not any(k.startswith("test_") or k == "closed_loop_rmse" for k in result.metrics)
    assert result.forecasts is None


def test_same_seed_same_metrics_on_cpu() -> None:
    hp = HParams(arch="gru", **TINY)
    a = fit_and_score(hp, SERIES, Scoring(), seed=7, evaluate_test=True)
    b = fit_and_score(hp, SERIES, Scoring(), seed=7, evaluate_test=True)
    c = fit_and_score(hp, SERIES, Scoring(), seed=8, evaluate_test=True)
    assert a.val_loss == b.val_loss and a.metrics["test_mase"] == b.metrics["test_mase"]
    assert a.val_loss != c.val_loss


@pytest.mark.parametrize("arch, optimizer, patience", [("gru", "adam", None), ("lstm", "rmsprop", 2),
                                                        ("gru", "sgd", None)])
def test_a_reused_compiled_loop_gives_what_a_fresh_one_gives(arch: str, optimizer: str, patience: int | None
                                                             ) -> None:
    """Selection and confirm retrain one configuration on several seeds in one process: the second seed reuses
    the first one's compiled loop, and its numbers (weights, optimizer state, order) equal a fresh compile's."""
    hp = HParams(arch=arch, **{**TINY, "optimizer": optimizer, "epochs": 8})

    def run(seed: int) -> tuple[list[float], dict[str, float], list[float]]:
        r = fit_and_score(hp, SERIES, Scoring(patience=patience), seed=seed, evaluate_test=True)
        assert r.forecasts is not None
        timing = {"seconds_per_epoch", "train_seconds", "compile_seconds"}
        return r.val_loss, {k: v for k, v in r.metrics.items() if k not in timing}, r.forecasts["test_pred"]

    forget_compiled_loops()
    fresh = run(12)
    forget_compiled_loops()
    first = fit_and_score(hp, SERIES, Scoring(patience=patience), seed=11, evaluate_test=True)
    reused = fit_and_score(hp, SERIES, Scoring(patience=patience), seed=12, evaluate_test=True)
    assert first.val_loss != fresh[0]
    assert reused.metrics["compile_seconds"] < first.metrics["compile_seconds"] / 3  # nothing compiled again
    assert run(12) == fresh  # a third visit, and every number as fresh


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "rmsprop"])
def test_trials_that_differ_only_in_learning_rate_share_a_compiled_loop(optimizer: str) -> None:
    """The second rate reuses the first one's compiled loop, trains at its own rate (not the first's), and
    gives every number a fresh compile at that rate gives."""
    base = {**TINY, "optimizer": optimizer, "epochs": 8}
    first_hp = HParams(arch="lstm", **{**base, "learning_rate": 0.02})
    second_hp = HParams(arch="lstm", **{**base, "learning_rate": 0.003})
    forget_compiled_loops()
    fresh = fit_and_score(second_hp, SERIES, Scoring(), seed=5, evaluate_test=True)
    forget_compiled_loops()
    first = fit_and_score(first_hp, SERIES, Scoring(), seed=5, evaluate_test=True)
    reused = fit_and_score(second_hp, SERIES, Scoring(), seed=5, evaluate_test=True)
    assert first.val_loss != fresh.val_loss  # the rate matters, so equality below is the new rate at work
    assert reused.metrics["compile_seconds"] < first.metrics["compile_seconds"] / 3  # nothing compiled again
    assert (reused.loss, reused.val_loss) == (fresh.loss, fresh.val_loss)
    assert reused.metrics["test_mase"] == fresh.metrics["test_mase"]


def test_training_learns_the_seed_series() -> None:
    hp = HParams(arch="lstm", hidden_size=16, window=10, batch_size=10, epochs=60, optimizer="adam",
                 learning_rate=0.01)
    result = fit_and_score(hp, damped_oscillation(), Scoring(), seed=0, evaluate_test=True)
    assert result.loss[-1] < result.loss[0] / 10


def test_divergence_is_an_error_not_a_silent_nan() -> None:
    hp = HParams(arch="gru", **{**TINY, "optimizer": "sgd", "learning_rate": 1e8, "epochs": 20})
    with pytest.raises(TrainingDiverged, match="loss became"):
        fit_and_score(hp, SERIES, Scoring(), seed=0, evaluate_test=False)


def test_early_stopping_stops_and_keeps_the_best_epoch() -> None:
    hp = HParams(arch="gru", **{**TINY, "epochs": 200, "learning_rate": 0.05})
    result = fit_and_score(hp, SERIES, Scoring(patience=3), seed=3, evaluate_test=False)
    trained = int(result.metrics["epochs_trained"])
    best = int(result.metrics["best_epoch"])
    assert trained < 200 and trained - 1 - best == 3
    # the objective is validation MASE; the best epoch's weights are the ones kept
    assert result.metrics["val_mase"] == pytest.approx(min(result.val_mase), rel=1e-5)
    assert result.val_mase[best] == min(result.val_mase)


def test_closed_loop_horizon_limits_the_free_run() -> None:
    hp = HParams(arch="lstm", **TINY)
    short = fit_and_score(hp, SERIES, Scoring(closed_loop_steps=2), seed=1, evaluate_test=True)
    full = fit_and_score(hp, SERIES, Scoring(), seed=1, evaluate_test=True)
    assert short.metrics["test_mase"] == full.metrics["test_mase"]
    assert short.metrics["closed_loop_rmse"] != full.metrics["closed_loop_rmse"]


def test_an_epoch_of_sampled_windows_trains_that_many_windows_in_fewer_steps() -> None:
    y = damped_oscillation()
    full = fit_and_score(HParams(arch="gru", hidden_size=8, window=10, batch_size=10, epochs=3, optimizer="adam"),
                         y, Scoring(), seed=0, evaluate_test=False)
    sampled = fit_and_score(HParams(arch="gru", hidden_size=8, window=10, batch_size=10, epochs=3, optimizer="adam",
                                    epoch_windows=40), y, Scoring(), seed=0, evaluate_test=False)
    assert full.metrics["train_windows"] == sampled.metrics["train_windows"] > 40
    assert full.metrics["steps_per_epoch"] == -(-full.metrics["train_windows"] // 10)
    assert sampled.metrics["steps_per_epoch"] == 4 and np.isfinite(sampled.metrics["val_mase"])


@pytest.mark.parametrize("loss", ["mse", "mae"])
def test_the_training_loss_is_the_one_asked_for(loss: str) -> None:
    """An epoch at learning rate 0 (the weights never move) reports the chosen loss of the model's own outputs."""
    import keras

    from pipeline.core.models import build_model, build_optimizer
    from pipeline.core.training import _CompiledLoop

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(23, 6, 1)).astype("float32"), rng.normal(size=(23, 6, 2)).astype("float32")
    model = build_model("gru", 4, 6, outputs=2, normalize="window")
    loop = _CompiledLoop(model, build_optimizer("sgd", 0.0), (x, y), (x[:3], y[:3, -1:]), 5, loss)
    err = model(x).numpy() - y
    expected = np.mean(np.abs(err)) if loss == "mae" else np.mean(np.square(err))
    assert loop.epoch(np.arange(23)) == pytest.approx(expected, rel=1e-5)
