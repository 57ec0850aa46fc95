"""The usefulness rule (`reports.useful`): the better seed ensemble against every baseline on the same origins,
and advice that never recommends a network the rule did not call useful."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest

from pipeline.dev.useful_sim import rate
from pipeline.verdict.horizon import Paths
from pipeline.verdict.model import Usefulness, Verdict
from reports.decision import description_md, next_steps, parent_run_name
from reports.render import report_html, summary_md
from reports.useful import usefulness
from tests.reports.verdicts import one_dataset, quickstart_check

H = 2


def _run(pred: np.ndarray, truth: np.ndarray, ident: str = "") -> list[Paths]:
    return [Paths(np.arange(len(pred)) * H, pred, truth, 1.0, ident)]


def _baselines(truth: np.ndarray, preds: dict[str, np.ndarray]) -> dict[str, Any]:
    """A `baselines.json` entry for one series with these baselines' forecasts."""
    return {"horizon": H, "series": [{"id": "", "test_origins": [int(o) for o in np.arange(len(truth)) * H],
                                      "mase_scale": 1.0, "truth": truth.tolist(),
                                      "mase": {k: float(np.mean(np.abs(p - truth))) for k, p in preds.items()},
                                      "pred": {k: p.tolist() for k, p in preds.items()}}]}


def _noisy(seed: int, net_sd: float, baseline_sd: dict[str, float]) -> Usefulness:
    """The rule on one series of 30 origins: 3 seeds per network and each baseline off the truth by Gaussian noise
    of the given spreads."""
    rng = np.random.default_rng(seed)
    truth = rng.normal(size=(30, H))
    net = {a: [_run(truth + rng.normal(0, net_sd, truth.shape), truth) for _ in range(3)] for a in ("gru", "lstm")}
    base = _baselines(truth, {k: truth + rng.normal(0, sd, truth.shape) for k, sd in baseline_sd.items()})
    return usefulness(net, base, 0.05, "s")


def test_a_network_that_beats_every_baseline_is_useful() -> None:
    u = _noisy(1, 0.1, {"naive": 2, "ets": 0.8})
    assert u.useful in ("gru", "lstm") and u.best_baseline == "ets" and max(u.p_values.values()) < 0.025


def test_a_network_that_loses_to_one_baseline_is_not_useful_and_that_baseline_is_named() -> None:
    u = _noisy(2, 0.5, {"naive": 2, "theta": 0.3})
    assert u.useful == "baseline:theta" and u.sentence.startswith("s: use Theta")


def test_one_series_with_two_origins_is_untestable() -> None:
    truth = np.zeros((2, H))
    net = {a: [_run(np.full((2, H), 0.01), truth)] for a in ("gru", "lstm")}
    u = usefulness(net, _baselines(truth, {"naive": np.ones((2, H))}), 0.05, "s")
    assert u.useful == "untestable" and "2 test origins" in u.sentence and u.p_values == {}


def test_a_sweep_without_baselines_json_still_scores_the_ensemble() -> None:
    truth = np.zeros((2, H))
    u = usefulness({"gru": [_run(np.ones((2, H)), truth)], "lstm": []}, None, 0.05, "s")
    assert u.useful == "untestable" and u.ensemble_mase == {"gru": 1.0, "lstm": None} and u.arch == "gru"


def _panel(rng: np.random.Generator, net_sd: float, ets_sd: float, series: int = 8) -> tuple[dict[str, Any], dict]:
    """A panel's seed forecasts (3 seeds per architecture) and its baselines.json entry, the entry's series in
    reverse order (matched by id)."""
    truth = [rng.normal(size=(4, H)) for _ in range(series)]
    net = {a: [[Paths(np.arange(4) * H, t + rng.normal(0, net_sd, t.shape), t, 1.0, f"s{i}")
                for i, t in enumerate(truth)] for _ in range(3)] for a in ("gru", "lstm")}
    entries = [_baselines(t, {"naive": t + rng.normal(0, 2, t.shape), "ets": t + rng.normal(0, ets_sd, t.shape)})
               ["series"][0] | {"id": f"s{i}"} for i, t in enumerate(truth)]
    return net, {"horizon": H, "series": entries[::-1]}


