"""One trial: build, train, score. `fit_and_score` is everything a Ray trial does, minus the glue.

Why a hand-written loop instead of `model.fit`: on small RNN problems Keras' per-epoch machinery
(data adapters, callbacks, a separate `evaluate` for validation) costs ~10x the arithmetic. Here each
batch is one XLA-compiled step that calls the same Keras model and the same Keras optimizer, so the
maths is Keras' own and only the Python overhead is gone.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pipeline.core.config import SplitSpec
from pipeline.core.data import Panel, PreparedData, prepare
from pipeline.core.handover import kept_network
from pipeline.core.hparams import HParams
from pipeline.core.metrics import mase_scale, rmse, smape
from pipeline.core.models import build_model, build_optimizer
from pipeline.core.origins import horizon_mase, targets
from pipeline.core.paths import forecast_paths, recursive_paths, split_rows
from pipeline.core.scoring import Scoring
from pipeline.core.timeaxis import time_labels
from pipeline.core.transforms import Transform

__all__ = ["TrainingDiverged", "TrialResult", "fit_and_score"]


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


@dataclass
class TrialResult:
    loss: list[float]
    val_loss: list[float]
    val_mase: list[float]
    metrics: dict[str, float]
    forecasts: dict[str, list[float]] | None = field(default=None)
    # the trained network and what forecasting with it needs (`pipeline.core.handover.kept_network`), if kept
    model: dict[str, Any] | None = field(default=None)


EpochCallback = Callable[[int, float, float, float], None]


def fit_and_score(hp: HParams, raw: np.ndarray | Panel, scoring: Scoring, *, seed: int, evaluate_test: bool,
                  on_epoch: EpochCallback | None = None, refit: bool = False, keep_model: bool = False,
                  fit_all: bool = False) -> TrialResult:
    """Train `hp` on the training part of `raw`, validate every epoch, and score.

    Args:
        hp: architecture and hyperparameters (the transform and the multi-step strategy included).
        raw: the series in original units, or a panel: one global network is trained on the windows of every
            series (each transformed and scaled on its own training part, with its covariates as more input
            channels), and every score is the mean over series of that series' score.
        scoring: how the dataset is scored (`pipeline.core.scoring.Scoring`): its split (of each series), season,
            horizon, forecast origins, free-running steps, early stopping and covariate names.
        seed: sets weight initialisation and data order; the same seed gives the same metrics on CPU.
        evaluate_test: score on the test split (confirm phase only; the tune phase never sees it).
        on_epoch: called with (epoch, loss, val_loss, val_mase) after each epoch (NaN validation when `refit`).
        refit: the final fit of a chosen configuration: train on the training and validation parts together for
            exactly `hp.epochs` (what early stopping chose on validation before), no validation score (the
            validation part is inside the fit), scored on the test split.
        keep_model: also return the trained network (`TrialResult.model`) for the hand-over, with
            `scoring.covariate_names`.
        fit_all: as `refit`, on every value, the test part included (`pipeline.core.refit`); no test score.

    Returns:
        Per-epoch training and validation losses (MSE of the scaled, transformed series, as the source
        article plots them) and validation MASE over the horizon (original units: the objective, comparable
        across transforms, windows and strategies), final metrics in original units, and for confirm runs
        the test forecasts from every origin and, for a single series without covariates, the article's
        free-running generation over the whole series.
    """
    import keras  # lazy: loads Keras

    panel = raw if isinstance(raw, Panel) else Panel.single(np.asarray(raw, float))
    if hp.strategy == "recursive" and panel.covariates[0]:
        raise ValueError("the recursive strategy cannot know past covariates beyond the origin; use direct")
    if fit_all and evaluate_test:
        raise ValueError("fit_all: the test part is inside the fit; there is nothing to score")
    refit = refit or fit_all
    keras.backend.clear_session()  # a reused Ray actor must not accumulate the previous trials' graphs
    keras.utils.set_random_seed(seed)
    split, season, horizon = scoring.split, scoring.season, scoring.horizon
    outputs = horizon if hp.strategy == "direct" else 1
    parts = [prepare(s.y, split, hp.window, Transform(hp.transform, season), horizon=horizon, outputs=outputs,
                     origin_step=scoring.origin_step, origin_count=scoring.origin_count, past=s.past, future=s.future,
                     refit=refit, fit_all=fit_all)
             for s in panel.series]
    patience = None if refit else scoring.patience
    inputs = 1 + (parts[0].channels.shape[1] if parts[0].channels is not None else 0)
    model = build_model(hp.arch, hp.hidden_size, hp.window, hp.num_layers, outputs, inputs, hp.normalize)
    loop = _compiled_loop(hp, parts, model, panel, split)
    model = loop.model
    # MASE's denominator: the in-sample (seasonal) naive error of the history before the part scored (the M4
    # convention): the training part for validation, everything before the test part for test, whatever was fitted
    scales = [mase_scale(d.raw[d.bounds[0][0]:d.bounds[0][1]], season) for d in parts]
    test_scales = [mase_scale(d.raw[:d.bounds[2][0]], season) for d in parts]
    val_truth = [targets(d.raw, d.val_origins, horizon) for d in parts]
    rng = np.random.default_rng(seed)
    losses: list[float] = []
    val_losses: list[float] = []
    val_mases: list[float] = []
    best: tuple[float, int, Any] = (np.inf, -1, None)  # (val_mase, epoch, weights) for early stopping
    t0 = time.perf_counter()
    for epoch in range(hp.epochs):
        # an epoch: every window in a new order, or `epoch_windows` of them drawn afresh (a cost that does not
        # grow with the panel; NeuralForecast's `max_steps` over sampled windows)
        order = rng.permutation(loop.n)
        loss = loop.epoch(order[:hp.epoch_windows] if 0 < hp.epoch_windows < loop.n else order)
        if refit:
            val_loss = val_mase = float("nan")
        else:
            val_loss, val_pred = loop.validate(parts, hp.strategy)
            val_mase = _over_series(horizon_mase, val_pred, val_truth, scales)
        if not (np.isfinite(loss) and (refit or (np.isfinite(val_loss) and np.isfinite(val_mase)))):
            raise TrainingDiverged(f"{hp.arch}: loss became {loss} (val_loss {val_loss}, val_mase {val_mase}) "
                                   f"at epoch {epoch}")
        losses.append(loss)
        val_losses.append(val_loss)
        val_mases.append(val_mase)
        if on_epoch is not None:
            on_epoch(epoch, loss, val_loss, val_mase)
        if patience is not None:
            if val_mase < best[0]:
                best = (val_mase, epoch, model.get_weights())
            elif epoch - best[1] >= patience:
                break
    train_seconds = time.perf_counter() - t0
    if patience is not None and best[2] is not None:
        model.set_weights(best[2])

    metrics = {} if refit else _validation_scores(loop.forecast_paths(parts, [d.val_origins for d in parts],
                                                                       hp.strategy), val_truth, scales)
    metrics |= {
        "n_params": float(model.count_params()),
        "train_seconds": train_seconds,
        # the first epoch includes tracing and XLA compilation; report the steady state
        "seconds_per_epoch": _steady(loop.epoch_times),
        "compile_seconds": max(0.0, loop.epoch_times[0] - _steady(loop.epoch_times)) if len(losses) >= 3 else 0.0,
        "epochs_trained": float(len(losses)),
        # what an epoch is made of, so that cost compares per step and per window, not only per epoch
        "train_windows": float(loop.n),
        "steps_per_epoch": float(loop.last_steps),
    }
    if patience is not None:
        metrics["best_epoch"] = float(best[1])
    forecasts = None
    if evaluate_test:
        test_pred = loop.forecast_paths(parts, [d.test_origins for d in parts], hp.strategy)
        test_truth = [targets(d.raw, d.test_origins, horizon) for d in parts]
        metrics |= {
            "test_rmse": _over_series(lambda p, t, _: rmse(p, t), test_pred, test_truth, test_scales),
            "test_mase": _over_series(horizon_mase, test_pred, test_truth, test_scales),
            "test_smape": _over_series(lambda p, t, _: smape(p, t), test_pred, test_truth, test_scales),
        }
        data = parts[0]
        s0 = data.bounds[2][0]
        # stored with the run so the report can test forecasts (Diebold-Mariano) and score each step from
        # MLflow alone; `test_pred` is origin-major: origin o's H values, then the next origin's
        forecasts = {"truth": data.raw.tolist(), "test_start": [float(s0)],
                     "test_pred": test_pred[0].reshape(-1).tolist(), "mase_scale": [test_scales[0]],
                     "horizon": [float(horizon)],
                     "test_origins": data.test_origins.astype(float).tolist()}
        if len(parts) == 1 and data.channels is None:
            steps = min(scoring.closed_loop_steps or len(data.raw) - s0, len(data.raw) - s0)
            free = loop.generate(data, data.raw[:s0], steps)
            metrics["closed_loop_rmse"] = rmse(free, data.raw[s0:s0 + steps])
            # the source article's figure: start from the first window and feed predictions back to the end
            start = hp.window + data.transform.lag
            gen = loop.generate(data, data.raw[:start], len(data.raw) - start)
            forecasts |= {"generated": gen.tolist(), "start": [float(start)]}
        if panel.series[0].time is not None:  # the figures' time axis
            forecasts["time"] = time_labels(panel.series[0].time)  # type: ignore[assignment]
        if len(parts) > 1:  # every series (the top-level keys are the first one's, for the figures)
            forecasts["series"] = [  # type: ignore[assignment]
                {"id": s.id, "truth": d.raw.tolist(), "test_pred": p.reshape(-1).tolist(), "mase_scale": [sc],
                 "test_origins": d.test_origins.astype(float).tolist()}
                | ({"time": time_labels(s.time)} if s.time is not None else {})
                for s, d, p, sc in zip(panel.series, parts, test_pred, test_scales, strict=True)]
    kept = None
    if keep_model:
        kept = kept_network(hp, parts, panel.series, model, horizon, scoring.covariate_names)
    return TrialResult(losses, val_losses, val_mases, metrics, forecasts, kept)


def _validation_scores(pred: list[np.ndarray], truth: list[np.ndarray], scales: list[float]) -> dict[str, float]:
    return {"val_rmse": _over_series(lambda p, t, _: rmse(p, t), pred, truth, scales),
            "val_mase": _over_series(horizon_mase, pred, truth, scales)}


def _over_series(score: Callable[[np.ndarray, np.ndarray, float], float], pred: list[np.ndarray],
                 truth: list[np.ndarray], scales: list[float]) -> float:
    """A score's mean over the series of a panel, each scored on its own (its own MASE scale)."""
    return float(np.mean([score(p, t, s) for p, t, s in zip(pred, truth, scales, strict=True)]))


