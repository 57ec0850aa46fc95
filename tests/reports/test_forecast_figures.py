"""What an analyst sees per series: forecasts against actuals, the error by step, and the per-series and per-step
tables, from runs logged by hand (a 2-series monthly panel with its forecasts and baselines.json)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from reports import build_report, compute_verdict, plots
from reports.render import report_html, series_caveats, series_table
from reports.series import most_important, series_views
from tests.reports.hand_made import (
    PANEL_HORIZON,
    PANEL_IDS,
    PANEL_ORIGINS,
    log_hand_made_panel,
    log_hand_made_runs,
    panel_truth,
)


def _targets(y: np.ndarray) -> np.ndarray:
    return y[PANEL_ORIGINS[:, None] + np.arange(PANEL_HORIZON)[None, :]]


def _mase(pred: np.ndarray, y: np.ndarray) -> float:
    scale = np.mean(np.abs(np.diff(y[:PANEL_ORIGINS[0]])))
    return float(np.mean(np.abs(pred - _targets(y))) / scale)


@pytest.fixture()
def panel(tmp_path: Path) -> tuple[Any, str, dict[str, dict[str, list[Any]]]]:
    return log_hand_made_panel(f"sqlite:///{tmp_path / 'mlflow.db'}")


def test_the_per_series_table_has_each_series_scores_as_computed_from_the_forecasts(panel: Any) -> None:
    client, parent_id, preds = panel
    verdict, _ = compute_verdict(client, parent_id)
    scores = verdict.dataset("shop").scores
    assert scores is not None and scores.series == list(PANEL_IDS)
    assert scores.forecasters[:4] == ["gru", "gru_ensemble", "lstm", "lstm_ensemble"]
    assert set(scores.forecasters[4:]) == {"naive", "ets"}
    truth = panel_truth()
    for sid, row in zip(PANEL_IDS, scores.per_series, strict=True):
        got = dict(zip(scores.forecasters, row, strict=True))
        y = truth[sid]
        for arch in ("gru", "lstm"):
            per_seed = [_mase(p, y) for p in preds[arch][sid]]
            assert got[arch] == pytest.approx(np.exp(np.mean(np.log(per_seed))))
            assert got[f"{arch}_ensemble"] == pytest.approx(_mase(np.median(preds[arch][sid], axis=0), y))
        naive = np.repeat(y[PANEL_ORIGINS - 1][:, None], PANEL_HORIZON, axis=1)
        assert got["naive"] == pytest.approx(_mase(naive, y))
    # each step: the mean over the two series of that step's ensemble MASE
    step1 = np.mean([np.mean(np.abs(np.median(preds["lstm"][sid], axis=0) - _targets(truth[sid]))[:, 0])
                     / np.mean(np.abs(np.diff(truth[sid][:PANEL_ORIGINS[0]]))) for sid in PANEL_IDS])
    assert scores.per_step[0][scores.forecasters.index("lstm_ensemble")] == pytest.approx(step1)
    header, rows, note = series_table(verdict.dataset("shop")) or ([], [], "")
    assert [r[0] for r in rows] == list(PANEL_IDS) and "both series" in note
    assert rows[0][header.index("GRU ensemble")] == f"{scores.per_series[0][1]:.3g}"


def test_the_forecast_figure_draws_every_series_of_a_two_series_panel(panel: Any) -> None:
    client, parent_id, _ = panel
    _, ctx = compute_verdict(client, parent_id)
    views = ctx.views["shop"]
    assert most_important(views) == views
    fig = plots.forecast_figure(views, "shop", len(views), "lstm", "ets")
    truth = panel_truth()
    for ax, sid in zip(fig.axes, PANEL_IDS, strict=True):
        assert f"series {sid}" in ax.get_title()
        lines = {line.get_label(): line for line in ax.get_lines()}
        actual = lines["actual"].get_ydata()
        assert np.allclose(actual[1:], truth[sid][PANEL_ORIGINS[0]:PANEL_ORIGINS[-1] + PANEL_HORIZON])
        assert {"LSTM ensemble (median)", "GRU ensemble (median)", "ETS (best baseline)"} <= set(lines)
        # the real time axis: monthly dates, the first forecast origin at 2022-04 (point 39 from 2019-01)
        first_origin = ax.get_lines()[2].get_xdata()[0]  # the dotted origin marker
        assert str(np.datetime64(first_origin, "M")) == "2022-04"
    assert len(fig.axes) == 2


def test_the_largest_series_are_shown_when_a_panel_has_more_than_fit(panel: Any) -> None:
    client, parent_id, _ = panel
    _, ctx = compute_verdict(client, parent_id)
    views = ctx.views["shop"]
    assert [v.id for v in most_important(views, 1)] == ["north"]  # about 100 against 20


def test_the_report_shows_figures_tables_and_says_a_win_rests_on_some_series(panel: Any, tmp_path: Path) -> None:
    client, parent_id, _ = panel
    build_report(client, parent_id, tmp_path / "out")
    report = tmp_path / "out" / "report"
    html = (report / "report.html").read_text(encoding="utf-8")
    summary = (report / "summary.md").read_text(encoding="utf-8")
    assert "shop: test forecasts against actuals, both its series" in html
    assert "shop: test MASE at each step ahead" in html
    assert "<table class='scores' id='shop-test-mase-per-series'>" in html
    assert "GRU is better on 1 of 2 series, LSTM on 1" in html and "What the p-values cover" in html
    for name in ("forecasts_shop.png", "error_by_step_shop.png"):
        assert f"](figures/{name})" in summary and (report / "figures" / name).read_bytes()[:4] == b"\x89PNG"
    logged = {f.path for f in client.list_artifacts(parent_id, "report/figures")}
    assert logged == {"report/figures/forecasts_shop.png", "report/figures/error_by_step_shop.png"}
    # the confirm runs are final fits on train + validation: no validation loss to name
    assert "so they have no validation loss" in html


def test_a_store_without_baselines_json_still_reports_forecasts_without_baselines(tmp_path: Path) -> None:
    client, parent_id, _ = log_hand_made_panel(f"sqlite:///{tmp_path / 'mlflow.db'}", with_baselines=False)
    verdict = build_report(client, parent_id, tmp_path / "out")
    scores = verdict.dataset("shop").scores
    assert scores is not None and scores.forecasters == ["gru", "gru_ensemble", "lstm", "lstm_ensemble"]
    html = (tmp_path / "out" / "report" / "report.html").read_text(encoding="utf-8")
    assert "this sweep logged no baselines.json" in html and "id='shop-test-mase-per-series'" in html


def test_runs_without_forecasts_get_no_forecast_figure_or_table(tmp_path: Path) -> None:
    client, parent_id, _ = log_hand_made_runs(f"sqlite:///{tmp_path / 'mlflow.db'}")
    verdict = build_report(client, parent_id, tmp_path / "out")
    assert verdict.dataset("sines").scores is None
    assert "test forecasts against actuals" not in (tmp_path / "out" / "report" / "report.html").read_text()
    assert not (tmp_path / "out" / "report" / "figures").exists()


def test_loss_curves_of_final_fits_name_no_val_loss() -> None:
    refit = {"gru": [{"loss": [1.0, 0.5], "val_loss": []}] * 2}
    labels = [t.get_text() for t in plots.loss_figure(refit, "d").axes[0].get_legend().get_texts()]
    assert labels == ["gru loss (2 seeds)"]
    held_out = {"gru": [{"loss": [1.0, 0.5], "val_loss": [1.2, 0.7]}] * 2}
    labels = [t.get_text() for t in plots.loss_figure(held_out, "d").axes[0].get_legend().get_texts()]
    assert labels == ["gru loss (2 seeds)", "gru val_loss (2 seeds)"]


def test_views_of_one_step_forecasts_from_before_horizons_start_at_the_test_split() -> None:
    old = {"truth": [1.0, 2.0, 3.0, 4.0, 5.0], "test_start": [3.0], "test_pred": [3.9, 5.2]}
    (view,) = series_views({"gru": [old], "lstm": [old]}, None)
    assert view.origins.tolist() == [3, 4] and view.horizon == 1 and view.baselines == {}


def test_the_decision_says_when_a_win_rests_on_some_series_only(panel: Any) -> None:
    client, parent_id, _ = panel
    verdict, _ = compute_verdict(client, parent_id)
    won = verdict.model_copy(update={"datasets": [verdict.dataset("shop").model_copy(update={"label": "gru"})]})
    (line,) = series_caveats(won)
    assert "GRU is better on 1 of 2 series" in line and "The GRU win rests on 1 of the 2 series" in line
    assert "<p class='warn series-caveat'>Not on every series: shop: GRU is better" in report_html(won, [])


def test_a_confirm_runs_own_forecast_png_draws_every_series_on_the_time_axis_marked_where_forecasts_start(
        panel: Any, tmp_path: Path) -> None:
    """`forecast.png` on a confirm run: each series of the panel (not the first only), dates on the x axis, the
    dotted marker at the first forecast origin, and the run's own forecasts there."""
    import json

    client, parent_id, preds = panel
    run = client.search_runs([client.get_run(parent_id).info.experiment_id],
                             "tags.`gatesweep.role` = 'confirm' and tags.`gatesweep.arch` = 'gru'")[0]
    f = json.loads(Path(client.download_artifacts(run.info.run_id, "forecasts.json", str(tmp_path))).read_text())
    fig = plots.run_forecast_figure(f, run.info.run_name, "gru")
    assert run.info.run_name in fig.texts[0].get_text()  # the suptitle
    truth = panel_truth()
    for ax, entry in zip(fig.axes, f["series"], strict=True):
        sid = entry["id"]
        assert ax.get_title() == f"series {sid}"
        lines = {line.get_label(): line for line in ax.get_lines()}
        marker = lines["first forecast origin"].get_xdata()[0]
        assert str(np.datetime64(marker, "M")) == "2022-04"  # point 39 of a monthly series from 2019-01
        forecast = lines[f"test forecasts, {PANEL_HORIZON} steps from each origin"]
        assert str(np.datetime64(forecast.get_xdata()[0], "M")) == "2022-04"  # the forecasts start at the marker
        assert np.allclose(forecast.get_ydata(), np.asarray(entry["test_pred"], float))
        assert np.allclose(lines["actual"].get_ydata()[1:],
                           truth[sid][PANEL_ORIGINS[0]:PANEL_ORIGINS[-1] + PANEL_HORIZON])
    assert len(fig.axes) == len(PANEL_IDS)


