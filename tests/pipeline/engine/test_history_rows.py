"""`tracking.history_every`: which per-epoch rows a trial logs."""

from __future__ import annotations

import pytest

from pipeline.core.config import SweepSpec
from pipeline.engine.tuning import HistoryRows


def _rows(every: int, epochs: int) -> list[float]:
    pending: dict[str, list[float]] = {"epoch": [], "loss": []}
    rows = HistoryRows(pending, every)
    for epoch in range(epochs):
        rows.add((epoch, 1.0 / (epoch + 1)))
    rows.finish()
    assert pending["loss"] == [1.0 / (e + 1) for e in pending["epoch"]]  # each value stays with its epoch
    return pending["epoch"]


@pytest.mark.parametrize(("every", "epochs", "expected"), [
    (1, 4, [0, 1, 2, 3]),
    (5, 12, [0, 5, 10, 11]),  # and the last epoch, whichever it is
    (5, 11, [0, 5, 10]),  # the last epoch is a multiple: not twice
    (50, 3, [0, 2]),
])
def test_every_kth_epoch_and_the_last(every: int, epochs: int, expected: list[int]) -> None:
    assert _rows(every, epochs) == expected


def test_history_every_defaults_to_every_epoch_and_must_be_positive() -> None:
    base = {"name": "s", "datasets": [{"name": "d", "source": "damped_oscillation"}]}
    assert SweepSpec.model_validate(base).tracking.history_every == 1
    assert SweepSpec.model_validate({**base, "tracking": {"history_every": 5}}).tracking.history_every == 5
    with pytest.raises(ValueError, match="history_every"):
        SweepSpec.model_validate({**base, "tracking": {"history_every": 0}})
