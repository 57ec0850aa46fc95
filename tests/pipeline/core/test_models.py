from __future__ import annotations

import pytest

from pipeline.core.models import build_model, matched_gru_hidden, param_count


@pytest.mark.parametrize(("arch", "rnn", "total"), [("gru", 5160, 5201), ("lstm", 6720, 6761)])
def test_parameter_counts_match_the_seed(arch: str, rnn: int, total: int) -> None:
    model = build_model(arch, hidden_size=40, window=20)
    assert model.count_params() == total
    assert model.layers[0].count_params() == rnn
    assert model.layers[-1].count_params() == 41


def test_output_is_one_value_per_position() -> None:
    model = build_model("lstm", hidden_size=8, window=12, num_layers=2)
    assert model.output_shape == (None, 12, 1)


@pytest.mark.parametrize(("arch", "hidden", "layers"),
                         [("gru", 40, 1), ("lstm", 40, 1), ("gru", 7, 2), ("lstm", 13, 3)])
def test_param_count_formula_matches_keras(arch: str, hidden: int, layers: int) -> None:
    assert param_count(arch, hidden, layers) == build_model(arch, hidden, 10, layers).count_params()


def test_matched_gru_is_the_closest_parameter_count() -> None:
    h = matched_gru_hidden(40)
    target = param_count("lstm", 40)
    assert abs(param_count("gru", h) - target) <= min(abs(param_count("gru", h + d) - target) for d in (-1, 1))
    assert h > 40  # a GRU needs more units than an LSTM for the same parameter budget


@pytest.mark.parametrize("arch", ["gru", "lstm"])
def test_window_normalisation_reads_each_window_relative_to_its_last_value(arch: str) -> None:
    """Shifting a window's series channel by c shifts every output by c (the level comes from the window alone);
    covariate channels are read as they are; the parameter count is the seed's."""
    import numpy as np

    model = build_model(arch, hidden_size=8, window=6, outputs=3, inputs=2, normalize="window")
    assert model.count_params() == param_count(arch, 8, outputs=3, inputs=2)
    x = np.random.default_rng(0).normal(size=(5, 6, 2)).astype("float32")
    shifted = x.copy()
    shifted[..., 0] += 7.5
    np.testing.assert_allclose(model(shifted).numpy(), model(x).numpy() + 7.5, atol=1e-4)
    other = x.copy()
    other[..., 1] += 7.5  # a covariate's level is information, not a level to remove
    assert np.abs(model(other).numpy() - model(x).numpy() - 7.5).max() > 1e-2
    # a window that differs only before its last value gives another forecast: the level is the last value
    early = x.copy()
    early[:, 0, 0] += 3.0
    assert np.abs(model(early).numpy() - model(x).numpy()).max() > 1e-4
    with pytest.raises(ValueError, match="unknown normalize 'mean'"):
        build_model(arch, 8, 6, normalize="mean")
