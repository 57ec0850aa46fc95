"""The verdict in words: each dataset's sentence and the phrases the report, the MLflow description and the CLI
share (seed counts, durations, ratios and their intervals, the baseline warnings, table cells).

The statistics (`pipeline.verdict`) decide and leave every sentence empty; this module says what they decided.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from pipeline.core.config import ReportSpec
from pipeline.verdict.model import BASELINE_NAMES, WINNERS, DatasetVerdict, Overall, RoundStep, Verdict
from pipeline.verdict.overall import MIN_DATASETS, measured_datasets, overall
from pipeline.verdict.stats import TARGET_POWER, MoreThan, Seeds, needed, resolving


def worded(verdicts: list[DatasetVerdict], rules: ReportSpec) -> list[DatasetVerdict]:
    """The verdicts with their one-line `sentence` (`sentence`), as the report, MLflow and the CLI show them."""
    return [v.model_copy(update={"sentence": sentence(v, rules)}) for v in verdicts]


def worded_overall(verdicts: list[DatasetVerdict], rules: ReportSpec) -> Overall:
    """The verdict across datasets (`pipeline.verdict.overall.overall`) with its `note` (`overall_note`)."""
    o = overall(verdicts, rules)
    return o.model_copy(update={"note": overall_note(o, verdicts, rules)})


def overall_note(o: Overall, verdicts: list[DatasetVerdict], rules: ReportSpec) -> str:
    """What the verdict across datasets rests on, or why there is none."""
    m = len(verdicts)
    if m == 1:
        return "one dataset: the overall verdict is that dataset's"
    if m < MIN_DATASETS:
        return f"not enough datasets for an overall test ({m} < {MIN_DATASETS}); see each dataset's verdict"
    measured = len(measured_datasets(verdicts))
    test, bayes = o.test, o.bayesian_signed_rank
    if test is None or bayes is None:
        return (f"{measured} of {m} datasets have an effect with a standard error (the others: no spread between "
                f"seeds, or too few finished runs), fewer than the {MIN_DATASETS} an overall test needs; see each "
                "dataset's verdict")
    left_out = "" if measured == m else f"; {m - measured} dataset(s) without a standard error left out"
    return (f"random-effects meta-analysis over {measured} datasets (HKSJ): geometric-mean MASE ratio GRU/LSTM "
            f"{np.exp(test.effect):.3f} (95% CI {np.exp(test.ci_low):.3f}–{np.exp(test.ci_high):.3f})"
            f", p = {test.p_value:.3g}; Bayesian signed-rank (ROPE ±{100 * rules.equivalence_margin:g}%): "
            f"P(GRU better) {bayes.p_left:.2f}, P(equivalent) {bayes.p_rope:.2f}, P(LSTM better) {bayes.p_right:.2f}"
            f"{left_out}")


def seeds_phrase(n: Seeds) -> str:
    """`about 124` or `more than 1000`: a seed count as the advice says it."""
    return f"more than {n.n}" if isinstance(n, MoreThan) else f"about {n}"


def ratio_text(x: float) -> str:
    """A GRU/LSTM ratio as the sentences and tables print it: three decimals (three significant digits when
    very large or small), and in words when there is no number."""
    if math.isnan(x):
        return "not defined"
    if math.isinf(x):  # only from exp of a finite log bound: the number exists, a float cannot hold it
        return "over 1e308"
    return f"{x:.3f}" if 1e-3 <= x < 1e4 else f"{x:.3g}"


def ci_text(v: DatasetVerdict) -> str:
    """The verdict's 95% interval of the ratio, `0.174–1.908`, or why it has none."""
    lo, hi = v.ratio_ci
    if math.isnan(lo) or math.isnan(hi):
        return "not defined: " + ("fewer than 2 seeds in an architecture" if min(v.n_gru, v.n_lstm) < 2
                                  else "no spread between seeds")
    return f"{ratio_text(lo)}–{ratio_text(hi)}"


def _pct(x: float) -> float:
    """A log ratio as a percentage change of the geometric-mean MASE."""
    return 100 * (np.exp(x) - 1)