# Compiled loops kept by this process (a reused Ray actor): selection and confirm retrain one configuration
# on several seeds, tune trials often differ only in learning rate, and on small series the XLA compile
# (2-4 s) costs more than the training itself.
_LOOPS: OrderedDict[tuple[Any, ...], _CompiledLoop] = OrderedDict()
_MAX_LOOPS = 4


def forget_compiled_loops() -> None:
    """Drop the compiled loops this process keeps (the next trial of each configuration compiles afresh)."""
    _LOOPS.clear()


def _compiled_loop(hp: HParams, parts: list[PreparedData], model: Any, panel: Panel, split: SplitSpec) -> _CompiledLoop:
    """A compiled loop for `model`'s configuration on this data, starting from `model`'s fresh weights and a
    fresh optimizer: reused when this process compiled the same configuration (up to the learning rate)
    before (its variables take the new weights, the optimizer's initial state and the learning rate, so a
    seed gives the same numbers either way), else compiled now."""
    # the learning rate is a variable of the optimizer, not part of what XLA compiles: trials that differ
    # only in it share a loop
    data = parts[0]
    key = (hp.model_dump_json(exclude={"epochs", "learning_rate"}), panel.fingerprint(), split.model_dump_json(),
           data.transform.season, data.horizon, b"".join(d.val_origins.tobytes() for d in parts),
           tuple(d.fit for d in parts))
    loop = _LOOPS.pop(key, None)
    if loop is None:
        # the windows of every series in one set: batches mix series, one network learns them all
        train = (np.concatenate([d.train[0] for d in parts]), np.concatenate([d.train[1] for d in parts]))
        validation = (np.concatenate([d.validation[0] for d in parts]),
                      np.concatenate([d.validation[1] for d in parts]))
        loop = _CompiledLoop(model, build_optimizer(hp.optimizer, hp.learning_rate), train, validation,
                             hp.batch_size, hp.loss_fn)
    else:
        loop.restart(model.get_weights(), hp.learning_rate)
    _LOOPS[key] = loop
    while len(_LOOPS) > _MAX_LOOPS:
        _LOOPS.popitem(last=False)
    return loop


