from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline.core.config import BundledDataset, CsvDataset, SplitSpec
from pipeline.core.data import (
    DataError,
    damped_oscillation,
    forecast_inputs,
    handle_missing,
    load_panel,
    load_series,
    make_windows,
    prepare,
    split_bounds,
)
from tests.conftest import DATA as DATA_DIR


def test_damped_oscillation_is_the_seeds_series() -> None:
    y = damped_oscillation()
    assert y.shape == (200,)
    # values printed in the source article
    np.testing.assert_allclose(y[:4], [1.0, 0.98127212, 0.9568705, 0.92712705], atol=1e-8)
    x = np.linspace(0, 5 * np.pi, 200)
    np.testing.assert_allclose(y, np.exp(-x / 5) * np.cos(x))


def test_seed_windows_predict_the_next_value_at_every_position() -> None:
    y = np.arange(30, dtype=float)
    x, t = make_windows(y, 5)
    assert x.shape == t.shape == (25, 5, 1)
    np.testing.assert_array_equal(t[:, :, 0], x[:, :, 0] + 1)


def test_window_targets_never_leave_their_split() -> None:
    y = np.arange(100, dtype=float)
    (a0, a1), (b0, b1), _ = split_bounds(100, SplitSpec())
    _, train_t = make_windows(y, 10, a0, a1)
    _, val_t = make_windows(y, 10, b0, b1)
    assert train_t.max() < a1
    assert val_t.min() >= b0 and val_t.max() < b1


def test_forecast_inputs_are_the_points_just_before_each_target() -> None:
    y = np.arange(50, dtype=float)
    x = forecast_inputs(y, 4, 40, 43)
    np.testing.assert_array_equal(x[:, :, 0], [[36, 37, 38, 39], [37, 38, 39, 40], [38, 39, 40, 41]])


def test_scaler_sees_only_the_training_part() -> None:
    y = damped_oscillation()
    changed = y.copy()
    _, _, (t0, t1) = split_bounds(len(y), SplitSpec())
    _, (v0, v1), _ = split_bounds(len(y), SplitSpec())
    changed[v0:] += 1000.0  # validation and test values wildly different
    a, b = prepare(y, SplitSpec(), 10), prepare(changed, SplitSpec(), 10)
    assert a.scaler == b.scaler
    np.testing.assert_array_equal(a.train[0], b.train[0])


def test_missing_values_rejected_by_default_and_interpolated_on_request() -> None:
    y = np.array([1.0, np.nan, 3.0, 4.0])
    with pytest.raises(DataError, match="d: 1 missing value inside the series, the first at position 1; set missing: "
                                        "interpolate"):
        handle_missing(y, "reject", "d")
    np.testing.assert_allclose(handle_missing(y, "interpolate", "d"), [1, 2, 3, 4])
    time = np.arange("2016-01", "2016-07", dtype="datetime64[M]").astype("datetime64[ns]")
    with pytest.raises(DataError, match="2 missing values inside the series, the first at 2016-04-01;"):
        handle_missing(np.array([np.nan, 1.0, 2, np.nan, np.nan, 5]), "reject", "d", time)


def test_a_series_that_starts_late_or_stops_early_is_not_missing_values(tmp_path: Path) -> None:
    """The ragged edge of a real macro file (statsmodels' FRBNY nowcast data: the last month not yet published for
    most columns): the series runs from its first value to its last under either policy."""
    y = np.array([np.nan, 1.0, 2.0, 3.0, np.nan])
    for policy in ("reject", "interpolate"):
        np.testing.assert_array_equal(handle_missing(y, policy, "d"), [1, 2, 3])
    csv = tmp_path / "us.csv"
    csv.write_text("Date,HOUST\n" + "".join(f"{m}/1/{y},{1000 + m}\n" for y in (14, 15) for m in range(1, 13))
                   + "1/1/16,\n", encoding="utf-8")
    panel = load_panel(CsvDataset(name="h", source="csv", path=str(csv), time_column="Date", value_column="HOUST"))
    (s,) = panel.series
    assert len(s) == 24 and s.y[-1] == 1012 and str(s.time[-1])[:10] == "2015-12-01"


def test_builtin_statsmodels_series_load_without_download() -> None:
    co2 = load_series(BundledDataset(name="co2", source="co2", missing="interpolate"))
    assert np.isfinite(co2).all() and len(co2) > 2000
    assert len(load_series(BundledDataset(name="n", source="nile"))) == 100
    assert len(load_series(BundledDataset(name="e", source="elnino"))) == 61 * 12


