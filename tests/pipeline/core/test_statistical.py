"""ETS, ARIMA and Theta baselines from statsforecast: the forecasts statsforecast itself makes, from the networks'
origins with the fitted parameters, the same MASE whatever the units, and a failure that is reported instead of
raised."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.core.config import SplitSpec
from pipeline.core.data import split_bounds
from pipeline.core.metrics import baselines, baselines_many, naive_paths, smape
from pipeline.core.origins import horizon_mase, origins, targets
from pipeline.core.scoring import Scoring
from pipeline.core.statistical import model_paths, statistical_paths

T = np.arange(96)
SERIES = 20 + 0.3 * T + 3 * np.sin(2 * np.pi * T / 12) + np.random.default_rng(5).normal(0, 0.5, 96)
FIT = (0, 72)
# trend x multiplicative season (the amplitude grows with the level), as airline passengers or retail sales
MULT = (100 + 2 * T) * (1 + 0.3 * np.sin(2 * np.pi * T / 12)) * np.exp(np.random.default_rng(1).normal(0, 0.02, 96))


def _statsforecast(model: object, y: np.ndarray, h: int) -> np.ndarray:
    """statsforecast's own high-level forecast of `y` (one series, integer times)."""
    from statsforecast import StatsForecast

    df = pd.DataFrame({"unique_id": "s", "ds": np.arange(1, len(y) + 1), "y": y})
    out = StatsForecast(models=[model], freq=1, n_jobs=1).forecast(df=df, h=h)
    return out[out.columns[-1]].to_numpy()


def test_ets_from_the_end_of_its_fit_part_is_statsforecasts_own_forecast() -> None:
    from statsforecast.models import AutoETS

    paths, form = model_paths("ets", MULT, FIT, np.array([72]), 12, 12)
    # AutoETS is scale-equivariant, so the forecast of the series as given is the same
    np.testing.assert_allclose(paths[0], _statsforecast(AutoETS(season_length=12), MULT[:72], 12), rtol=1e-6)
    assert form.startswith("ETS(") and form.endswith(",M)"), form  # it finds the multiplicative season


@pytest.mark.parametrize("name", ["arima", "theta"])
def test_arima_and_theta_are_statsforecasts_forecasts_of_the_normalised_series(name: str) -> None:
    from statsforecast.models import AutoARIMA, Theta

    y = MULT[:72]
    c = float(np.mean(np.abs(y)))
    paths, form = model_paths(name, MULT, FIT, np.array([72]), 12, 12)
    if name == "arima":  # a positive series: ARIMA on its log (auto.arima(lambda = 0)), back by exp
        expected = np.exp(_statsforecast(AutoARIMA(season_length=12), np.log(y / c), 12)) * c
        assert form.endswith(" on log") and "[12]" in form, form
    else:
        expected = _statsforecast(Theta(season_length=12), y / c, 12) * c
    np.testing.assert_allclose(paths[0], expected, rtol=1e-6)


def test_arima_on_a_series_that_goes_below_zero_is_fitted_on_the_series_itself() -> None:
    paths, form = model_paths("arima", SERIES - 60, FIT, np.array([72, 84]), 6, 12)
    assert not form.endswith("on log") and (paths < 0).any()  # not clipped: the series itself was negative


@pytest.mark.parametrize("name", ["ets", "arima", "theta"])
def test_later_origins_read_only_the_values_before_them_with_the_fitted_parameters(name: str) -> None:
    at = np.array([72, 78, 84])
    clean, form = model_paths(name, MULT, FIT, at, 6, 12)
    planted = MULT.copy()
    planted[78] *= 1.5  # a value after the fit part: parameters unchanged, the filter reads it from origin 84 on
    dirty, dirty_form = model_paths(name, planted, FIT, at, 6, 12)
    assert dirty_form == form
    np.testing.assert_allclose(dirty[:2], clean[:2])  # origins 72 and 78 forecast without reading point 78
    assert np.abs(dirty[2] - clean[2]).max() > 1e-3  # origin 84 reads it


