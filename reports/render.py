"""summary.md and a self-contained report.html (images embedded as data URIs); verdict.json is
`Verdict.to_json()`."""

from __future__ import annotations

import base64
import html
import math
import re
from typing import Any

from pipeline.verdict.model import (
    BASELINE_NAMES,
    DatasetVerdict,
    DMResult,
    MeanSd,
    Nightly,
    RoundStep,
    Verdict,
    exp_ratio,
)
from reports.decision import ENSEMBLE_NOTE, dm_against_verdict, usefulness_lines
from reports.forecast_figures import FORECASTS_TITLE, series_folder
from reports.series import TABLE_SERIES, importance
from reports.wording import ci_text, ratio_text, report_warnings
from reports.wording import fmt as _fmt  # the names render used before they were shared with reports.decision
from reports.wording import number as _number

_COLUMNS = [("dataset", "dataset"), ("label", "verdict"), ("n_gru", "GRU seeds"), ("n_lstm", "LSTM seeds"),
            ("gmean_mase_gru", "GRU geometric-mean test MASE"), ("gmean_mase_lstm", "LSTM geometric-mean test MASE"),
            ("ratio", "ratio GRU/LSTM"), ("ratio_ci", "95% CI"), ("p_holm", "p (Holm, Welch)"),
            ("prob_gru_better", "P(GRU seed beats LSTM seed)"), ("naive_mase", "naive MASE"),
            ("ar_mase", "AR MASE"), ("beats_naive", "beats naive"), ("beats_ar", "beats AR")]


def _rows(verdict: Verdict) -> list[list[str]]:
    rows = []
    for v in verdict.datasets:
        cells = {**v.model_dump(), "ratio": ratio_text(v.ratio), "ratio_ci": ci_text(v)}  # as the sentence
        rows.append([_fmt(cells[k]) for k, _ in _COLUMNS])
    return rows


# the phases by the names users see (the progress line, `validate`, the README): the tune phase's runs carry the
# role `trial` in MLflow tags and verdict.json, which readers and filters depend on; shown as `tune`
PHASE_NAMES = {"trial": "tune", "select": "select", "confirm": "confirm"}


def _counts_lines(verdict: Verdict) -> list[str]:
    out = []
    for phase, by_arch in sorted(verdict.counts.items(), key=lambda kv: list(PHASE_NAMES).index(kv[0])
                                 if kv[0] in PHASE_NAMES else len(PHASE_NAMES)):
        parts = [f"{arch.upper()} {c.finished} finished, {c.failed} failed"
                 for arch, c in sorted(by_arch.items())]
        out.append(f"{PHASE_NAMES.get(phase, phase)}: " + "; ".join(parts))
    return out


def worth_using(verdict: Verdict) -> list[str]:
    """Per dataset with a usefulness verdict (schema 5): whether to use a network at all, and what instead."""
    tested = [v.useful for v in verdict.datasets if v.useful is not None]
    return [u.sentence if u.network is not None else line for u, line in zip(tested, usefulness_lines(verdict),
                                                                              strict=True)]


def _baseline_lines(verdict: Verdict) -> list[str]:
    """Per dataset: every baseline's test MASE on the networks' origins and horizon, relative to the
    seasonal naive one (the naive one without a season), as M4 reports them; the architectures beside."""
    out = []
    for v in verdict.datasets:
        if not v.baseline_mase:
            out.append(f"{v.dataset}: no baselines recorded (runs logged by hand)")
            continue
        ref_name = "seasonal_naive" if "seasonal_naive" in v.baseline_mase else "naive"
        ref = v.baseline_mase.get(ref_name)
        parts = [f"{BASELINE_NAMES.get(k, k)} {x:#.3g}" + (f" ({x / ref:.2f})" if ref else "")
                 for k, x in sorted(v.baseline_mase.items(), key=lambda kv: kv[1])]
        line = (f"{v.dataset} (horizon {v.horizon}): test MASE, in brackets relative to "
                f"{BASELINE_NAMES[ref_name]}: " + ", ".join(parts)
                + f"; geometric mean over seeds GRU {_fmt(v.gmean_mase_gru)}, LSTM {_fmt(v.gmean_mase_lstm)}")
        if v.beats_best_baseline is not None:
            best = BASELINE_NAMES.get(v.best_baseline or "", v.best_baseline)
            line += (f"; the better architecture {'beats' if v.beats_best_baseline else 'does NOT beat'} the best "
                     f"baseline ({best})")
        if v.baselines_failed:
            line += "; failed to fit: " + "; ".join(f"{BASELINE_NAMES.get(k, k)} ({why})"
                                                   for k, why in sorted(v.baselines_failed.items()))
        out.append(line + ".")
    return out


