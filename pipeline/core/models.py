"""Keras GRU/LSTM models as in the seed: recurrent layer(s) with `return_sequences=True` + `Dense(1)`.

Layer settings stay cuDNN-eligible on GPU (tanh/sigmoid, no recurrent dropout, no unroll,
`reset_after=True` for GRU), and both architectures are built by the same code path.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import keras

_configured: tuple[int, bool] | None = None


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """The process's stderr (file descriptor 2) sent to /dev/null while TensorFlow loads and scans its devices:
    its C++ side prints "All log messages before absl::InitializeLog() ...", oneDNN, CUDA-stub and cuInit lines
    that no log level reaches, among a command's own output. Python's exceptions still propagate (and print once
    stderr is back); only native writes made inside the block are lost."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def configure_tensorflow(cpus: float = 1, gpus: float = 0) -> None:
    """Size TensorFlow's thread pools to the CPUs this trial owns; enable GPU memory growth.

    Must run before TensorFlow initialises its runtime; a process that already did (a reused Ray
    actor) keeps its first setting, which is the same for every trial of a sweep.
    """
    global _configured
    threads = max(1, int(cpus))
    if _configured is not None:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf  # lazy: loads TensorFlow

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
        for gpu in tf.config.list_physical_devices("GPU"):
            tf.config.experimental.set_memory_growth(gpu, True)
    except RuntimeError as exc:
        # TensorFlow was initialised before us (e.g. by user code in the same process): its pools
        # are already sized and cannot change. Training still works; say so instead of hiding it.
        warnings.warn(f"TensorFlow thread pools not resized to {threads}: {exc}", RuntimeWarning, stacklevel=2)
    _configured = (threads, gpus > 0)


NORMALIZE = ("series", "window")


def build_model(arch: str, hidden_size: int, window: int, num_layers: int = 1, outputs: int = 1,
                inputs: int = 1, normalize: str = "series") -> keras.Model:
    """The seed's network; at hidden 40 it has 5,201 (GRU) or 6,761 (LSTM) parameters. `outputs`: the values
    each position predicts (the next `outputs` points; more than 1 for the direct multi-step strategy);
    `inputs`: channels at each position (the series, then its covariates).

    `normalize`: `series` reads the series as it is given (transformed and standardised per series on the part
    the network fits); `window` reads each window relative to its own level, the series' value at the window's
    last position (its last known value, as NLinear and Hewamalage et al.'s moving windows do; in log space a
    ratio): that level is subtracted from the series channel of every position and added back to every output.
    A position `p` then predicts `y[p+h] - level = (y[p+h] - y[p]) + (y[p] - level)`, the second term its own
    input, so every position's target is known from what it reads; the network learns shapes, not levels, and
    a trending series never leaves the range it trained on. Covariate channels are left as they are. No weights:
    the parameter count is the same."""
    import keras  # lazy: loads Keras

    if normalize not in NORMALIZE:
        raise ValueError(f"unknown normalize {normalize!r}; expected one of {', '.join(NORMALIZE)}")
    cell = {"gru": keras.layers.GRU, "lstm": keras.layers.LSTM}[arch]
    rnns = [cell(hidden_size, return_sequences=True, name=f"{arch}_{i}") for i in range(num_layers)]
    dense = keras.layers.Dense(outputs, name="dense")
    if normalize == "series":
        return keras.Sequential([keras.Input((window, inputs)), *rnns, dense], name=arch)
    x = inp = keras.Input((window, inputs))
    level = keras.ops.expand_dims(inp[:, -1, :1], 1)  # (batch, 1, 1): the last input value of the series
    x = keras.ops.concatenate([inp[..., :1] - level, inp[..., 1:]], axis=-1)
    for rnn in rnns:
        x = rnn(x)
    return keras.Model(inp, dense(x) + level, name=arch)


def build_optimizer(name: str, learning_rate: float) -> keras.optimizers.Optimizer:
    import keras  # lazy: loads Keras

    cls = {"sgd": keras.optimizers.SGD, "adam": keras.optimizers.Adam, "rmsprop": keras.optimizers.RMSprop}
    return cls[name](learning_rate=learning_rate)


def param_count(arch: str, hidden_size: int, num_layers: int = 1, outputs: int = 1, inputs: int = 1) -> int:
    """Parameters of `build_model` without building it: gates x (input + recurrent weights + biases) + Dense.

    GRU with `reset_after=True` (Keras' default, cuDNN-compatible) has two bias vectors per gate.
    """
    gates, biases = (3, 2) if arch == "gru" else (4, 1)
    h = hidden_size
    total = 0
    for layer in range(num_layers):
        width = inputs if layer == 0 else h
        total += gates * (h * width + h * h + biases * h)
    return total + outputs * (h + 1)


def matched_gru_hidden(lstm_hidden: int, num_layers: int = 1) -> int:
    """The GRU hidden size whose parameter count is closest to an LSTM's (ties: the smaller size)."""
    target = param_count("lstm", lstm_hidden, num_layers)
    return min(range(1, 4 * lstm_hidden + 2), key=lambda h: (abs(param_count("gru", h, num_layers) - target), h))
