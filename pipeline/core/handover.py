"""What a trained network needs to forecast after the sweep, and the forecast itself. Pure: numpy and Keras.

A confirm run keeps its network as two things: `NetworkState` (JSON: the hyperparameters, the horizon and what
each series was transformed and scaled with, fitted on the part the network was fitted on) and the weights as an
`.npz` of plain arrays (`encode_weights`; read back with `allow_pickle=False`, so a stored model can never run
code). `Network` rebuilds the Keras model from the two and forecasts through `pipeline.core.paths`, the code the
confirm run scored its test forecasts with, so a handed-over model forecasts the test origins as the run did.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from pipeline.core.data import PreparedData, Scaler, Series, covariate_channels, covariate_scalers
from pipeline.core.hparams import HParams
from pipeline.core.models import build_model, quiet_native_stderr
from pipeline.core.paths import forecast_paths
from pipeline.core.transforms import Transform

__all__ = ["FORMAT", "MAX_WEIGHTS_BYTES", "ForecastInputError", "History", "Network", "NetworkState",
           "SeriesState", "decode_weights", "encode_weights", "kept_network"]

FORMAT = 1
# a confirm run's weights travel in its outbox record (base64 JSON) and land in MLflow as one file: a network
# whose compressed weights exceed this is not kept (the run says so) rather than swell the outbox and the store
MAX_WEIGHTS_BYTES = 2_000_000


class ForecastInputError(ValueError):
    """The data given to a forecast cannot be forecast from (one line: the series and the problem)."""


class SeriesState(BaseModel):
    """One series as the network was fitted to it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    transform: str
    season: int | None
    seasonal: list[float] | None  # a deseasonalising transform's fitted season over `fit`
    fit: tuple[int, int]  # the part the network, scaler and transform were fitted on
    scaler: tuple[float, float]  # mean, std of the transformed series over `fit`
    covariate_scalers: list[tuple[float, float]]  # past covariates, then future ones
    points: int  # the series' length when the network was trained


class NetworkState(BaseModel):
    """What forecasting with a confirm run's network needs besides its weights."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: int = FORMAT
    hp: HParams
    horizon: int
    outputs: int  # values per window position (the horizon for the direct strategy, 1 for the recursive one)
    inputs: int  # channels per window position: the series, then its covariate channels
    past: list[str] = []  # covariate names, in channel order
    future: list[str] = []
    series: list[SeriesState]

    @property
    def history_needed(self) -> int:
        """Values a series needs before the first forecast origin: the window and the differencing lag."""
        return self.hp.window + Transform(self.hp.transform, self.series[0].season).lag


def encode_weights(weights: list[np.ndarray]) -> bytes:
    """A network's weights as a compressed `.npz` of plain arrays, in `get_weights()` order."""
    buf = io.BytesIO()
    arrays: dict[str, Any] = {f"w{i}": np.asarray(w) for i, w in enumerate(weights)}
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


def decode_weights(data: bytes) -> list[np.ndarray]:
    """`encode_weights` read back; object arrays (pickles) are refused."""
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        return [npz[f"w{i}"] for i in range(len(npz.files))]


def kept_network(hp: HParams, parts: list[PreparedData], series: tuple[Series, ...], model: Any, horizon: int,
                 covariate_names: tuple[Sequence[str], Sequence[str]] | None = None) -> dict[str, Any]:
    """A trained network as a confirm run reports it: `{"state": NetworkState JSON, "weights": base64 npz}`, or
    `{"skipped": reason}` when its weights exceed `MAX_WEIGHTS_BYTES`. `covariate_names`: the dataset's past and
    future covariates (default: `past_0`, ... `future_0`, ...)."""
    weights = encode_weights(model.get_weights())
    if len(weights) > MAX_WEIGHTS_BYTES:
        return {"skipped": f"weights of {len(weights)} bytes exceed the {MAX_WEIGHTS_BYTES} bytes kept per run"}
    n_past, n_future = series[0].past.shape[1], series[0].future.shape[1]
    past, future = covariate_names or ([f"past_{i}" for i in range(n_past)], [f"future_{i}" for i in range(n_future)])
    states = []
    for s, d in zip(series, parts, strict=True):
        t = d.transform
        # the scalers `prepare` fitted the covariate channels with: the same code on the same part
        scalers = covariate_scalers(s.past, s.future, d.fit) if n_past + n_future else []
        states.append(SeriesState(
            id=s.id, transform=t.kind, season=t.season,
            seasonal=None if t.seasonal is None else [float(x) for x in t.seasonal], fit=d.fit,
            scaler=(d.scaler.mean, d.scaler.std), covariate_scalers=[(c.mean, c.std) for c in scalers],
            points=len(d.raw)))
    inputs = 1 + (parts[0].channels.shape[1] if parts[0].channels is not None else 0)
    state = NetworkState(hp=hp, horizon=horizon, outputs=horizon if hp.strategy == "direct" else 1, inputs=inputs,
                         past=list(past), future=list(future), series=states)
    return {"state": state.model_dump(mode="json"), "weights": base64.b64encode(weights).decode("ascii")}


