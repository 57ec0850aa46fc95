"""Time columns: a series reaches training in its true order, or the file is refused in one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.core.config import CsvDataset
from pipeline.core.data import DataError, load_panel, read_csv_panel
from pipeline.core.timeaxis import Step, TimeError, infer_step, parse_times

MONTHS = pd.date_range("1995-01-01", periods=36, freq="MS")


def _csv(tmp_path: Path, times: list[str], values: np.ndarray | None = None, shuffle: bool = True) -> str:
    """A one-series file whose values count 0, 1, 2, ... in true time order, its rows in random order."""
    frame = pd.DataFrame({"date": times, "sales": np.arange(len(times), dtype=float) if values is None else values})
    if shuffle:
        frame = frame.sample(frac=1.0, random_state=3)
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    return str(path)


@pytest.mark.parametrize("form", [
    lambda d: f"{d:%b}-{d.day}-{d.year}",  # statsmodels' elec_equip.csv: Jan-1-1995
    lambda d: f"{d.month}/{d.day}/{d.year}",  # a US spreadsheet export: 1/1/1995, ..., 12/1/1995
    lambda d: f"{d:%Y-%m-%d}",  # ISO, rows shuffled
    lambda d: f"{d:%d.%m.%Y}",  # a German export: day-first with dots
], ids=["mon-d-yyyy", "us-slashes", "iso", "dotted-day-first"])
def test_dates_are_read_in_calendar_order_not_as_text(tmp_path: Path, form: object) -> None:
    path = _csv(tmp_path, [form(d) for d in MONTHS])  # type: ignore[operator]
    panel = read_csv_panel(path, "sales", "date")
    np.testing.assert_array_equal(panel.series[0].y, np.arange(36.0))
    assert panel.step == Step("months", 1.0)
    assert panel.describe() == "1995-01 to 1997-12, monthly, 36 points"


def test_day_first_dates_need_and_obey_time_format(tmp_path: Path) -> None:
    days = pd.date_range("1995-01-01", periods=12, freq="MS")
    path = _csv(tmp_path, [f"{d.day:02d}/{d.month:02d}/{d.year}" for d in days])  # regular either way: ambiguous
    with pytest.raises(DataError, match="set time_format") as info:
        read_csv_panel(path, "sales", "date")
    assert info.value.field == "time_column" and "'date'" in str(info.value) and path in str(info.value)
    panel = read_csv_panel(path, "sales", "date", time_format="%d/%m/%Y")
    np.testing.assert_array_equal(panel.series[0].y, np.arange(12.0))
    assert panel.describe() == "1995-01 to 1995-12, monthly, 12 points"


def test_a_value_that_does_not_parse_names_its_line_and_value(tmp_path: Path) -> None:
    times = [f"{d:%b}-{d.day}-{d.year}" for d in MONTHS]
    times[4] = "Mai-1-1995"
    path = _csv(tmp_path, times, shuffle=False)
    with pytest.raises(DataError, match=r"'Mai-1-1995' at line 6 is not a date") as info:
        read_csv_panel(path, "sales", "date")
    assert info.value.field == "time_column"
    with pytest.raises(DataError, match=r"'Mai-1-1995' at line 6 does not match time_format") as info:
        read_csv_panel(path, "sales", "date", time_format="%b-%d-%Y")
    assert info.value.field == "time_format"


def test_a_missing_month_is_an_error_or_filled_and_counted(tmp_path: Path) -> None:
    kept = [i for i in range(36) if i not in (5, 6)]
    path = _csv(tmp_path, [f"{MONTHS[i]:%Y-%m-%d}" for i in kept], values=np.array(kept, float))
    with pytest.raises(DataError, match="2 monthly times missing inside the series, the first 1995-06") as info:
        read_csv_panel(path, "sales", "date")
    assert info.value.field == "missing"
    spec = CsvDataset(name="s", source="csv", path=path, value_column="sales", time_column="date",
                      missing="interpolate")
    panel = load_panel(spec)
    s = panel.series[0]
    np.testing.assert_allclose(s.y, np.arange(36.0))  # the two inserted months interpolated
    assert (s.filled, s.inserted) == (2, 2)
    assert str(s.time[5])[:7] == "1995-06"  # type: ignore[index]
    assert panel.describe().endswith("; 2 missing values filled by interpolation (2 at times absent from the file)")


def test_an_irregular_step_is_an_error_naming_the_time(tmp_path: Path) -> None:
    weeks = list(pd.date_range("2020-01-05", periods=30, freq="W-SUN"))
    weeks[10] += pd.Timedelta(days=2)
    path = _csv(tmp_path, [f"{d:%Y-%m-%d}" for d in weeks])
    with pytest.raises(DataError, match="irregular time step: 2020-03-17 comes 9 days after 2020-03-08") as info:
        read_csv_panel(path, "sales", "date")
    assert info.value.field == "time_column"


def test_panel_rows_in_any_order_give_each_series_in_time_order(tmp_path: Path) -> None:
    frame = pd.concat([pd.DataFrame({"id": k, "date": [f"{d:%b}-{d.day}-{d.year}" for d in MONTHS[:n]],
                                     "sales": np.arange(n, dtype=float) * (1 + j)})
                       for j, (k, n) in enumerate((("b", 36), ("a", 30)))]).sample(frac=1.0, random_state=0)
    frame.to_csv(tmp_path / "p.csv", index=False)
    panel = read_csv_panel(str(tmp_path / "p.csv"), "sales", "date", "id")
    assert [s.id for s in panel.series] == ["a", "b"]
    np.testing.assert_array_equal(panel.series[0].y, 2 * np.arange(30.0))
    np.testing.assert_array_equal(panel.series[1].y, np.arange(36.0))
    assert panel.describe() == "2 series, monthly, 1995-01 to 1997-12, 30-36 points"


def test_series_of_a_panel_with_different_steps_are_an_error(tmp_path: Path) -> None:
    frame = pd.concat([pd.DataFrame({"id": "a", "date": MONTHS.strftime("%Y-%m-%d"), "sales": 1.0}),
                       pd.DataFrame({"id": "b", "date": pd.date_range("1995-01-01", periods=36, freq="QS")
                                     .strftime("%Y-%m-%d"), "sales": 1.0})])
    frame.to_csv(tmp_path / "p.csv", index=False)
    with pytest.raises(DataError, match="series 'a' is monthly and series 'b' quarterly"):
        read_csv_panel(str(tmp_path / "p.csv"), "sales", "date", "id")


def test_numeric_times_keep_working_and_no_time_column_keeps_row_order(tmp_path: Path) -> None:
    years = np.arange(1900, 1940)
    path = _csv(tmp_path, [str(y) for y in years])
    panel = read_csv_panel(path, "sales", "date")
    np.testing.assert_array_equal(panel.series[0].y, np.arange(40.0))
    assert panel.describe() == "1900 to 1939, step 1, 40 points"
    as_written = pd.read_csv(path)["sales"].to_numpy(float)
    np.testing.assert_array_equal(read_csv_panel(path, "sales").series[0].y, as_written)


@pytest.mark.parametrize(("times", "label"), [
    (pd.date_range("2020-01-01", periods=20, freq="B"), "business daily"),
    (pd.date_range("2020-01-05", periods=20, freq="W-SUN"), "weekly"),
    (pd.date_range("2020-01-31", periods=20, freq="ME"), "monthly"),
    (pd.date_range("2020-03-31", periods=20, freq="QE"), "quarterly"),
    (pd.date_range("2020-01-01", periods=20, freq="h"), "hourly"),
    (pd.date_range("1990-01-01", periods=20, freq="YS"), "yearly"),
])
def test_common_steps_are_inferred_without_gaps(times: pd.DatetimeIndex, label: str) -> None:
    step, missing = infer_step(times.to_numpy("datetime64[ns]"), "s")
    assert step.label == label and len(missing) == 0


def test_dates_that_are_only_regular_month_first_are_read_month_first() -> None:
    us = [f"{d.month}/{d.day}/{d.year}" for d in MONTHS]  # 24 months: day-first would jump between January days
    parsed = parse_times(us, "f.csv", "date")
    assert (parsed == MONTHS.to_numpy("datetime64[ns]")).all()
    with pytest.raises(TimeError, match="neither a number nor a date"):
        parse_times(["abc", "def"], "f.csv", "date")


def test_statsmodels_elec_equip_reaches_training_in_calendar_order(tmp_path: Path) -> None:
    """A real CSV shipped with an installed package, its dates not ISO (`Jan-1-1995`): read through a sweep file
    as a user would, its values must be statsmodels' own series, January 1995 first."""
    import yaml
    from statsmodels.datasets import elec_equip

    from pipeline.core.data import load_sweep

    path = Path(elec_equip.__file__).parent / "elec_equip.csv"
    column = "STS.M.I7.W.TOVT.NS0016.4.000"
    spec = {"name": "e", "datasets": [{"name": "elec", "source": "csv", "path": str(path), "value_column": column,
                                       "time_column": "DATE", "season": 12}], "search_space": {"window": 12}}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    _, data = load_sweep(tmp_path / "s.yaml")
    truth = elec_equip.load_pandas().data.sort_index()
    np.testing.assert_array_equal(data["elec"].series[0].y, truth[column].to_numpy(float))
    assert data["elec"].describe() == f"1995-01 to {truth.index[-1]:%Y-%m}, monthly, {len(truth)} points"