def test_a_panel_network_better_on_every_series_is_useful_and_one_worse_is_not() -> None:
    rng = np.random.default_rng(3)
    u = usefulness(*_panel(rng, net_sd=0.1, ets_sd=1.0), 0.05, "p")
    assert u.useful in ("gru", "lstm") and u.test is not None and "Wilcoxon signed-rank over 8 series" in u.test
    assert max(u.p_values.values()) == pytest.approx(1 / 256)  # exact: every one of 8 log ratios below 0
    u = usefulness(*_panel(rng, net_sd=1.0, ets_sd=0.1), 0.05, "p")
    assert u.useful == "baseline:ets" and u.p_values["ets"] > 0.5


def test_the_rules_false_positive_rate_is_within_tolerance_of_alpha() -> None:
    """Networks that forecast exactly as well as the best baseline (simulated, `pipeline.dev.useful_sim`): the
    rule calls one useful at most alpha of the time (plus three Monte Carlo standard errors)."""
    alpha, reps = 0.05, 300
    tolerance = 3 * np.sqrt(alpha * (1 - alpha) / reps)
    assert rate(reps, series=1, origins=40, horizon=1, step=1, effect=0.0, alpha=alpha) <= alpha + tolerance
    assert rate(reps, series=20, origins=4, horizon=H, step=H, effect=0.0, alpha=alpha) <= alpha + tolerance
    assert rate(reps, series=20, origins=4, horizon=H, step=H, effect=0.4, alpha=alpha) > 0.5  # and it can see


_LOSING = Usefulness(useful="baseline:ets", ensemble="median", ensemble_mase={"gru": 0.9, "lstm": 1.1}, arch="gru",
                     best_baseline="ets", baseline_mase={"ets": 0.7, "naive": 1.2},
                     p_values={"ets": 0.9, "naive": 0.01},
                     level=0.025, test="Diebold-Mariano", sentence="damped: use ETS — the GRU seed ensemble ...")
_RECOMMENDS = re.compile(r"use the (GRU|LSTM)|either architecture does|GRU configuration|LSTM configuration")


def _losing_winner() -> Verdict:
    v = one_dataset(label="gru", beats_naive=True, beats_ar=True, useful=_LOSING)
    return v.model_copy(update={"next_steps": next_steps(v, quickstart_check())})


def test_a_network_that_wins_against_the_other_but_loses_to_a_baseline_is_recommended_nowhere() -> None:
    v = _losing_winner()
    texts = {"next steps": "\n".join(v.next_steps), "summary.md": summary_md(v), "report.html": report_html(v, []),
             "description": description_md(v)}
    for where, text in texts.items():
        assert not _RECOMMENDS.search(text), (where, _RECOMMENDS.search(text))
    assert v.next_steps[0].startswith("damped: use ETS (") and "`loss_fn: {choice: [mse, mae]}`" in v.next_steps[0]
    assert "GRU wins" in texts["summary.md"]  # the GRU-vs-LSTM verdict is still there, after usefulness
    md = texts["summary.md"]
    assert md.index("Worth using?") < md.index("GRU wins")
    assert texts["description"].startswith("**Worth using?** damped: use ETS (")
    assert parent_run_name(v).endswith("damped GRU wins · useful: baseline:ets")


def test_a_useful_winner_is_recommended() -> None:
    useful = _LOSING.model_copy(update={"useful": "gru", "p_values": {"ets": 0.01, "naive": 0.001}})
    v = one_dataset(label="gru", beats_naive=True, beats_ar=True, useful=useful)
    assert "damped: use the GRU configuration above." in next_steps(v)


def test_a_verdict_with_usefulness_round_trips() -> None:
    v = _losing_winner()
    again = Verdict.from_json(v.to_json())
    assert again.datasets[0].useful == _LOSING and again.to_json() == v.to_json()
