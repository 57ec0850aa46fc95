"""The reconciliation table and the advice, on hand-made run tables (no MLflow, no training)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from pipeline.core.config import ReportSpec
from pipeline.verdict.model import DMResult, Verdict
from reports.cost import cost_comparison
from reports.decision import configurations, description_md, dm_against_verdict, next_steps
from tests.reports.verdicts import one_dataset, quickstart_check


def _run(role: str, arch: str, val: float, test: float | None = None, **extra: Any) -> dict[str, Any]:
    return {"dataset": "sines", "arch": arch, "role": role, "status": "FINISHED", "val_mase": val,
            "test_mase": test, "hidden_size": "16", "window": "8", "batch_size": "10", **extra}


def _table() -> pd.DataFrame:
    rows = [
        # tune phase: trial 3 of GRU scored 0.50 on one seed, trial 5 scored 0.60
        _run("trial", "gru", 0.50, index="3"), _run("trial", "gru", 0.60, index="5"),
        _run("trial", "lstm", 0.55, index="1"),
        _run("trial", "gru", None, index="7", status="FAILED"),
        # selection: trial 3 held up worse on fresh seeds than its tune score promised
        *[_run("select", "gru", v, source_trial=3) for v in (0.58, 0.62, 0.60)],
        *[_run("select", "gru", v, source_trial=5) for v in (0.70, 0.72, 0.71)],
        *[_run("select", "lstm", v, source_trial=1) for v in (0.56, 0.57, 0.55)],
        # confirm: the chosen configurations on 3 more seeds each
        *[_run("confirm", "gru", v, t, source_trial=3) for v, t in ((0.61, 0.80), (0.59, 0.90), (0.60, 1.00))],
        *[_run("confirm", "lstm", v, t, source_trial=1, batch_size="20") for v, t in ((0.56, 0.70), (0.57, 0.74))],
    ]
    return pd.DataFrame(rows)


def test_reconciliation_follows_each_configuration_from_tune_score_to_fresh_seeds() -> None:
    table = _table()
    confirm = table[table["role"] == "confirm"]
    out = configurations(table, confirm, {"sines": {"gru": 0.75, "lstm": 0.69}})
    gru, lstm = out["sines"]["gru"], out["sines"]["lstm"]
    assert gru.source_trial == 3 and gru.tune_val_mase == 0.50
    assert gru.selection_val_mase.mean == pytest.approx(0.60) and gru.selection_val_mase.n == 3
    assert gru.selection_val_mase.sd == pytest.approx(0.02)
    assert (gru.confirm_test_mase.mean, gru.confirm_test_mase.sd, gru.confirm_test_mase.n) == (
        pytest.approx(0.90), pytest.approx(0.10), 3)
    assert gru.confirm_val_mase.mean == pytest.approx(0.60)
    assert gru.ensemble_test_mase == 0.75
    assert gru.config == {"hidden_size": "16", "window": "8", "batch_size": "10"}
    assert lstm.config["batch_size"] == "20" and lstm.tune_val_mase == 0.55
    assert lstm.confirm_test_mase.n == 2


def test_a_confirm_run_without_a_source_trial_has_no_tune_score() -> None:
    table = _table().drop(columns="source_trial")
    out = configurations(table, table[table["role"] == "confirm"], {})
    assert out["sines"]["gru"].tune_val_mase is None and out["sines"]["gru"].selection_val_mase.n == 0
    assert out["sines"]["gru"].ensemble_test_mase is None


def test_cost_says_when_the_configurations_differ_and_gives_per_step_figures() -> None:
    confirm = _table()[lambda t: t["role"] == "confirm"].copy()
    confirm["n_params"] = [100.0] * 3 + [130.0] * 2
    confirm["seconds_per_epoch"] = [1.0, 1.1, 0.9, 0.6, 0.62]
    confirm["train_windows"] = 100.0
    confirm["steps_per_epoch"] = [10.0] * 3 + [5.0] * 2
    cost = cost_comparison(confirm)["sines"]
    assert cost.differing_hyperparameters == {"batch_size": {"gru": "10", "lstm": "20"}}
    assert cost.per_epoch is not None and cost.per_epoch.ratio > 1.5  # GRU slower per epoch: twice the steps
    assert cost.per_step is not None and cost.per_step.ratio < 1  # per step the GRU is the faster
    assert "differ (batch_size GRU 10, LSTM 20)" in cost.sentence and "per step" in cost.sentence


_FINE = {"beats_naive": True, "beats_ar": True}


@pytest.mark.parametrize("verdict, expected", [
    (one_dataset(label="gru", **_FINE), "damped: use the GRU configuration above."),
    (one_dataset(label="equivalent", reason="equivalent", **_FINE),
     "damped: either architecture does; pick on cost (the GRU has fewer parameters)."),
    (one_dataset(label="inconclusive", reason="too few seeds", **_FINE), "run at least 5 confirm seeds"),
    (one_dataset(label="inconclusive", reason="undecided", seeds_needed=40, **_FINE),
     "run about 40 confirm seeds per architecture"),
    (one_dataset(label="inconclusive", reason="undecided", beats_naive=False, beats_ar=False),
     "both architectures lose to the naive forecast and a linear AR model"),
])
def test_next_steps_follow_from_the_verdict(verdict: Verdict, expected: str) -> None:
    assert any(expected in line for line in next_steps(verdict)), next_steps(verdict)


def test_the_description_leads_with_the_verdict_and_lists_both_configurations() -> None:
    v = one_dataset(label="gru")
    v = v.model_copy(update={"next_steps": next_steps(v)})
    text = description_md(v)
    assert text.startswith("**gatesweep verdict: gru**")
    lines = text.splitlines()
    # the worst warning and the next step within the three lines the run page shows before "Show more"
    assert lines[1].startswith("**Warning:** Neither GRU nor LSTM beats") and lines[2].startswith("**Next:** ")
    assert any(ln.startswith("- damped / GRU: ") and "hidden_size 8," in ln for ln in lines)
    assert any(ln.startswith("- damped / LSTM: ") and "hidden_size 16," in ln for ln in lines)
    assert "use the GRU configuration above" in text


def test_the_rules_line_is_in_the_html_and_the_markdown_and_says_how_training_stopped() -> None:
    from reports.render import report_html, summary_md

    v = one_dataset(label="gru")
    off = "alpha 0.05, equivalence margin ±2%, at least 5 random seeds per architecture to decide; no early stopping."
    assert off in summary_md(v) and f"<p class='note' id='rules'>{off}</p>" in report_html(v, [])
    on = v.model_copy(update={"settings": v.settings.model_copy(update={"patience": 20})})
    assert "early stopping after 20 epochs without a better validation MASE" in report_html(on, [])
    final = v.model_copy(update={"settings": v.settings.model_copy(update={"final_fit": "train+validation"})})
    assert "then fitted on train + validation (everything before the test part)" in summary_md(final)
    assert "train + validation" not in summary_md(v)  # a sweep recorded before final fits: the training part


def test_signals_that_point_different_ways_get_one_sentence_saying_which_to_act_on() -> None:
    from reports.render import reconciling, report_html, summary_md

    agree = one_dataset()  # damped: GRU wins, and its ensemble and DM statistic favour GRU too
    assert reconciling(agree) == []
    # the typical seed favours LSTM (inconclusive), while the ensembles and a significant DM favour GRU
    v = one_dataset(label="inconclusive", effect=0.22)
    v = v.model_copy(update={"datasets": [v.datasets[0].model_copy(update={
        "dm": v.datasets[0].dm.model_copy(update={"p_value": 0.0011})})]})  # type: ignore[union-attr]
    why, line = reconciling(v)
    assert why.startswith("damped: Diebold–Mariano favours GRU (p = 0.0011) while the verdict says inconclusive")
    assert line.startswith("damped: the signals answer different questions. The verdict (inconclusive; the "
                           "typical seed favours LSTM) is about one trained network")
    assert "the seed ensembles favour GRU (test MASE 0.429 GRU, 1.00 LSTM)" in line
    assert "Diebold–Mariano on the seed ensembles' forecasts favours GRU (p = 0.0011)" in line
    assert "Act on the verdict if you will deploy one trained network" in line
    assert line in summary_md(v) and "<p class='reconcile'>damped: the signals" in report_html(v, [])
    # a DM p-value above alpha is no signal of its own; the ensembles still disagree with the typical seed
    weak = one_dataset(label="inconclusive", effect=0.22)
    (line,) = reconciling(weak)
    assert "Diebold" not in line and "the seed ensembles favour GRU" in line


def test_a_baseline_that_is_essentially_exact_is_explained_not_left_to_look_like_a_bug() -> None:
    from reports.wording import baseline_warnings

    exact = one_dataset(baseline_mase={"naive": 0.147, "ar": 2.5e-08}, beats_ar=False)
    assert any(w.startswith("AR forecasts damped almost exactly (test MASE 2.5e-08)") for w in baseline_warnings(exact))
    plain = one_dataset(baseline_mase={"naive": 0.147, "ar": 0.02}, beats_ar=False)
    assert not any("almost exactly" in w for w in baseline_warnings(plain))


def test_seeds_already_enough_for_the_smallest_effect_are_not_advised_again() -> None:
    """A real CSV (statsmodels' elec_equip, 6 steps ahead) ended `inconclusive` at 15 seeds a side with
    "about 5 seeds would detect a 5% difference" and "allow about 5 confirm seeds": advice against the label.
    Its numbers: the sentence and the next step now say the estimated difference is smaller than 5% and how
    many seeds would show it inside the ±2% margin; an estimate between margin and 5% gets the seeds for it."""
    from reports.wording import sentence

    elec = {"label": "inconclusive", "reason": "undecided", "n_gru": 15, "n_lstm": 15, "seeds_needed": 5,
            "effect": -0.0126, "sd_log_gru": 0.0189, "sd_log_lstm": 0.0212, "minutes_needed": 0.32, **_FINE}
    verdict = one_dataset(**elec)
    v = verdict.datasets[0]
    line = sentence(v, ReportSpec())
    assert "would detect a 5% difference" not in line, line
    assert "estimated difference is smaller (1.3%): showing it inside ±2% would take about 123 seeds" in line, line
    steps = " ".join(next_steps(verdict, quickstart_check()))
    assert "`confirm.max_seeds: 5`" not in steps and "`confirm.max_seeds: 123`, about 8 minutes" in steps, steps
    assert "Inconclusive does not mean equal." in steps
    # 3%: outside the margin, under the 5% asked for; a spread at which 15 seeds detect 5% but not 3%
    between = one_dataset(**(elec | {"effect": -0.03, "sd_log_gru": 0.045, "sd_log_lstm": 0.045}))
    steps = " ".join(next_steps(between, quickstart_check()))
    assert "between the ±2% margin and that: to detect a difference this small, allow about 3" in steps, steps
    # 15 seeds enough for 3% at the CSV's spread: no seed count is advised, more rounds are
    lucky = " ".join(next_steps(one_dataset(**(elec | {"effect": -0.03}))))
    assert "allow more rounds (`confirm.max_seeds`)" in lucky and "allow about" not in lucky, lucky
    said = sentence(one_dataset(**(elec | {"effect": -0.03})).datasets[0], ReportSpec())
    assert "smaller (3.0%): they were enough for a difference of that size too" in said, said
    # seeds short of the smallest effect: the advice stays what it was
    short = one_dataset(**(elec | {"n_gru": 4, "n_lstm": 4}))
    assert "would detect a 5% difference" in sentence(short.datasets[0], ReportSpec())


def test_a_significant_dm_under_an_open_verdict_says_why_they_differ() -> None:
    """The quickstart's case: DM p = 0.0005 favouring GRU, the typical seed favouring GRU too, the verdict
    inconclusive; nothing pointed different ways, so nothing said why a p of 0.0005 decides nothing."""
    from reports.render import _dm_lines, reconciling, summary_md

    v = one_dataset(label="inconclusive", effect=-0.05)
    dm = v.datasets[0].dm
    assert isinstance(dm, DMResult) and dm.statistic < 0  # the stored DM favours GRU
    v = v.model_copy(update={"datasets": [v.datasets[0].model_copy(update={
        "dm": dm.model_copy(update={"p_value": 0.0005})})]})
    (why,) = reconciling(v)
    assert why.startswith("damped: Diebold–Mariano favours GRU (p = 0.0005) while the verdict says inconclusive, "
                          "because they test different things.")
    assert f"tests its {int(dm.n)} test periods" in why and "The verdict's p-value covers seeds, not periods." in why
    assert why in _dm_lines(v) and why in summary_md(v)
    # a DM above alpha, or one that agrees with the winner, needs no such line
    agree = one_dataset(label="gru", effect=-0.05)
    agree = agree.model_copy(update={"datasets": [agree.datasets[0].model_copy(update={
        "dm": dm.model_copy(update={"p_value": 0.0005})})]})
    assert dm_against_verdict(agree.datasets[0], 0.05, 0.02) is None
    assert dm_against_verdict(one_dataset(label="inconclusive").datasets[0], 0.05, 0.02) is None


def test_a_configuration_that_trained_one_epoch_is_said_in_the_report_and_the_description() -> None:
    from reports.render import report_html, summary_md
    from reports.wording import training_warnings

    table = _table()
    confirm = table[table["role"] == "confirm"].copy()
    confirm.loc[confirm["arch"] == "gru", "epochs"] = "1"  # the final fit's epochs: early stopping chose the first
    confirm.loc[confirm["arch"] == "lstm", "epochs"] = "37"
    v = one_dataset(label="gru").model_copy(update={"configurations": configurations(table, confirm, {})})
    (line,) = training_warnings(v)
    assert line.startswith("The chosen GRU configuration on sines trained for 1 epoch: validation was best after")
    assert f"**Warning:** {line}" in summary_md(v) and "trained for 1 epoch" in report_html(v, [])
    assert line in description_md(v)
    confirm["epochs"] = "37"
    assert training_warnings(v.model_copy(update={"configurations": configurations(table, confirm, {})})) == []