def _forecaster(name: str) -> str:
    """A column of `ScoreTable` in words: `GRU per seed`, `GRU ensemble`, `ETS`."""
    arch = name.removesuffix("_ensemble")
    if arch in ("gru", "lstm"):
        return f"{arch.upper()} ensemble" if name.endswith("_ensemble") else f"{arch.upper()} per seed"
    return BASELINE_NAMES.get(name, name)


def _best(names: list[str], row: list[float | None]) -> str:
    scored = [(x, n) for n, x in zip(names, row, strict=True) if x is not None and math.isfinite(x)]
    return _forecaster(min(scored)[1]) if scored else "–"


def series_table(v: DatasetVerdict) -> tuple[list[str], list[list[str]], str] | None:
    """A dataset's per-series table: a row per series (the `TABLE_SERIES` most important of a big panel, as the
    forecast figure ranks them) with each forecaster's test MASE and the lowest; for a panel also how often a GRU
    seed beats an LSTM seed there. Header, rows, and a note saying what the numbers are and how many series are
    shown."""
    t = v.scores
    if t is None:
        return None
    shares = {s.id: s.gru_better for s in v.per_series}
    order = list(range(len(t.series)))
    ranked, rule = importance(v)
    if len(order) > TABLE_SERIES:
        order = sorted(ranked[:TABLE_SERIES])
    header = ["series", *(["GRU seed beats LSTM seed"] if shares else []), *map(_forecaster, t.forecasters), "lowest"]
    rows = [[t.series[i] or v.dataset, *([f"{100 * shares[t.series[i]]:.0f}% of pairs"] if shares else []),
             *(_fmt(x) for x in t.per_series[i]), _best(t.forecasters, t.per_series[i])] for i in order]
    shown = (("its one series" if len(order) == 1 else "both series" if len(order) == 2 else f"all {len(order)} series")
             if len(order) == len(t.series) else
             f"the {len(order)} of {len(t.series)} series that matter most to the decision, by {rule}; "
             "verdict.json has every one")
    note = (f"{v.dataset}: test MASE on {shown}. Per seed: the geometric mean over the confirm seeds of each seed's "
            "MASE; ensemble: the MASE of the seeds' median forecast; baselines on the same origins"
            + (" (a baseline that failed on some series has no column)" if v.series > 1 else "") + ".")
    return header, rows, note


def step_table(v: DatasetVerdict) -> tuple[list[str], list[list[str]], str] | None:
    """A dataset's per-step table (horizon > 1): each forecaster's test MASE at each step (a panel's: the mean over
    series), the lowest, and the GRU/LSTM ratio of geometric means per seed with its 95% CI."""
    t = v.scores
    if t is None or v.horizon < 2:
        return None
    ratios = {s.step: s for s in v.per_step}
    header = ["step", *map(_forecaster, t.forecasters), "lowest", "GRU/LSTM per seed (95% CI)"]
    rows = [[str(h + 1), *(_fmt(x) for x in row), _best(t.forecasters, row),
             f"{r.ratio:.3f} ({r.ci_low:.3f}–{r.ci_high:.3f})" if (r := ratios.get(h + 1)) else "–"]
            for h, row in enumerate(t.per_step)]
    note = (f"{v.dataset}: test MASE at each step ahead" + (", mean over its series" if v.series > 1 else "")
            + "; the ratio column is the verdict's comparison at that step.")
    return header, rows, note


def _dropped_lines(verdict: Verdict) -> list[str]:
    """The series `short_series: drop` left out."""
    return [f"{v.dataset}: left out as too short for the splits, window and horizon (short_series: drop): "
            + ", ".join(f"{d.id} ({d.length} points)" for d in v.dropped_series)
            for v in verdict.datasets if v.dropped_series]


def series_caveats(verdict: Verdict) -> list[str]:
    """Per panel whose series disagree: which architecture is better on how many series (the share of seed pairs
    on each), so that a win resting on some series only is seen where the decision is."""
    out = []
    for v in verdict.datasets:
        if len(v.per_series) < 2:
            continue
        gru = [s for s in v.per_series if s.gru_better > 0.5]
        lstm = [s for s in v.per_series if s.gru_better < 0.5]
        if not gru or not lstm:
            continue
        shares = "; ".join(f"{s.id}: GRU seed beats LSTM seed in {100 * s.gru_better:.0f}% of pairs"
                           for s in sorted(v.per_series, key=lambda s: -s.gru_better))
        n = len(v.per_series)
        head = f"{v.dataset}: GRU is better on {len(gru)} of {n} series, LSTM on {len(lstm)} ({shares})"
        if v.label in ("gru", "lstm"):
            side = gru if v.label == "gru" else lstm
            head += (f". The {v.label.upper()} win rests on {len(side)} of the {n} series; on the others the other "
                     "architecture is better. The per-series table shows each.")
        else:
            head += ". The verdict is over the mean of the series; the per-series table shows each."
        out.append(head)
    return out