def minutes_phrase(m: float) -> str:
    """`1 minute`, `8 minutes`, `2.5 hours`: a duration as the verdict's sentences say it."""
    if m < 1.5:
        return "1 minute"
    return f"{m:.0f} minutes" if m < 120 else f"{m / 60:.1f} hours"


def _boundary(step: RoundStep, max_seeds: int) -> str:
    """`round 2 needed p below 0.0031`, or, at a look that spends no error at all (a few seeds of many), that it
    could decide nothing."""
    if step.threshold > 0:
        return f"round {step.round} needed p below {step.threshold:.2g}"
    return (f"round {step.round} could decide nothing yet (no error is spent at {min(step.n_gru, step.n_lstm)} of "
            f"{max_seeds} seeds)")


def sentence(v: DatasetVerdict, rules: ReportSpec) -> str:
    """The verdict on one dataset in one line (printed by the CLI, first in the report and in MLflow)."""
    margin = rules.equivalence_margin
    n = f"{v.n_gru} GRU / {v.n_lstm} LSTM seeds"
    ratio = f"GRU/LSTM geometric-mean test MASE ratio {ratio_text(v.ratio)} (95% CI {ci_text(v)})"
    # a dataset no look saw (an architecture with fewer than 2 finished runs) has no path to speak of
    rounds = v.rounds if v.rounds is not None and v.rounds.stop != "fixed" and v.rounds.path else None
    if rounds is not None:
        step = rounds.path[-1]
        n += f" after {rounds.rounds} of at most {rounds.max_rounds} rounds"
        ci = (f"95% repeated CI {ci_text(v)}" if v.label != "inconclusive"
              else f"95% CI {ci_text(v)}, not adjusted for the rounds")
        ratio = f"GRU/LSTM geometric-mean test MASE ratio {ratio_text(v.ratio)} ({ci})"
    if v.label in WINNERS:
        flip = 1.0 if v.label == "gru" else -1.0  # how much lower the winner's MASE is, in percent
        lower = sorted(-_pct(flip * x) for x in (v.ci_low, v.ci_high))
        if rounds is not None:
            return (f"{v.dataset}: {v.label.upper()} wins — geometric-mean test MASE {-_pct(flip * v.effect):.1f}% "
                    f"lower (95% repeated CI {lower[0]:.1f}–{lower[1]:.1f}%), p = {v.p_value:.3g}, below the "
                    f"{step.threshold:.2g} round {step.round} needed (Welch, group-sequential, Holm), {n}.")
        return (f"{v.dataset}: {v.label.upper()} wins — geometric-mean test MASE {-_pct(flip * v.effect):.1f}% "
                f"lower (95% CI {lower[0]:.1f}–{lower[1]:.1f}%), p = {v.p_holm:.3g} after Holm (Welch), {n}.")
    if v.label == "equivalent":
        return f"{v.dataset}: equivalent within ±{100 * margin:g}% — {ratio}, {n}."
    if v.reason == "too few seeds":
        why = f"too few seeds to decide (fewer than {rules.min_seeds} per architecture)"
    elif v.reason == "no spread":
        why = "every seed gave the same MASE, so the uncertainty cannot be estimated"
    elif v.reason == "negligible":
        why = (f"a real difference (p = {v.p_holm:.3g} after Holm) but estimated inside the ±{100 * margin:g}% "
               "margin, and not yet shown to be inside it")
    elif rounds is not None:
        why = f"{rounds.why} (p = {v.p_value:.3g}; {_boundary(rounds.path[-1], rounds.max_seeds)})"
    else:
        why = f"p = {v.p_holm:.3g} after Holm (Welch)"
    return f"{v.dataset}: inconclusive — {why}; {ratio}, {n}{_more_seeds(v, rules)}."


