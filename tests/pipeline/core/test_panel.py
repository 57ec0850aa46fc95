"""Many series in one dataset and covariates: long-format CSVs, per-series scaling on training data only,
windows that never cross series, covariates that never leak past an origin, short series refused or dropped,
one global network scored as the mean over series."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.core.config import SpecError, SplitSpec
from pipeline.core.data import Panel, Series, covariate_channels, load_sweep, prepare, read_csv_panel
from pipeline.core.hparams import HParams
from pipeline.core.origins import horizon_mase, targets
from pipeline.core.scoring import Scoring
from pipeline.core.training import fit_and_score

TINY = dict(hidden_size=8, window=6, batch_size=32, epochs=3, optimizer="adam", learning_rate=0.01)


def _panel_frame(lengths: dict[str, int], seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for k, (sid, n) in enumerate(lengths.items()):
        t = np.arange(n)
        price = 10 + rng.normal(0, 1, n).cumsum() * 0.1
        y = (k + 1) * 100 + 10 * np.sin(2 * np.pi * t / 12) - 3 * price + rng.normal(0, 1, n)
        rows.append(pd.DataFrame({"store": sid, "week": pd.date_range("2020-01-05", periods=n, freq="W"),
                                  "sales": y, "price": price, "month": (t % 12) + 1}))
    return pd.concat(rows).sample(frac=1.0, random_state=seed)  # long format, rows in any order


def _sweep(tmp_path: Path, csv: pd.DataFrame, **dataset: object) -> Path:
    import yaml

    csv.to_csv(tmp_path / "panel.csv", index=False)
    ds = {"name": "stores", "source": "csv", "path": "panel.csv", "id_column": "store", "time_column": "week",
          "value_column": "sales", "horizon": 3, **dataset}
    spec = {"name": "p", "datasets": [ds], "search_space": {**TINY, "strategy": "direct"},
            "budget": {"trials_per_cell": 0}}
    (tmp_path / "sweep.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    return tmp_path / "sweep.yaml"


def test_long_format_reads_one_series_per_id_in_time_order(tmp_path: Path) -> None:
    frame = _panel_frame({"a": 60, "b": 80})
    frame.to_csv(tmp_path / "p.csv", index=False)
    panel = read_csv_panel(str(tmp_path / "p.csv"), "sales", "week", "store", ["price"], ["month"])
    assert [s.id for s in panel.series] == ["a", "b"] and [len(s) for s in panel.series] == [60, 80]
    a = frame[frame["store"] == "a"].sort_values("week")
    np.testing.assert_array_equal(panel.series[0].y, a["sales"].to_numpy())
    np.testing.assert_array_equal(panel.series[0].past[:, 0], a["price"].to_numpy())
    np.testing.assert_array_equal(panel.series[0].future[:, 0], a["month"].to_numpy())


def test_covariate_errors_name_file_column_and_line(tmp_path: Path) -> None:
    frame = _panel_frame({"a": 60, "b": 60}).sort_values(["store", "week"]).reset_index(drop=True)
    text = frame.copy()
    text["price"] = text["price"].astype(object)
    text.loc[7, "price"] = "n/a?"
    path = _sweep(tmp_path, text, past_covariates=["price"])
    with pytest.raises(SpecError, match=r"datasets\[0\]\.past_covariates: non-numeric value 'n/a\?' in column "
                                        r"'price' at line 9 of .*panel\.csv"):
        load_sweep(path)
    gap = frame.copy()
    gap.loc[70, "month"] = np.nan
    path = _sweep(tmp_path, gap, future_covariates=["month"])
    with pytest.raises(SpecError, match=r"datasets\[0\]\.future_covariates: missing value in column 'month' at "
                                        r"line 72"):
        load_sweep(path)
    path = _sweep(tmp_path, frame, past_covariates=["promo"])
    with pytest.raises(SpecError, match=r"datasets\[0\]\.past_covariates: column 'promo' not in"):
        load_sweep(path)


def test_short_series_are_refused_by_name_or_dropped(tmp_path: Path) -> None:
    frame = _panel_frame({"a": 80, "tiny": 18, "b": 90})
    with pytest.raises(SpecError, match=r"datasets\[0\]\.short_series: dataset 'stores': 1 series too short for this "
                                        r"sweep: 'tiny' \(18 points\).*set short_series: drop"):
        load_sweep(_sweep(tmp_path, frame))
    _, data = load_sweep(_sweep(tmp_path, frame, short_series="drop"))
    assert [s.id for s in data["stores"].series] == ["a", "b"] and data["stores"].dropped == (("tiny", 18),)


def test_recursive_with_past_covariates_is_refused(tmp_path: Path) -> None:
    path = _sweep(tmp_path, _panel_frame({"a": 80}), past_covariates=["price"])
    text = path.read_text().replace("strategy: direct", "strategy: {choice: [direct, recursive]}")
    path.write_text(text)
    with pytest.raises(SpecError, match=r"datasets\[0\]\.past_covariates: the recursive strategy cannot know past "
                                        r"covariates beyond the origin"):
        load_sweep(path)


def _two_series(n: int = 100) -> tuple[Series, Series]:
    rng = np.random.default_rng(3)
    t = np.arange(n)
    a = Series("a", 5 + np.sin(t / 3) + rng.normal(0, 0.1, n), rng.normal(0, 1, (n, 1)), (t % 7)[:, None] * 1.0)
    b = Series("b", 1000 + 50 * np.cos(t / 5) + rng.normal(0, 5, n), rng.normal(5, 2, (n, 1)),
               ((t + 3) % 7)[:, None] * 1.0)
    return a, b


def test_each_series_is_scaled_on_its_own_training_part_only() -> None:
    a, b = _two_series()
    d = prepare(a.y, SplitSpec(), 6, horizon=3, outputs=3, past=a.past, future=a.future)
    a0, a1 = d.bounds[0]
    assert d.scaler.mean == pytest.approx(a.y[a0:a1].mean())
    changed = a.y.copy()
    changed[a1:] += 1e6  # validation and test values must not move the scaler or any training window
    d2 = prepare(changed, SplitSpec(), 6, horizon=3, outputs=3, past=a.past, future=a.future)
    assert d2.scaler == d.scaler
    np.testing.assert_array_equal(d2.train[0], d.train[0])
    np.testing.assert_array_equal(d2.train[1], d.train[1])
    # covariates likewise: standardised with their training part's mean and spread
    ch = covariate_channels(a.past, a.future, (a0, a1), 3)
    assert ch.shape == (len(a), 1 + 3)
    assert ch[a0:a1, 0].mean() == pytest.approx(0, abs=1e-12) and ch[a0:a1, 0].std() == pytest.approx(1)


def test_covariates_never_leak_past_an_origin_but_future_ones_reach_the_horizon() -> None:
    a, _ = _two_series()
    horizon = 3
    d = prepare(a.y, SplitSpec(), 6, horizon=horizon, outputs=horizon, past=a.past, future=a.future)
    o = int(d.test_origins[0])
    base = d.inputs_at(np.array([o]))
    assert base.shape == (1, 6, 1 + 1 + horizon)
    past = a.past.copy()
    past[o:] = 99.0  # planted at and after the origin: unknown when forecasting from it
    planted = prepare(a.y, SplitSpec(), 6, horizon=horizon, outputs=horizon, past=past, future=a.future)
    np.testing.assert_array_equal(planted.inputs_at(np.array([o])), base)
    future = a.future.copy()
    future[o + horizon:] = 99.0  # beyond the horizon: not fed
    beyond = prepare(a.y, SplitSpec(), 6, horizon=horizon, outputs=horizon, past=a.past, future=future)
    np.testing.assert_array_equal(beyond.inputs_at(np.array([o])), base)
    future = a.future.copy()
    future[o + horizon - 1] = 99.0  # inside the horizon: a future covariate is known there, and is fed
    inside = prepare(a.y, SplitSpec(), 6, horizon=horizon, outputs=horizon, past=a.past, future=future)
    assert not np.array_equal(inside.inputs_at(np.array([o])), base)


def test_one_global_network_over_the_series_scores_the_mean_over_series() -> None:
    a, b = _two_series()
    panel = Panel((a, b))
    hp = HParams.of("gru", {**TINY, "strategy": "direct"})
    r = fit_and_score(hp, panel, Scoring(horizon=3), seed=0, evaluate_test=True)
    single = [prepare(s.y, SplitSpec(), 6, horizon=3, outputs=3, past=s.past, future=s.future) for s in panel.series]
    # windows of every series in one training set, none crossing series: exactly the sum of each one's
    assert r.metrics["train_windows"] == sum(len(d.train[0]) for d in single)
    f = r.forecasts
    assert f is not None and [s["id"] for s in f["series"]] == ["a", "b"] and "generated" not in f
    per_series = []
    for s, d in zip(f["series"], single, strict=True):
        at = np.asarray(s["test_origins"], int)
        np.testing.assert_array_equal(at, d.test_origins)
        pred = np.asarray(s["test_pred"]).reshape(len(at), 3)
        per_series.append(horizon_mase(pred, targets(np.asarray(s["truth"]), at, 3), s["mase_scale"][0]))
    assert r.metrics["test_mase"] == pytest.approx(np.mean(per_series))
    assert "closed_loop_rmse" not in r.metrics


def test_recursive_strategy_runs_on_a_panel_with_future_covariates() -> None:
    a, b = _two_series()
    no_past = Panel(tuple(Series(s.id, s.y, np.zeros((len(s), 0)), s.future) for s in (a, b)))
    hp = HParams.of("lstm", {**TINY, "strategy": "recursive", "transform": "diff"})
    r = fit_and_score(hp, no_past, Scoring(horizon=4), seed=1, evaluate_test=True)
    assert np.isfinite(r.metrics["test_mase"]) and len(r.forecasts["series"]) == 2  # type: ignore[index]


def test_a_single_series_panel_is_the_series() -> None:
    a, _ = _two_series()
    hp = HParams.of("gru", {**TINY, "strategy": "direct"})
    as_array = fit_and_score(hp, a.y, Scoring(horizon=2), seed=2, evaluate_test=True)
    as_panel = fit_and_score(hp, Panel.single(a.y), Scoring(horizon=2), seed=2, evaluate_test=True)
    assert as_array.metrics["test_mase"] == as_panel.metrics["test_mase"]
    assert as_array.forecasts == as_panel.forecasts


def test_train_set_recursive_on_past_covariates_is_refused_and_training_refuses_it_too(tmp_path: Path) -> None:
    from pipeline.app.cli import main

    path = _sweep(tmp_path, _panel_frame({"a": 80}), past_covariates=["price"])
    assert main(["train", str(path), "--set", "strategy=recursive"]) == 2
    a, _ = _two_series()
    with pytest.raises(ValueError, match="recursive strategy cannot know past covariates"):
        fit_and_score(HParams.of("gru", {**TINY, "strategy": "recursive"}), Panel((a,)), Scoring(horizon=2), seed=0,
                      evaluate_test=False)


def test_too_few_test_origins_make_the_forecast_check_unavailable_not_a_crash() -> None:
    from pipeline.verdict.horizon import Paths
    from reports.build import _dm

    def run(shift: float) -> list[Paths]:
        at = np.array([10, 13])
        return [Paths(at, np.full((2, 3), shift), np.zeros((2, 3)), 1.0, sid) for sid in ("a", "b")]

    result = _dm({"gru": [run(0.1), run(0.2)], "lstm": [run(0.3), run(0.1)]})
    assert result.available is False and "2 test origins: the test needs at least 3" in result.note  # type: ignore[union-attr]
    three = {arch: [[Paths(np.array([1, 4, 7]), np.full((3, 3), s), np.zeros((3, 3)), 1.0, "a")] for s in (0.1, 0.3)]
             for arch in ("gru", "lstm")}
    assert _dm(three).available is True