P_VALUE_NOTE = ("What the p-values cover: the confirm seeds (the training noise of retraining the same configuration) "
                "on this one test period. They do not cover other periods, other series or a changing process: a "
                "difference shown here is a difference on this test part.")


def _few_origins(horizon: int, n: int) -> str:
    """A caution where the forecast-level check rejects too often under equal accuracy. Simulated
    (`python -m pipeline.dev.panel_dm`, horizon 6, origins 2 apart, AR(1) 0.5 errors, 1000 runs): 15% at a
    nominal 5% with 6 origins, 12% with 10, 8% with 20, 7% with 40; panels of 5 series alike."""
    if horizon == 1 or n >= 40:
        return ""
    rate = "15%" if n < 10 else "12%" if n < 20 else "8%"
    return (f" Caution: with {n} overlapping forecast origins this check rejects about {rate} of the time at a "
            "nominal 5% when both forecast equally well (simulated); read it as descriptive.")


def _dm_lines(verdict: Verdict) -> list[str]:
    out = []
    for v in verdict.datasets:
        dm = v.dm
        if not isinstance(dm, DMResult):
            out.append(f"{v.dataset}: not available ({dm.note if dm else 'no forecasts'}).")
            continue
        side = "GRU" if dm.statistic < 0 else "LSTM"
        classic = (f"; the classic HLN-corrected variance, which assumes uncorrelated errors, gives "
                   f"p = {dm.hln_p_value:.3g}")
        out.append(f"{v.dataset}: DM statistic {dm.statistic:.3f}, p = {dm.p_value:.3g} (absolute error, "
                   f"Newey–West variance with {int(dm.lags)} lags, half the test split, against the fixed-b "
                   f"reference{classic}), on {int(dm.n)} seed-ensemble (median) test forecasts; the sign favours "
                   f"{side}. "
                   "With strongly autocorrelated errors and a short test split even this p-value is a little "
                   "optimistic." + _few_origins(v.horizon, int(dm.n)) + (
                       f" Over {v.series} series: each origin's loss is the mean over series, so a shock common "
                       "to all of them counts once." if v.series > 1 else ""))
        seeds_side = "GRU" if v.effect < 0 else "LSTM"
        if dm.p_value < verdict.settings.alpha and side != seeds_side:
            out.append(f"{v.dataset}: the two point different ways: the verdict compares single trained networks "
                       f"(the typical seed favours {seeds_side}), this test compares the ensemble (median) of each "
                       f"architecture's seeds (favouring {side}). Ensembling cancels seed-to-seed noise, so the "
                       "architecture whose seeds scatter more gains more from it: its ensemble can win while its "
                       "typical seed loses.")
        if (why := dm_against_verdict(v, verdict.settings.alpha, verdict.settings.equivalence_margin)) is not None:
            out.append(why)
    return out


def reconciling(verdict: Verdict) -> list[str]:
    """One sentence per dataset whose signals point different ways: the per-seed verdict (one trained network),
    the seed ensembles and Diebold-Mariano (the average of all seeds' forecasts), which question each answers
    and which to act on. Nothing when they agree."""
    out = []
    for v in verdict.datasets:
        if not math.isfinite(v.effect) or v.effect == 0:
            continue
        seeds = "GRU" if v.effect < 0 else "LSTM"
        ens = {arch: c.ensemble_test_mase for arch, c in verdict.configurations.get(v.dataset, {}).items()}
        other: list[str] = []
        g, lo = ens.get("gru"), ens.get("lstm")
        if g is not None and lo is not None and g != lo and ("GRU" if g < lo else "LSTM") != seeds:
            other.append(f"the seed ensembles favour {'GRU' if g < lo else 'LSTM'} (test MASE {g:#.3g} GRU, "
                         f"{lo:#.3g} LSTM)")
        dm = v.dm
        if isinstance(dm, DMResult) and dm.p_value < verdict.settings.alpha and dm.statistic != 0:
            side = "GRU" if dm.statistic < 0 else "LSTM"
            if side != seeds:
                other.append(f"Diebold–Mariano on the seed ensembles' forecasts favours {side} (p = {dm.p_value:.2g})")
        if (why := dm_against_verdict(v, verdict.settings.alpha, verdict.settings.equivalence_margin)) is not None:
            out.append(why)
        if not other:
            continue
        label = v.label if v.label in ("equivalent", "inconclusive") else f"{v.label.upper()} wins"
        out.append(f"{v.dataset}: the signals answer different questions. The verdict ({label}; the typical seed "
                   f"favours {seeds}) is about one trained network, what you get each time you train once; "
                   f"{' and '.join(other)}, which is about the average of all the seeds' forecasts, and averaging "
                   "helps most the architecture whose seeds scatter more. Act on the verdict if you will deploy one "
                   "trained network; on the ensembles only if you will deploy an average of several seeds.")
    return out