def test_the_statistical_baselines_beat_seasonal_naive_on_a_trend_with_a_multiplicative_season() -> None:
    at = origins(72, 96, 12, 12)
    truth = targets(MULT, at, 12)
    scale = float(np.mean(np.abs(MULT[12:72] - MULT[:60])))
    snaive = horizon_mase(naive_paths(MULT, at, 12, 12), truth, scale)
    for name in ("ets", "arima", "theta"):
        paths, _ = model_paths(name, MULT, FIT, at, 12, 12)
        assert horizon_mase(paths, truth, scale) < snaive, name  # seasonal naive misses the trend's 2 a month


def test_a_baseline_that_cannot_be_fitted_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    import statsforecast.models

    def broken(self: object, y: np.ndarray, *args: object, **kwargs: object) -> None:
        raise ValueError("planted: the optimiser found no finite likelihood\nsecond line")

    monkeypatch.setattr(statsforecast.models.AutoETS, "fit", broken)
    out = statistical_paths(SERIES, FIT, np.array([72]), 3)
    assert out["ets"] == "ValueError: planted: the optimiser found no finite likelihood"
    assert isinstance(out["theta"], tuple) and isinstance(out["arima"], tuple)
    scores = baselines(SERIES, Scoring(horizon=3), 4)
    assert set(scores.failed) == {"ets"} and "ets_mase" not in scores.metrics and "ets" not in scores.forms
    assert {"naive_mase", "ar_mase", "theta_mase", "arima_mase", "theta_smape"} <= set(scores.metrics)


def test_a_series_that_never_went_below_zero_is_never_forecast_below_zero() -> None:
    falling = np.r_[np.linspace(50, 2, 60), np.full(20, 1.0)]  # a linear fall: a trend model would cross zero
    for name in ("ets", "arima", "theta"):
        paths, _ = model_paths(name, falling, (0, 40), np.array([40, 50]), 20, None)
        assert paths.min() >= 0, name


