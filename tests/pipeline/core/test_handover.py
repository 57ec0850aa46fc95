"""A confirm run's kept network: rebuilt from its state and `.npz` weights alone, it forecasts the run's own test
origins as the run did, for every strategy, transform kind and covariate layout; bad histories are one line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline.core.config import SplitSpec
from pipeline.core.data import Panel, Series
from pipeline.core.handover import ForecastInputError, History, Network, NetworkState, decode_weights, encode_weights
from pipeline.core.hparams import HParams
from pipeline.core.scoring import Scoring
from pipeline.core.training import fit_and_score

SEASON = 4
T = np.arange(120)
SERIES = (50 + 0.5 * T) * (1 + 0.2 * np.sin(2 * np.pi * T / SEASON)) + np.random.default_rng(1).normal(0, 1, 120)
TINY = dict(hidden_size=8, window=8, batch_size=16, epochs=3, optimizer="adam", learning_rate=0.01)


def _rebuilt(kept: dict) -> Network:
    import base64

    # through JSON, as the outbox record and the MLflow artifact carry it
    kept = json.loads(json.dumps(kept))
    return Network(NetworkState.model_validate(kept["state"]), decode_weights(base64.b64decode(kept["weights"])))


def _two_series(n: int = 100) -> Panel:
    rng = np.random.default_rng(3)
    out = []
    for k, sid in enumerate(("a", "b")):
        t = np.arange(n)
        past = rng.normal(size=(n, 1))
        future = np.sin(2 * np.pi * t / 12)[:, None]
        y = 10 * (k + 1) + np.cumsum(rng.normal(size=n)) + 3 * future[:, 0] + np.r_[0, past[:-1, 0]]
        out.append(Series(sid, y, past, future))
    return Panel(tuple(out))


@pytest.mark.parametrize(("strategy", "transform", "normalize"),
                         [("direct", "none", "series"), ("direct", "log_stl", "window"),
                          ("recursive", "seasonal_diff", "series"), ("direct", "log_diff", "series")])
def test_the_kept_network_forecasts_the_test_origins_as_the_run_did(strategy: str, transform: str,
                                                                    normalize: str) -> None:
    hp = HParams.of("gru", {**TINY, "strategy": strategy, "transform": transform, "normalize": normalize})
    result = fit_and_score(hp, SERIES, Scoring(season=SEASON, horizon=5), seed=2, evaluate_test=True,
                           keep_model=True, refit=True)
    assert result.model is not None and result.forecasts is not None
    net = _rebuilt(result.model)
    at = np.asarray(result.forecasts["test_origins"], int)
    paths = net.forecast([History("series", SERIES, np.zeros((120, 0)), np.zeros((120, 0)))], [at])[0]
    np.testing.assert_array_equal(paths.reshape(-1), np.asarray(result.forecasts["test_pred"]))
    # from the end: only the values before the origin are read, so a history cut at an origin forecasts it too
    cut = net.forecast([History("series", SERIES[:at[-1]], np.zeros((0, 0)), np.zeros((0, 0)))])[0]
    np.testing.assert_allclose(cut[0], paths[-1], rtol=1e-6)


def test_a_panel_with_covariates_is_reproduced_series_by_series() -> None:
    panel = _two_series()
    hp = HParams.of("lstm", TINY)
    result = fit_and_score(hp, panel, Scoring(horizon=3, covariate_names=(("price",), ("month",))), seed=0,
                           evaluate_test=True, keep_model=True)
    assert result.model is not None and result.forecasts is not None
    net = _rebuilt(result.model)
    assert (net.state.past, net.state.future) == (["price"], ["month"])
    stored = result.forecasts["series"]
    histories = [History(s.id, s.y, s.past, np.vstack([s.future, np.zeros((3, 1))])) for s in panel.series]
    at = [np.asarray(s["test_origins"], int) for s in stored]  # type: ignore[index]
    for paths, s in zip(net.forecast(histories, at), stored, strict=True):
        np.testing.assert_array_equal(paths.reshape(-1), np.asarray(s["test_pred"]))  # type: ignore[index]


def test_weights_are_plain_arrays_and_pickles_are_refused() -> None:
    import io

    weights = [np.arange(6, dtype=np.float32).reshape(2, 3), np.ones(3, np.float32)]
    back = decode_weights(encode_weights(weights))
    assert [w.tolist() for w in back] == [w.tolist() for w in weights]
    buf = io.BytesIO()
    np.savez(buf, w0=np.array([{"code": 1}], dtype=object))
    with pytest.raises(ValueError, match="allow_pickle"):
        decode_weights(buf.getvalue())


def test_bad_histories_are_one_line_each() -> None:
    hp = HParams.of("gru", TINY)
    result = fit_and_score(hp, SERIES, Scoring(), seed=0, evaluate_test=True, keep_model=True)
    assert result.model is not None
    net = _rebuilt(result.model)
    with pytest.raises(ForecastInputError, match=r"^series 'series': 5 values; the model reads the last 8"):
        net.forecast([History("series", SERIES[:5], np.zeros((5, 0)), np.zeros((5, 0)))])
    with pytest.raises(ForecastInputError, match=r"^series 'other': the model was not trained on it"):
        net.forecast([History("other", SERIES, np.zeros((120, 0)), np.zeros((120, 0)))])


def test_a_refit_refuses_a_network_that_reads_covariates() -> None:
    """`deploy.refit` has only the series' values: refitting a network with covariates on them would train one that
    quietly ignores its covariates (the sweep file refuses the combination: tests/data/invalid)."""
    from pipeline.core.handover import SeriesState
    from pipeline.core.refit import refit_network

    series = SeriesState(id="a", transform="none", season=None, seasonal=None, fit=(0, 80), scaler=(0.0, 1.0),
                         covariate_scalers=[(0.0, 1.0)], points=100)
    state = NetworkState(hp=HParams.of("gru", TINY), horizon=3, outputs=3, inputs=2, past=["price"],
                         series=[series])
    with pytest.raises(ValueError, match=r"^refit: the network reads covariates \(price\)"):
        refit_network(state.model_dump_json(), 0, [("a", SERIES[:100])], SplitSpec())