def _importance_lines(verdict: Verdict) -> list[str]:
    out = []
    for ds, by_arch in sorted(verdict.importance.items()):
        for arch, imp in sorted(by_arch.items()):
            if imp:
                ranked = sorted(imp.items(), key=lambda kv: -kv[1])
                out.append(f"{ds} / {arch.upper()}: " + ", ".join(f"{k} {v:.2f}" for k, v in ranked))
            else:
                out.append(f"{ds} / {arch.upper()}: too few trials or nothing searched")
    return out


def _sensitivity_lines(verdict: Verdict) -> list[str]:
    sens = verdict.sensitivity
    if not sens.param_matched:
        return [sens.note]
    lines = [sens.note + "."]
    for _, s in sorted(sens.param_matched.items()):
        lines.append(f"GRU at hidden size {s.gru_hidden_size} ({s.n_params_gru:.0f} parameters): {s.sentence}")
    return lines


def _nightly_lines(nightly: Nightly) -> list[str]:
    flags = nightly.flags
    lines = [f"verdict changed since the last night: {'YES' if flags.verdict_changed else 'no'}; best test MASE "
             f"worse than last night beyond its CI: {'YES' if flags.mase_worse else 'no'}"] + flags.details
    for h in nightly.history:
        parts = []
        for ds, d in sorted(h.datasets.items()):
            lo, hi = d.ci
            ratio = (f"ratio {ratio_text(exp_ratio(d.effect))} ({ratio_text(exp_ratio(lo))}–"
                     f"{ratio_text(exp_ratio(hi))})" if d.effect is not None and lo is not None and hi is not None
                     else "ratio –")
            best = {a: m.mean for a, m in d.test_mase.items()}
            parts.append(f"{ds}: {d.label}, useful {d.useful or '–'}, {ratio}, test MASE GRU "
                         f"{_fmt(best.get('gru'))} / LSTM {_fmt(best.get('lstm'))}, data {d.data}")
        lines.append(f"{h.date} — overall {h.overall}; " + "; ".join(parts) + f"; code {h.code_version}")
    return lines


def _rounds_lines(verdict: Verdict) -> list[str]:
    out = []
    for v in verdict.datasets:
        r = v.rounds
        if r is None or r.stop == "fixed":
            continue
        path = "; ".join(f"round {s.round}: {s.n_gru} GRU / {s.n_lstm} LSTM seeds, ratio {ratio_text(s.ratio)} "
                         f"(repeated 95% CI {_repeated_ci(s)}), " + (f"p had to be below {s.threshold:.2g}"
                                                                       if s.threshold > 0 else "no p could pass")
                         for s in r.path)
        seen = f" {path}." if path else " No round had 2 finished runs of each architecture."
        out.append(f"{v.dataset}: stopped after {r.rounds} of at most {r.max_rounds} rounds ({r.why}).{seen}")
    return out


def _repeated_ci(step: RoundStep) -> str:
    """A round's repeated interval, `0.174–1.908`, or in words why it has no bounds."""
    if step.ci_low is None or step.ci_high is None:
        return step.ci_note or "not defined"  # schema 3 wrote an undefined interval as null, with no note
    return f"{ratio_text(step.ci_low)}–{ratio_text(step.ci_high)}"


def _useful_lines(verdict: Verdict) -> list[str]:
    """Per dataset (schema 5): each architecture's ensemble MASE, every baseline's with the one-sided p of the
    better ensemble against it, and the test; the rule is in the README ("Is either network worth using?")."""
    out = []
    for v in verdict.datasets:
        u = v.useful
        if u is None:
            continue
        line = (f"{v.dataset}: {u.useful}; {u.ensemble} ensemble test MASE "
                + ", ".join(f"{a.upper()} {_fmt(x)}" for a, x in sorted(u.ensemble_mase.items())))
        if u.baseline_mase:
            line += "; baselines " + ", ".join(
                f"{BASELINE_NAMES.get(k, k)} {x:#.3g}" + (f" (p = {u.p_values[k]:.3g})" if k in u.p_values else "")
                for k, x in sorted(u.baseline_mase.items(), key=lambda kv: kv[1]))
        if u.test is not None:
            line += f"; {u.test}, each at {u.level:g}, all must reject"
        out.append(line + ".")
    return out