def _more_seeds(v: DatasetVerdict, rules: ReportSpec) -> str:
    """The end of an inconclusive sentence: the seeds that would settle it."""
    margin = rules.equivalence_margin
    if (r := resolving(v, rules.alpha, margin)) is not None:
        count = seeds_phrase(r.seeds)
        what = {"equivalent": f"showing it inside ±{100 * margin:g}% would take {count} seeds per architecture",
                "winner": f"{count} seeds per architecture would detect a difference of that size",
                "chance": "they were enough for a difference of that size too, so more rounds should settle it"}[r.goal]
        return (f"; these seeds were enough to detect a {100 * v.smallest_effect:g}% difference with "
                f"{100 * TARGET_POWER:.0f}% power, and the estimated difference is smaller ({r.difference:.1f}%): "
                f"{what}")
    if (seeds := needed(v)) is None:
        return ""
    more = (f"; {seeds_phrase(seeds)} seeds per architecture would detect a {100 * v.smallest_effect:g}% difference "
            f"with {100 * TARGET_POWER:.0f}% power at this seed-to-seed spread")
    if v.minutes_needed is not None and not isinstance(seeds, MoreThan):
        more += f" (about {minutes_phrase(v.minutes_needed)} of confirm runs at this sweep's pace)"
    return more


def fmt(x: Any, digits: int = 3) -> str:
    """A table cell or an inline number: 3 significant digits, `–` for none, `yes`/`NO`, NaN in words."""
    if x is None:
        return "–"
    if isinstance(x, bool):
        return "yes" if x else "NO"
    if isinstance(x, float):
        return "not defined" if math.isnan(x) else f"{x:.{digits}g}"
    return str(x)


def baseline_warnings(verdict: Verdict) -> list[str]:
    """A winner that loses to a naive or linear forecaster is no winner worth reporting."""
    out = []
    for key, what in (("beats_naive", "the naive (last value) forecast"), ("beats_ar", "a linear AR model")):
        flagged = [v.dataset for v in verdict.datasets if getattr(v, key) is False]
        if flagged:
            out.append(f"Neither GRU nor LSTM beats {what} on: {', '.join(flagged)}.")
    for v in verdict.datasets:  # a statistical model that beats both, where naive and AR did not say so already
        if v.beats_best_baseline is False and v.best_baseline not in ("naive", "ar"):
            best = BASELINE_NAMES.get(v.best_baseline or "", v.best_baseline)
            out.append(f"Neither GRU nor LSTM beats {best} on {v.dataset} (test MASE "
                       f"{v.baseline_mase[v.best_baseline or '']:#.3g}).")
    for v in verdict.datasets:  # "AR MASE 2.5e-08, beats AR: NO" reads like a bug unless it is explained
        exact = sorted((x, k) for k, x in v.baseline_mase.items() if x < EXACT_MASE)
        if exact:
            x, k = exact[0]
            out.append(f"{BASELINE_NAMES.get(k, k)} forecasts {v.dataset} almost exactly (test MASE {x:.2g}): the "
                       "series follows a rule that model states exactly, as a noiseless synthetic series such as the "
                       "damped cosine (an exact linear recurrence) does for AR. No network reaches that; on such a "
                       "series compare GRU with LSTM, and judge them against baselines on real, noisy data.")
    return out


def training_warnings(verdict: Verdict) -> list[str]:
    """A confirmed configuration that trained one epoch: validation was best right after the first, so what the
    report compares is close to an untrained network (seen on a real monthly CSV with `log_stl` and series scaling).
    The final fit trains for the epochs early stopping chose, so the configuration's `epochs` says it."""
    out = []
    for ds, by_arch in sorted(verdict.configurations.items()):
        once = [arch.upper() for arch, c in sorted(by_arch.items()) if number(c.config.get("epochs")) == 1]
        if once:
            who = " and ".join(once)
            out.append(f"The chosen {who} configuration{'s' if len(once) > 1 else ''} on {ds} trained for 1 epoch: "
                       "validation was best after the first epoch and only got worse, so these networks barely "
                       "learned. Search a smaller learning rate, `normalize: window` or another transform before "
                       "reading the comparison.")
    return out


def report_warnings(verdict: Verdict) -> list[str]:
    """Every warning the report, its Markdown and the run's description show, the baselines' first."""
    return baseline_warnings(verdict) + training_warnings(verdict)


EXACT_MASE = 1e-3  # a baseline this close to zero error has found the series' generating rule


def number(v: Any) -> Any:
    """A parameter read back from MLflow (a string) as a number when it is one, for consistent rounding."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return v
    return int(f) if f.is_integer() else f