def test_a_run_picture_of_a_large_panel_shows_its_six_largest_series() -> None:
    """Nine series: the six with the largest level over the test part, in the panel's order."""
    import pandas as pd

    times = [str(d.date()) for d in pd.date_range("2019-01-01", periods=48, freq="MS")]
    series = []
    for k in range(9):
        y = (k + 1) * 10 + np.sin(np.arange(48.0))
        series.append({"id": f"s{k}", "truth": y.tolist(), "time": times, "mase_scale": [1.0],
                       "test_origins": PANEL_ORIGINS.tolist(),
                       "test_pred": y[PANEL_ORIGINS[:, None] + np.arange(PANEL_HORIZON)].reshape(-1).tolist()})
    f = {"horizon": [PANEL_HORIZON], "series": series, **{k: series[0][k] for k in ("truth", "test_pred")}}
    fig = plots.run_forecast_figure(f, "s10000-gru-confirm")
    assert [ax.get_title() for ax in fig.axes] == [f"series s{k}" for k in range(3, 9)]
    assert "6 of 9 series, the largest" in fig.texts[0].get_text()


def test_a_single_series_gets_its_baselines_though_its_forecasts_carry_no_id() -> None:
    """A univariate dataset's forecasts.json has no series id; baselines.json names the series after the dataset.
    Found on a real CSV (matplotlib's msft.csv): the report drew no baseline and the table had none."""
    truth = list(np.linspace(1.0, 2.0, 20))
    run = {"truth": truth, "test_pred": [1.5] * 6, "test_origins": [14, 17], "horizon": [3], "test_start": [14]}
    entry = {"horizon": 3, "series": [{"id": "msft", "test_origins": [14, 17], "truth": truth[14:20],
                                       "mase_scale": 0.05, "pred": {"naive": truth[13:14] * 3 + truth[16:17] * 3},
                                       "mase": {"naive": 1.0}}]}
    (view,) = series_views({"gru": [run], "lstm": [run]}, entry)
    assert set(view.baselines) == {"naive"}
    np.testing.assert_allclose(view.baselines["naive"].pred, [[truth[13]] * 3, [truth[16]] * 3])