@pytest.mark.parametrize("final_fit, fit_end", [("train+validation", 81), ("train", 67)])
def test_baselines_are_fitted_on_what_the_confirm_runs_are_fitted_on(final_fit: str, fit_end: int,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import pipeline.core.statistical as statistical

    seen = []
    real = statistical.model_paths

    def spy(name: str, series: np.ndarray, fit: tuple[int, int], *args: object) -> tuple[np.ndarray, str]:
        seen.append(fit)
        return real(name, series, fit, *args)

    monkeypatch.setattr(statistical, "model_paths", spy)
    bounds = split_bounds(len(SERIES), SplitSpec())  # 70 / 15 / 15 of 96: train [0, 67), test from 81
    assert bounds[0] == (0, 67) and bounds[2][0] == 81
    scores = baselines(SERIES, Scoring(season=12, horizon=3, final_fit=final_fit), 4)
    assert seen == [(0, fit_end)] * 3 and set(scores.forms) == {"ets", "arima", "theta"}


@pytest.mark.parametrize("horizon", [1, 4])
def test_baselines_score_the_networks_origins(horizon: int) -> None:
    bounds = split_bounds(len(SERIES), SplitSpec())
    scores = baselines(SERIES, Scoring(season=12, horizon=horizon, origin_step=2), 4)
    at = origins(*bounds[2], horizon, 2)
    truth = targets(SERIES, at, horizon)
    assert len(at) >= 3 and set(scores.seconds) == {"ets", "arima", "theta"} and min(scores.seconds.values()) > 0
    naive = naive_paths(SERIES, at, horizon)
    assert scores.metrics["naive_smape"] == pytest.approx(smape(naive, truth))
    assert scores.metrics["ets_mase"] < scores.metrics["naive_mase"]  # a trend and a season: ETS models both


def test_the_same_mase_whatever_the_units() -> None:
    """A panel whose series are in units 1000 times apart scores every baseline as the same series do."""
    scoring = Scoring(split=SplitSpec(validation=12, test=12), season=12, horizon=6, final_fit="train")
    calls = [{"series": y, "scoring": scoring, "window": 13} for y in (MULT, SERIES)]
    plain = baselines_many(calls)
    scaled = baselines_many([{**calls[0], "series": MULT * 1000}, {**calls[1], "series": SERIES / 1000}])
    for a, b in zip(plain, scaled, strict=True):
        assert a.forms == b.forms
        for key, value in a.metrics.items():
            if key.endswith(("_mase", "_smape")):
                assert b.metrics[key] == pytest.approx(value, rel=1e-6, abs=1e-9), key


def test_many_series_across_processes_score_as_one_process_does() -> None:
    """The pool (spawned workers) returns every series' scores, in order, equal to the scores made in process."""
    rng = np.random.default_rng(3)
    ys = [MULT * f + rng.normal(0, 1, len(MULT)) for f in np.linspace(0.5, 2, 8)]
    scoring = Scoring(split=SplitSpec(validation=12, test=12), season=12, horizon=12)
    calls = [{"series": y, "scoring": scoring, "window": 13} for y in ys]
    pooled = baselines_many(calls, workers=2)
    alone = [baselines(**c) for c in calls[:2]] + [baselines(**calls[-1])]
    for a, b in zip([pooled[0], pooled[1], pooled[-1]], alone, strict=True):
        assert a.forms == b.forms and a.metrics == pytest.approx(b.metrics, rel=1e-9)


def test_a_baseline_worker_killed_mid_fit_ends_the_pool_in_seconds_with_one_error() -> None:
    """A worker killed from outside (the out-of-memory killer, a stray `kill -9`) breaks the pool: the driver
    gets `BaselineWorkerDied` within seconds instead of waiting forever for the results the dead worker held
    (what `multiprocessing.Pool`, which replaces dead workers, did), and no worker is left behind."""
    import multiprocessing as mp
    import os
    import signal
    import threading
    import time

    from pipeline.core.errors import BaselineWorkerDied, SweepFailed

    scoring = Scoring(split=SplitSpec(validation=12, test=12), season=12, horizon=12)
    calls = [{"series": MULT * f, "scoring": scoring, "window": 13}
             for f in np.linspace(0.5, 2, 200)]  # ~1 min of fitting on 2 workers: killed long before the end
    before = {p.pid for p in mp.active_children()}
    outcome: list[BaseException | None] = []

    def fit() -> None:
        try:
            baselines_many(calls, workers=2)
            outcome.append(None)
        except BaseException as exc:  # the test's own assertion reads it
            outcome.append(exc)

    thread = threading.Thread(target=fit, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    workers: list[int] = []
    while not workers and time.monotonic() < deadline:
        time.sleep(0.5)  # the spawned workers, once they are fitting (statsforecast imported)
        workers = [p.pid for p in mp.active_children() if p.pid not in before]
    assert workers, "no worker process started"
    time.sleep(3)
    t0 = time.monotonic()
    os.kill(workers[0], signal.SIGKILL)
    thread.join(timeout=30)
    assert not thread.is_alive(), "the pool waited for a dead worker"
    assert time.monotonic() - t0 < 15
    assert len(outcome) == 1 and isinstance(outcome[0], BaselineWorkerDied), outcome
    assert isinstance(outcome[0], SweepFailed)  # the CLI's one line, exit 1
    time.sleep(1)
    assert not [p for p in mp.active_children() if p.pid not in before]


def test_cached_baselines_are_what_fitting_gives_and_a_changed_series_is_fitted_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pipeline.core.statistical as statistical

    scoring = Scoring(split=SplitSpec(validation=12, test=12), season=12, horizon=6)
    calls = [{"series": y, "scoring": scoring, "window": 13} for y in (MULT, SERIES)]
    first = baselines_many(calls, cache=tmp_path)
    assert len(list(tmp_path.rglob("*.json"))) == 2
    fits = []
    real = statistical.model_paths
    monkeypatch.setattr(statistical, "model_paths", lambda *a, **k: fits.append(a[0]) or real(*a, **k))
    again = baselines_many(calls, cache=tmp_path)
    assert fits == []  # nothing fitted: both read back
    for a, b in zip(first, again, strict=True):
        assert a.metrics == b.metrics and a.forms == b.forms and a.scale == b.scale
        np.testing.assert_array_equal(a.paths["ets"], b.paths["ets"])
        np.testing.assert_array_equal(a.truth, b.truth)
    changed = MULT.copy()
    changed[5] += 1.0  # one value differs: another key, fitted again
    baselines_many([{**calls[0], "series": changed}], cache=tmp_path)
    assert fits == ["ets", "arima", "theta"] and len(list(tmp_path.rglob("*.json"))) == 3
    next(tmp_path.rglob("*.json")).write_text("{cut sho", encoding="utf-8")  # a damaged entry is refitted
    assert [r.metrics for r in baselines_many(calls, cache=tmp_path)] == [r.metrics for r in first]


def test_the_networks_own_settings_find_the_cached_baselines_and_what_they_read_fits_them_again(
        tmp_path: Path) -> None:
    """The cache key holds what the baselines read of a `Scoring`: a new patience or closed-loop length finds the
    fitted baselines, a new horizon, origin, season, split or final fit does not; a new `Scoring` field must be
    placed on one side or the other."""
    from pipeline.core.metrics import BASELINE_SCORING

    assert set(Scoring.model_fields) - BASELINE_SCORING == {"patience", "closed_loop_steps", "covariate_names"}
    base = Scoring(split=SplitSpec(validation=12, test=12), season=12, horizon=6, origin_step=3, origin_count=2)

    def fitted(*updates: dict[str, object]) -> int:
        calls = [{"series": SERIES, "scoring": base.model_copy(update=u), "window": 13, "statistical": False}
                 for u in updates]
        baselines_many(calls, cache=tmp_path)
        return len(list(tmp_path.rglob("*.json")))

    assert fitted({}, {"patience": 5}, {"closed_loop_steps": 2}, {"covariate_names": (("a",), ())}) == 1
    changed: list[dict[str, object]] = [{"horizon": 3}, {"origin_step": 1}, {"origin_count": 1}, {"season": 4},
                                        {"final_fit": "train"}, {"split": SplitSpec(validation=6, test=12)}]
    assert fitted(*changed) == 1 + len(changed)


def test_a_sweep_may_fit_only_some_statistical_baselines() -> None:
    from pipeline.core.config import EvaluationSpec

    assert EvaluationSpec().statistical_baselines == ("ets", "arima", "theta")
    scores = baselines(SERIES, Scoring(season=12, horizon=3), 4, statistical=("ets", "theta"))
    assert set(scores.forms) == set(scores.seconds) == {"ets", "theta"} and "arima_mase" not in scores.metrics
    with pytest.raises(ValueError, match="statistical_baselines"):
        EvaluationSpec(statistical_baselines=("prophet",))  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["ets", "arima"])
def test_a_season_longer_than_24_is_taken_out_by_stl_and_no_origin_reads_later_values(name: str) -> None:
    """Weekly data (season 52): R's `stlm` way, fast, seasonal and still leak-free."""
    t = np.arange(4 * 52 + 30)
    weekly = 50 + 0.05 * t + 5 * np.sin(2 * np.pi * t / 52) + np.random.default_rng(3).normal(0, 0.3, len(t))
    fit, at = (0, 208), np.array([208, 216, 224])
    clean, form = model_paths(name, weekly, fit, at, 6, 52)
    assert form.startswith("STL + ") and name.upper() in form
    planted = weekly.copy()
    planted[216] += 20.0
    dirty, _ = model_paths(name, planted, fit, at, 6, 52)
    np.testing.assert_allclose(dirty[:2], clean[:2])  # origins 208 and 216 never read point 216
    assert np.abs(dirty[2] - clean[2]).max() > 1e-3
    truth = targets(weekly, at, 6)
    scale = float(np.mean(np.abs(weekly[52:208] - weekly[:156])))
    assert horizon_mase(clean, truth, scale) < horizon_mase(naive_paths(weekly, at, 6, 52), truth, scale)