def _sections(verdict: Verdict) -> list[tuple[str, list[str]]]:
    """The report's secondary sections, shared by the Markdown and HTML renderings."""
    cost = [c.sentence for _, c in sorted(verdict.cost.items())]
    nightly = ([("Nightly comparison (newest first)", _nightly_lines(verdict.nightly))] if verdict.nightly else [])
    dropped = _dropped_lines(verdict)
    rounds = _rounds_lines(verdict)
    useful = _useful_lines(verdict)
    return nightly + [
        *([("Usefulness: each seed ensemble against every baseline on the same origins", useful)] if useful else []),
        *([("Confirm rounds (seeds stop once the verdict is decided)", rounds)] if rounds else []),
        ("Baselines on the same origins and horizon", _baseline_lines(verdict)),
        *([("Series left out", dropped)] if dropped else []),
        ("Forecast-level check (Diebold–Mariano)", _dm_lines(verdict)),
        ("Cost (the source article's \"GRU trains faster\" claim)", cost or ["not enough confirm runs to compare"]),
        ("Sensitivity: parameter-matched GRU", _sensitivity_lines(verdict)),
        ("Hyperparameter importance (fANOVA over the tune phase)", _importance_lines(verdict) or ["no tune phase"]),
        ("Budget", [verdict.budget.note]),
        ("Runs", _counts_lines(verdict)),
    ]


def _ms(m: MeanSd) -> str:
    """mean ± sd (n) with 3 significant digits, or – ."""
    if m.mean is None:
        return "–"
    sd = f" ± {m.sd:.3g}" if m.sd is not None else ""
    return f"{m.mean:.3g}{sd} (n={m.n})"


_RECON_COLUMNS = ("architecture", "configuration", "its tune score (1 seed)", "selection seeds: mean ± sd",
                  "confirm: validation, mean ± sd", "confirm: test, mean ± sd", "seed ensemble: test")


def _reconciliation(verdict: Verdict) -> dict[str, list[list[str]]]:
    """Per dataset, one row per architecture: the configuration and its validation / test MASE from the
    single tune trial to fresh seeds to the seed ensemble."""
    out: dict[str, list[list[str]]] = {}
    for ds, by_arch in sorted(verdict.configurations.items()):
        rows = []
        for arch, c in sorted(by_arch.items()):
            config = ", ".join(f"{k} {_fmt(_number(v))}" for k, v in c.config.items())
            tune = _fmt(c.tune_val_mase, 3) if c.tune_val_mase is not None else "fixed (no search)"
            confirm_val = ("none: fitted on train + validation" if c.confirm_val_mase.mean is None
                           and verdict.settings.final_fit == "train+validation" else _ms(c.confirm_val_mase))
            rows.append([arch.upper(), config, tune, _ms(c.selection_val_mase), confirm_val,
                         _ms(c.confirm_test_mase), _fmt(c.ensemble_test_mase, 3)])
        out[ds] = rows
    return out


def _header_facts(verdict: Verdict) -> str:
    info = verdict.sweep_info
    parts = [f"sweep {verdict.sweep}", f"run {info.date}"]
    if info.code_version:
        parts.append(f"code {info.code_version[:12]}")
    return " · ".join(parts)


def data_lines(verdict: Verdict) -> list[str]:
    """What was read of each dataset: its time range, step and points (`gatesweep.data_span.<dataset>`)."""
    return [f"{name}: {span}" for name, span in (verdict.sweep_info.data or {}).items()]


def _search_space_lines(verdict: Verdict) -> list[str]:
    space = verdict.sweep_info.search_space
    if not space:
        return ["not recorded (runs logged by hand)"]
    return [f"{scope}: " + ", ".join(f"{k} {_plain(v)}" for k, v in sorted(values.items()))
            for scope, values in space.items()]


def _plain(v: Any) -> str:
    if isinstance(v, dict) and "choice" in v:
        return "{" + ", ".join(map(str, v["choice"])) + "}"
    if isinstance(v, dict) and "low" in v:
        return f"{v['low']:g}..{v['high']:g}" + (" (log)" if v.get("log") else "")
    return str(v)


