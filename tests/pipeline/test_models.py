from __future__ import annotations

import pytest

from pipeline.models import build_model, count_params


@pytest.mark.parametrize(("arch", "rnn", "total"), [("gru", 5160, 5201), ("lstm", 6720, 6761)])
def test_parameter_counts_match_the_seed(arch: str, rnn: int, total: int) -> None:
    model = build_model(arch, hidden_size=40, window=20)
    assert count_params(model) == total
    assert model.layers[0].count_params() == rnn
    assert model.layers[-1].count_params() == 41


def test_output_is_one_value_per_position() -> None:
    model = build_model("lstm", hidden_size=8, window=12, num_layers=2)
    assert model.output_shape == (None, 12, 1)