def test_csv_series_is_read_in_time_order() -> None:
    from tests.conftest import DATA

    spec = CsvDataset(name="s", source="csv", path=str(DATA / "csv" / "good.csv"), value_column="sales",
                       time_column="date")
    y = load_series(spec)
    unsorted = load_series(spec.model_copy(update={"time_column": None}))
    assert len(y) == 120
    np.testing.assert_allclose(y, unsorted[::-1])  # the file is stored newest first


def test_csv_errors_name_the_setting_at_fault() -> None:
    from tests.conftest import DATA

    spec = CsvDataset(name="s", source="csv", path=str(DATA / "csv" / "good.csv"), value_column="nope")
    with pytest.raises(DataError) as info:
        load_series(spec)
    assert info.value.field == "value_column" and "'nope'" in str(info.value)


def test_a_setting_of_another_source_is_an_error_not_ignored() -> None:
    from pipeline.core.config import SpecError, load_spec

    with pytest.raises(SpecError, match=r"datasets\[0\]\.points: unknown key for source csv"):
        load_spec(DATA_DIR / "invalid" / "points_on_csv.yaml")


# shaped like matplotlib's sample `Stocks.csv`: a comment line before the header, ten years of monthly prices
_STOCKS = "# Data source: Yahoo Finance, adjusted close\nDate,AAPL,MSFT\n" + "".join(
    f"{2000 + y}-{m:02d}-01,{10 + y + m / 12 + 0.3 * (m % 4):.2f},{20 + y:.2f}\n"
    for y in range(10) for m in range(1, 13))


def _stocks_sweep(tmp_path: Path, extra: str) -> Path:
    (tmp_path / "Stocks.csv").write_text(_STOCKS, encoding="utf-8")
    sweep = tmp_path / "stocks.yaml"
    sweep.write_text("name: stocks\ndatasets:\n  - {name: aapl, source: csv, path: Stocks.csv, value_column: AAPL, "
                     f"time_column: Date{extra}}}\n", encoding="utf-8")
    return sweep


def test_a_csv_that_opens_on_a_comment_line_is_refused_with_the_setting_that_reads_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pipeline.app.cli import main

    sweep = _stocks_sweep(tmp_path, "")
    assert main(["validate", str(sweep)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert f"datasets[0].comment: {tmp_path / 'Stocks.csv'} starts with a comment line" in err
    assert 'set comment: "#" on this dataset' in err


def test_comment_skips_the_comment_lines_of_a_csv(tmp_path: Path) -> None:
    from pipeline.core.data import load_sweep

    spec, series = load_sweep(_stocks_sweep(tmp_path, ', comment: "#"'))
    assert len(series["aapl"].series[0]) == 120 and series["aapl"].series[0].y[0] == pytest.approx(10.38)


# comment and blank lines before and among the rows: errors name the file's own lines, as an editor numbers them
_COMMENTED = ("# Data source: a shop\n# prices in euros\nDate,AAPL,MSFT\n2000-01-01,10.0,20.0\n\n# a break\n"
              "2000-02-01,11.0,20.5  # revised\n{bad}\n2000-04-01,13.0,21.5\n")


@pytest.mark.parametrize(("row", "line", "problem"), [
    ("2000-03-01,abc,21.0", 8, "non-numeric value 'abc' in column 'AAPL' at line 8"),
    ("someday,12.0,21.0", 8, "'someday' at line 8 is not a date"),
    ("2000-02-01,12.0,21.0", 8, "duplicate time '2000-02-01' (line 8)"),
])
def test_a_bad_row_after_comment_lines_is_named_by_its_line_in_the_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], row: str, line: int, problem: str) -> None:
    from pipeline.app.cli import main

    (tmp_path / "Stocks.csv").write_text(_COMMENTED.format(bad=row), encoding="utf-8")
    assert (tmp_path / "Stocks.csv").read_text().splitlines()[line - 1] == row
    sweep = tmp_path / "stocks.yaml"
    sweep.write_text("name: stocks\ndatasets:\n  - {name: aapl, source: csv, path: Stocks.csv, value_column: AAPL, "
                     'time_column: Date, comment: "#"}\n', encoding="utf-8")
    assert main(["validate", str(sweep)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and problem in err, err


def test_a_yaml_syntax_error_names_its_line_counting_comment_lines(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pipeline.app.cli import main

    sweep = tmp_path / "broken.yaml"
    sweep.write_text("# a sweep\n# of a shop\nname: shop\ndatasets:\n  - {name: a, source: csv\n  path: x.csv\n",
                     encoding="utf-8")
    assert main(["validate", str(sweep)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert "not valid YAML (expected ',' or '}', but got ':' at line 6, column 7, while parsing a flow mapping " \
           "from line 5)" in err