def rules_line(verdict: Verdict) -> str:
    """The rules the verdict was reached by, and how the networks were trained, in one line."""
    rules = verdict.settings
    stopping = (f"early stopping after {rules.patience} epochs without a better validation MASE (the best epoch's "
                "weights kept), the same for both architectures" if rules.patience else "no early stopping")
    if rules.final_fit == "train+validation":
        stopping += ("; the confirm runs and the baselines were then fitted on train + validation (everything before "
                     "the test part), the networks for the epochs early stopping chose (the epochs given, when nothing "
                     "was searched), so they have no validation score")
    rounds = next((v.rounds for v in verdict.datasets if v.rounds is not None and v.rounds.stop != "fixed"), None)
    seeds = (f"; confirm seeds in rounds up to {rounds.max_seeds} per architecture, each look held to its "
             "group-sequential boundary" if rounds is not None else "")
    return (f"alpha {rules.alpha}, equivalence margin ±{100 * rules.equivalence_margin:g}%, at least "
            f"{rules.min_seeds} random seeds per architecture to decide{seeds}; {stopping}.")


def _score_tables(verdict: Verdict) -> list[tuple[str, list[str], list[list[str]], str]]:
    """Every dataset's per-series and per-step tables: (title, header, rows, note)."""
    out = []
    for v in verdict.datasets:
        for what, table in (("per series", series_table(v)), ("per step of the horizon", step_table(v))):
            if table is not None:
                out.append((f"{v.dataset}: test MASE {what}", *table))
    return out


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |"
                                                                              for r in rows]