@dataclass(frozen=True)
class History:
    """One series as a forecast reads it: its values `y` up to the forecast origin, its past covariates `(n, P)`
    and its future covariates `(n + H, F)` (known through the horizon); `offset`, the position of `y[0]` in the
    series the network was trained on (where a deseasonalising transform's cycle is)."""

    id: str
    y: np.ndarray
    past: np.ndarray
    future: np.ndarray
    offset: int = 0


class Network:
    """A confirm run's network rebuilt from its state and weights."""

    def __init__(self, state: NetworkState, weights: list[np.ndarray]) -> None:
        hp = state.hp
        self.state = state
        with quiet_native_stderr():  # a forecast's console shows gatesweep's lines, not TensorFlow's start-up
            import tensorflow as tf  # lazy: loads TensorFlow

            self.model = build_model(hp.arch, hp.hidden_size, hp.window, hp.num_layers, state.outputs, state.inputs,
                                     hp.normalize)
            # compiled as the confirm run's inference was (`pipeline.core.training`), so its arithmetic is the same
            xla = not tf.config.list_logical_devices("GPU")
        self.model.set_weights(weights)
        self._predict = tf.function(lambda x: self.model(x, training=False), jit_compile=xla)
        self._series = {s.id: s for s in state.series}

    def prepared(self, h: History) -> PreparedData:
        """`h` transformed and scaled as the network was trained to read its series."""
        s = self._series.get(h.id)
        if s is None:
            raise ForecastInputError(f"series {h.id!r}: the model was not trained on it (it knows "
                                     f"{_some(list(self._series))})")
        y = np.asarray(h.y, float)
        if len(y) < self.state.history_needed or not np.all(np.isfinite(y[-self.state.history_needed:])):
            raise ForecastInputError(f"series {h.id!r}: {len(y)} values; the model reads the last "
                                     f"{self.state.history_needed} (window {self.state.hp.window}) and they must "
                                     "all be numbers")
        fit = (s.fit[0] - h.offset, s.fit[1] - h.offset)
        seasonal = None if s.seasonal is None else np.asarray(s.seasonal, float)
        transform = replace(Transform(s.transform, s.season), seasonal=seasonal, fit=fit)
        scaler = Scaler(*s.scaler)
        scaled = scaler.transform(transform.forward(y))
        channels = None
        if s.covariate_scalers:
            n, hz = len(y), self.state.horizon
            if len(h.past) != n or len(h.future) < n + hz:
                raise ForecastInputError(f"series {h.id!r}: {len(y)} values need {n} rows of past covariates and "
                                         f"{n + hz} of future ones (known through the horizon of {hz}); got "
                                         f"{len(h.past)} and {len(h.future)}")
            if not np.all(np.isfinite(h.future[:n + hz])):
                raise ForecastInputError(f"series {h.id!r}: a future covariate "
                                         f"({', '.join(self.state.future)}) is missing inside the horizon")
            past = np.full((n + hz, len(self.state.past)), np.nan)  # never read after the origin
            past[:n] = h.past
            channels = covariate_channels(past, np.asarray(h.future, float)[:n + hz], (0, 0), self.state.outputs,
                                          [Scaler(*c) for c in s.covariate_scalers])
        empty = (np.zeros((0, self.state.hp.window, self.state.inputs), np.float32), np.zeros((0, 1), np.float32))
        return PreparedData(raw=y, transform=transform, scaled=scaled, scaler=scaler, bounds=[(0, 0)] * 3,
                            window=self.state.hp.window, train=empty, validation=empty, horizon=self.state.horizon,
                            channels=channels, fit=fit)

    def forecast(self, histories: list[History], at: list[np.ndarray] | None = None) -> list[np.ndarray]:
        """Each series' forecasts `(origins, H)` in original units from the origins `at` (positions in its `y`;
        default: one origin, just after its last value)."""
        parts = [self.prepared(h) for h in histories]
        at = [np.array([len(h.y)]) for h in histories] if at is None else [np.asarray(a, int) for a in at]
        return forecast_paths(self._predict, parts, at, self.state.hp.strategy)


def _some(names: list[str], shown: int = 5) -> str:
    return ", ".join(map(repr, names[:shown])) + (f" and {len(names) - shown} more" if len(names) > shown else "")
