"""Splits by counts: the last `test` points of every series, whatever its length (the competitions' protocol)."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.core.config import SplitSpec
from pipeline.core.data import prepare, split_bounds


@pytest.mark.parametrize("n", [40, 57, 90])
def test_a_count_split_puts_exactly_the_last_test_points_of_every_series_in_test(n: int) -> None:
    split = SplitSpec(validation=18, test=12)
    assert split.counts
    assert split_bounds(n, split) == [(0, n - 30), (n - 30, n - 12), (n - 12, n)]


def test_an_unequal_panel_is_scored_on_the_same_last_points_of_each_series() -> None:
    split = SplitSpec(validation=12, test=12)
    for n in (48, 75, 130):
        data = prepare(np.sin(np.arange(n) / 3.0) + 2, split, window=6, horizon=6)
        assert data.test_origins.tolist() == [n - 12, n - 6]  # two origins, the last forecasts the final 6 points
        assert data.val_origins.tolist() == [n - 24, n - 18]
        assert data.bounds[0] == (0, n - 24)


def test_fractions_keep_working_and_say_what_they_are() -> None:
    split = SplitSpec()
    assert not split.counts and split_bounds(100, split) == [(0, 70), (70, 85), (85, 100)]
    assert SplitSpec(validation=18, test=18).describe() == (
        "the last 18 points of each series for test, the 18 before for validation")


def test_a_count_split_travels_to_the_workers_and_back_unchanged() -> None:
    """The sweep file reaches every Ray worker (and the saved state) as JSON: a count split must read back as
    given (it has no `train`; writing the default 0.7 made every trial of an M3 sweep fail validation)."""
    from pipeline.core.config import SweepSpec
    from pipeline.core.data import load_sweep
    from tests.conftest import ROOT

    spec, _ = load_sweep(ROOT / "search_spaces" / "m3_monthly.yaml")
    split = spec.split_for("m3_monthly")
    assert split.counts and "train" not in split.model_dump()
    assert SweepSpec.model_validate_json(spec.model_dump_json()) == spec
    assert SplitSpec.model_validate_json(SplitSpec().model_dump_json()) == SplitSpec()  # fractions keep train