def summary_md(verdict: Verdict, figures: list[tuple[str, str]] | None = None,
               series: dict[str, list[tuple[str, str]]] | None = None) -> str:
    """The report in Markdown; `figures`: (caption, path relative to summary.md) of the pictures it shows;
    `series`: per dataset, (series id, path) of every series' own figure, linked."""
    lines = [f"# gatesweep report: {verdict.sweep}", "", _header_facts(verdict) + f" · parent run "
             f"`{verdict.parent_run_id}`", ""] + [f"- data {line}" for line in data_lines(verdict)] + [
             "", "## Decision", ""]
    useful = worth_using(verdict)
    if useful:  # whether to use a network at all, before which of the two
        lines += ["**Worth using?**", ""] + [f"- {s}" for s in useful] + [""]
    lines += [f"**{'GRU or LSTM? ' if useful else ''}Overall: {verdict.overall.label}** — {verdict.overall.note}.", ""]
    lines += [f"- {v.sentence}" for v in verdict.datasets]
    lines += [f"\n**Not on every series:** {line}" for line in series_caveats(verdict)]
    lines += ["", P_VALUE_NOTE]
    lines += [f"\n{line}" for line in reconciling(verdict)]
    lines += [f"\n**Warning:** {w}" for w in report_warnings(verdict)]
    if verdict.next_steps:
        lines += ["", "**What to do next**", ""] + [f"- {step}" for step in verdict.next_steps]
    for ds, rows in _reconciliation(verdict).items():
        lines += ["", f"### {ds}: chosen configurations, validation then test MASE", "",
                  "| " + " | ".join(_RECON_COLUMNS) + " |", "|" + "---|" * len(_RECON_COLUMNS)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
    if verdict.configurations:
        lines += ["", ENSEMBLE_NOTE]
    lines += ["", "## Statistics per dataset", "", "| " + " | ".join(h for _, h in _COLUMNS) + " |",
              "|" + "---|" * len(_COLUMNS)]
    lines += ["| " + " | ".join(r) + " |" for r in _rows(verdict)]
    tables = _score_tables(verdict)
    if tables:
        lines += ["", "## Per series and per step"]
    for title, header, rows, note in tables:
        lines += ["", f"### {title}", "", note, "", *_md_table(header, rows)]
    if figures:
        lines += ["", "## Forecasts against actuals"]
        lines += [f"\n![{caption.split(':')[0]}]({path})\n\n{caption}" for caption, path in figures]
    for ds, links in (series or {}).items():
        scores = verdict.dataset(ds).scores
        total = len(scores.series) if scores is not None else len(links)
        which = (f"Every series of {ds}" if len(links) >= total else
                 f"The {len(links)} of {ds}'s {total} series that matter most (the per-series table has every one)")
        lines += ["", f"{which}, a figure each: " + ", ".join(f"[{sid or ds}]({path})" for sid, path in links)]
    for title, items in _sections(verdict):
        lines += ["", f"## {title}", ""] + [f"- {ln}" for ln in items]
    lines += ["", "## Search space", ""] + [f"- {ln}" for ln in _search_space_lines(verdict)]
    lines += ["", rules_line(verdict)]
    return "\n".join(lines) + "\n"


# (frame width below which, zoom): the desktop layout's width is at least the frame's width / zoom
DESKTOP_ZOOM = ((900, .8), (640, .7), (480, .6))

_STYLE = ("body{font-family:system-ui,sans-serif;max-width:1100px;margin:1em auto;padding:0 1em;color:#222;"
          "line-height:1.4}h1{font-size:1.5em;margin:.3em 0}.facts{color:#555;font-size:.85em}"
          ".decision{border:2px solid #333;border-radius:8px;padding:.6em 1em;margin:1em 0;background:#fafafa}"
          ".decision h2{margin:.2em 0 .4em}.label{font-size:1.25em}"
          "li.gru,li.lstm{font-weight:bold}.warn{color:#a00;font-weight:bold}"
          ".scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}"
          ".reconcile{border-left:3px solid #999;padding-left:.6em}"
          "code{background:#eee;border-radius:3px;padding:0 .2em;font-size:.92em}"
          "@media (max-width:700px){.scroll::before{content:'scroll sideways for more columns \\2192';"
          "display:block;font-size:.75em;color:#777}}"
          # a figure fits the screen's width (on a phone: tap or zoom for detail); only tables scroll sideways
          ".fig img{width:100%;max-width:900px}figure.fig{max-width:100%}figcaption{font-size:.9em}"
          ".picker{margin:-.5em 0 1.5em}.picker select{max-width:100%;font-size:1em}"
          "img.one-series{width:100%;max-width:560px}"
          "table.scores td{white-space:nowrap}"
          "table{border-collapse:collapse;font-size:.85em;margin:.4em 0}td,th{border:1px solid #ccc;"
          "padding:.3em .5em;vertical-align:top}th{background:#f0f0f0;text-align:left}td.num{text-align:right;"
          "white-space:nowrap}img{max-width:100%;height:auto}figure{margin:1.5em 0}.note{color:#555;font-size:.9em}"
          # MLflow shows an HTML artifact in a frame about 500-850 px wide (1280-1440 px screens, with or without its
          # Assistant panel): width alone would take it for a phone. A mouse (fine pointer, hover) says it is a
          # desktop: the page keeps its desktop layout, laid out at least ~730 px wide and scaled to the frame;
          # a phone (coarse pointer) keeps its own layout at its own width
          + "".join(f"@media (hover:hover) and (pointer:fine) and (max-width:{w - 1}px){{html{{zoom:{z}}}}}"
                    for w, z in DESKTOP_ZOOM))


def _code(text: str) -> str:
    """Escaped text with `backticked` spans as <code> (the advice names sweep-file settings)."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


def _table(header: tuple[str, ...] | list[str], rows: list[list[str]]) -> str:
    e = html.escape
    body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in rows)
    return ("<div class='scroll'><table><tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr>"
            + body + "</table></div>")


def _score_tables_html(verdict: Verdict) -> str:
    tables = _score_tables(verdict)
    if not tables:
        return ""
    e = html.escape
    return "<h2>Per series and per step</h2>" + "".join(
        f"<h3>{e(title)}</h3><p class='note'>{e(note)}</p>"
        + _table(header, rows).replace("<table>", f"<table class='scores' id='{e(_anchor(title))}'>", 1)
        for title, header, rows, note in tables)


def _anchor(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def _data_uri(png: bytes) -> str:
    return f"data:image/png;base64,{base64.b64encode(png).decode()}"


# a screen this narrow gets a figure's narrow drawing (`reports.plots.Png`): its text twice as large. MLflow's artifact
# frame on a laptop is about as narrow and reads it as well as the page's scaled desktop layout
NARROW_SCREEN = "(max-width: 600px)"


def _picture(png: bytes, title: str) -> str:
    """A figure's `<img>`, within a `<picture>` that offers narrow screens its narrow drawing where it has one."""
    img = f"<img alt='{html.escape(title)}' src='{_data_uri(png)}'>"
    narrow = getattr(png, "narrow", None)
    if not narrow:
        return img
    return f"<picture><source media='{NARROW_SCREEN}' srcset='{_data_uri(narrow)}'>{img}</picture>"


def _series_picker(dataset: str, figures: list[tuple[str, bytes]], total: int) -> str:
    """A big panel's series behind a `<select>`: each option holds its series' picture, which a line of script
    shows. Without script the page still reads (the figure above has the most important series) and says where the
    files are."""
    e = html.escape
    options = "".join(f"<option value='{_data_uri(png)}'>{e(sid or dataset)}</option>" for sid, png in figures)
    show = ("const i=this.closest('.picker').querySelector('img');i.src=this.value;i.hidden=!this.value;"
            "i.alt='forecasts against actuals of series '+this.selectedOptions[0].text")
    files = (f"{'every series' if len(figures) == total else 'these series'}' figures are files under "
             f"figures/{series_folder(dataset)}/ beside this page, linked from summary.md"
             + ("" if len(figures) == total else "; the per-series table has every series' scores"))
    which = (f"Any series of {dataset}" if len(figures) == total else
             f"The {len(figures)} of {dataset}'s {total} series that matter most ({files})")
    return (f"<div class='picker'><p><label>{e(which)}: <select data-dataset='{e(dataset)}' onchange=\"{show}\">"
            f"<option value=''>choose a series ({len(figures)})</option>{options}</select></label></p>"
            f"<noscript><p class='note'>{e(files[0].upper() + files[1:])}.</p></noscript>"
            "<img class='one-series' hidden alt=''></div>")


def report_html(verdict: Verdict, images: list[tuple[str, bytes]], link: str | None = None,
                series: dict[str, list[tuple[str, bytes]]] | None = None) -> str:
    """The report as one self-contained page: the decision first, then the evidence. `series`: per dataset whose
    forecast figure leaves series out, (series id, picture) of every series, shown by a selector under it."""
    e = html.escape
    parent = f"<a href='{e(link)}'>parent run in MLflow</a>" if link else f"parent run {e(verdict.parent_run_id)}"
    useful = worth_using(verdict)
    decision = ("<section class='decision' id='decision'><h2>Decision</h2>"
                + ("<h3>Worth using?</h3><ul class='useful'>" + "".join(f"<li>{_code(s)}</li>" for s in useful)
                   + "</ul><h3>GRU or LSTM?</h3>" if useful else "")
                + f"<p class='label'>Overall: <b id='overall-label'>{e(verdict.overall.label)}</b></p>"
                f"<p class='note'>{e(verdict.overall.note)}.</p><ul class='verdicts'>"
                + "".join(f"<li class='{e(v.label)}'>{e(v.sentence)}</li>" for v in verdict.datasets)
                + "</ul>" + "".join(f"<p class='{'warn' if ' win rests on ' in line else 'reconcile'} series-caveat'>"
                                    f"Not on every series: {e(line)}</p>" for line in series_caveats(verdict))
                + f"<p class='note p-covers'>{e(P_VALUE_NOTE)}</p>"
                + "".join(f"<p class='reconcile'>{e(line)}</p>" for line in reconciling(verdict))
                + "".join(f"<p class='warn'>{_code(w)}</p>" for w in report_warnings(verdict)))
    recon = _reconciliation(verdict)
    for ds, rows in recon.items():
        decision += f"<h3>{e(ds)}: the chosen configurations, validation then test MASE</h3>" + _table(
            _RECON_COLUMNS, rows)
    if recon:
        decision += f"<p class='note'>{e(ENSEMBLE_NOTE)}</p>"
    if verdict.next_steps:
        decision += ("<h3>What to do next</h3><ul>" + "".join(f"<li>{_code(s)}</li>" for s in verdict.next_steps)
                     + "</ul>")
    decision += f"<p class='note rules'>Rules: {e(rules_line(verdict))}</p></section>"
    sections = "".join(f"<h2>{e(title)}</h2><ul>" + "".join(f"<li>{e(ln)}</li>" for ln in items) + "</ul>"
                       for title, items in _sections(verdict))
    pickers = {f"{ds}: {FORECASTS_TITLE}": _series_picker(ds, figs, verdict.dataset(ds).series)
               for ds, figs in (series or {}).items()}
    figs = "".join(f"<figure class='fig'>{_picture(png, title)}<figcaption>{e(title)}</figcaption></figure>"
                   + next((p for head, p in pickers.items() if title.startswith(head)), "") for title, png in images)
    space = "<ul>" + "".join(f"<li>{e(ln)}</li>" for ln in _search_space_lines(verdict)) + "</ul>"
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>gatesweep report: {e(verdict.sweep)}</title><style>{_STYLE}</style></head><body>"
            f"<h1>GRU or LSTM? — {e(verdict.sweep)}</h1><p class='facts'>{e(_header_facts(verdict))} · {parent}</p>"
            + "".join(f"<p class='facts'>data {e(line)}</p>" for line in data_lines(verdict)) +
            f"{decision}<h2>Statistics per dataset</h2>{_table([h for _, h in _COLUMNS], _rows(verdict))}"
            f"{_score_tables_html(verdict)}"
            f"<h2>Figures</h2>{figs}{sections}<h2>Search space</h2>{space}"
            f"<p class='note' id='rules'>{e(rules_line(verdict))}</p></body></html>\n")