def _steady(times: list[float]) -> float:
    """Median epoch time after the first (which includes tracing and XLA compilation)."""
    return float(np.median(times[1:] if len(times) > 1 else times))


class _CompiledLoop:
    """Training and inference for one model, compiled once per input shape."""

    def __init__(self, model: Any, optimizer: Any, train: tuple[np.ndarray, np.ndarray],
                 validation: tuple[np.ndarray, np.ndarray], batch_size: int, loss: str = "mse") -> None:
        import tensorflow as tf  # lazy: loads TensorFlow

        self.model, self.optimizer = model, optimizer
        self.loss = loss
        self.optimizer.build(model.trainable_variables)
        self._optimizer_start = [np.array(v.numpy()) for v in self.optimizer.variables]
        self.x, self.y = tf.constant(train[0]), tf.constant(train[1])
        self.xv, self.yv = tf.constant(validation[0]), tf.constant(validation[1])
        self.yv_np = np.asarray(validation[1])
        self.n = len(train[0])
        self.batch = min(batch_size, self.n)
        self.n_batches = -(-self.n // self.batch)
        self.epoch_times: list[float] = []
        self.last_steps = self.n_batches  # batches in the last epoch (fewer when an epoch samples windows)
        # XLA on CPU (measured: ~10x faster than model.fit here). On a GPU, Keras runs GRU/LSTM on cuDNN
        # kernels, which XLA cannot compile, so the step stays a plain graph there (not yet measured on
        # a GPU: no GPU was available when this was written).
        xla = not tf.config.list_logical_devices("GPU")
        self._train_epoch = tf.function(self._train_epoch_py, jit_compile=xla)
        self._val = tf.function(self._val_py, jit_compile=xla)
        self._predict = tf.function(lambda x: self.model(x, training=False), jit_compile=xla)

    def restart(self, weights: list[np.ndarray], learning_rate: float) -> None:
        """Start again from `weights`, the optimizer's initial state (iterations, moments) and
        `learning_rate`, keeping what is compiled."""
        self.model.set_weights(weights)
        for var, value in zip(self.optimizer.variables, self._optimizer_start, strict=True):
            var.assign(value)
        self.optimizer.learning_rate = learning_rate  # assigns the optimizer's learning-rate variable
        self.epoch_times = []

    def _train_step_py(self, idx: Any, weight: Any) -> Any:
        import tensorflow as tf  # lazy: loads TensorFlow

        xb, yb = tf.gather(self.x, idx), tf.gather(self.y, idx)
        with tf.GradientTape() as tape:
            err = self.model(xb, training=True) - yb
            per_window = tf.reduce_mean(tf.abs(err) if self.loss == "mae" else tf.square(err), axis=[1, 2])
            # padded rows of the epoch's last batch weigh 0: the mean is over its real windows
            loss = tf.reduce_sum(per_window * weight) / tf.reduce_sum(weight)
        grads = tape.gradient(loss, self.model.trainable_variables)
        self.optimizer.apply(grads, self.model.trainable_variables)
        return tf.reduce_sum(per_window * weight)

    def _train_epoch_py(self, idx: Any, weight: Any) -> Any:
        # the epoch's batches in one compiled call: a loop inside the graph (XLA's while), one row of `idx` per
        # batch. Measured on the source article's task (17 batches of 10): 16.4 -> 8.1 ms/epoch (GRU 40) and
        # 17.2 -> 7.8 (LSTM) against one call per batch, the same losses to the last digit, the same 1.2 s
        # compile (unrolling the batches instead cost 2-4 s more compile per trial)
        import tensorflow as tf  # lazy: loads TensorFlow

        total = tf.constant(0.0)
        for i in tf.range(tf.shape(idx)[0]):
            total += self._train_step_py(idx[i], weight[i])
        return total

    def _val_py(self) -> Any:
        # the positions the targets cover: the last (the forecast from each origin), or all W for the
        # article's windows (`gatesweep bench`)
        return self.model(self.xv, training=False)[:, -self.yv.shape[1]:, :]

    def validation_mse(self) -> float:
        """MSE of the validation targets over every position they cover (the source article's val_loss)."""
        t0 = time.perf_counter()
        val = float(np.mean(np.square(np.asarray(self._val()) - self.yv_np)))
        self.epoch_times[-1] += time.perf_counter() - t0
        return val

    def epoch(self, perm: np.ndarray) -> float:
        """One pass over the training windows `perm` (all of them, or a sample); returns the training loss (MSE,
        or MAE with `loss_fn: mae`, of the scaled, transformed series over every position and output)."""
        import tensorflow as tf  # lazy: loads TensorFlow

        t0 = time.perf_counter()
        n = len(perm)
        pad = -(-n // self.batch) * self.batch - n
        idx = np.concatenate([perm, perm[:pad]]).astype(np.int32)
        weight = np.concatenate([np.ones(n, np.float32), np.zeros(pad, np.float32)])
        steps = len(idx) // self.batch
        total = float(self._train_epoch(tf.constant(idx.reshape(steps, self.batch)),
                                        tf.constant(weight.reshape(steps, self.batch))))
        self.epoch_times.append(time.perf_counter() - t0)
        self.last_steps = steps
        return total / n

    def validate(self, parts: list[PreparedData], strategy: str) -> tuple[float, list[np.ndarray]]:
        """The validation MSE (scaled, transformed, over the horizon and every series) and each series' forecast
        paths from its validation origins in original units, `(origins, H)`."""
        t0 = time.perf_counter()
        at = [d.val_origins for d in parts]
        if strategy == "direct":
            z = np.asarray(self._val())[:, -1, :]
            paths = [d.paths_to_original(zs, a) for d, zs, a in zip(parts, split_rows(z, at), at, strict=True)]
        else:
            z, paths = self._recursive(parts, at)
        val = float(np.mean(np.square(z - self.yv_np[:, 0, :])))
        self.epoch_times[-1] += time.perf_counter() - t0  # an epoch's time includes its validation
        return val, paths

    def forecast_paths(self, parts: list[PreparedData], at: list[np.ndarray], strategy: str) -> list[np.ndarray]:
        """Each series' forecasts `(origins, H)` in original units from its origins `at`."""
        return forecast_paths(self._predict, parts, at, strategy)

    def _recursive(self, parts: list[PreparedData], at: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        return recursive_paths(self._predict, parts, at)

    def generate(self, data: PreparedData, history: np.ndarray, steps: int) -> np.ndarray:
        """Free-running generation in original units: each prediction becomes part of the next input."""
        path = np.concatenate([np.asarray(history, float), np.empty(steps)])
        n = len(history)
        for i in range(steps):
            pred = float(np.asarray(self._predict(data.next_input(path[: n + i])))[0, -1, 0])
            path[n + i] = data.next_value(pred, path[: n + i])
        return path[n:]

