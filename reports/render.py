"""summary.md and a self-contained report.html (images embedded as data URIs); verdict.json is
`Verdict.to_json()`."""

from __future__ import annotations

import base64
import html
import math
import re
from typing import Any

from reports.decision import ENSEMBLE_NOTE, dm_against_verdict
from reports.stats import ci_text, ratio_text
from reports.verdict import BASELINE_NAMES, DMResult, MeanSd, Nightly, RoundStep, Verdict, exp_ratio


def _fmt(x: Any, digits: int = 3) -> str:
    if x is None:
        return "–"
    if isinstance(x, bool):
        return "yes" if x else "NO"
    if isinstance(x, float):
        return "not defined" if math.isnan(x) else f"{x:.{digits}g}"
    return str(x)


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
    from reports.decision import usefulness_lines

    tested = [v.useful for v in verdict.datasets if v.useful is not None]
    return [u.sentence if u.network is not None else line for u, line in zip(tested, usefulness_lines(verdict),
                                                                              strict=True)]


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
                       f"{v.baseline_mase[v.best_baseline or '']:.3g}).")
    for v in verdict.datasets:  # "AR MASE 2.5e-08, beats AR: NO" reads like a bug unless it is explained
        exact = sorted((x, k) for k, x in v.baseline_mase.items() if x < EXACT_MASE)
        if exact:
            x, k = exact[0]
            out.append(f"{BASELINE_NAMES.get(k, k)} forecasts {v.dataset} almost exactly (test MASE {x:.2g}): the "
                       "series follows a rule that model states exactly, as a noiseless synthetic series such as the "
                       "damped cosine (an exact linear recurrence) does for AR. No network reaches that; on such a "
                       "series compare GRU with LSTM, and judge them against baselines on real, noisy data.")
    return out


EXACT_MASE = 1e-3  # a baseline this close to zero error has found the series' generating rule


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
        parts = [f"{BASELINE_NAMES.get(k, k)} {x:.3g}" + (f" ({x / ref:.2f})" if ref else "")
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


def _per_step_lines(verdict: Verdict) -> list[str]:
    out = []
    for v in verdict.datasets:
        if v.horizon > 1 and v.per_step:
            out.append(f"{v.dataset}: " + "; ".join(f"step {s.step} {s.ratio:.3f} ({s.ci_low:.3f}–{s.ci_high:.3f})"
                                                    for s in v.per_step))
    return out


def _series_lines(verdict: Verdict) -> list[str]:
    """A panel's series: how often a GRU seed beats an LSTM seed on each, and the series left out."""
    out = []
    for v in verdict.datasets:
        if v.per_series:
            head = f"{v.dataset} ({v.series} series; the verdict uses each seed's mean MASE over them): "
            out.append(head + "; ".join(
                f"{s.id} GRU better in {100 * s.gru_better:.0f}% of seed pairs (MASE GRU {s.gru_mase:.3g}, LSTM "
                f"{s.lstm_mase:.3g})" for s in sorted(v.per_series, key=lambda s: s.gru_better)))
        if v.dropped_series:
            out.append(f"{v.dataset}: left out as too short for the splits, window and horizon (short_series: drop): "
                       + ", ".join(f"{d.id} ({d.length} points)" for d in v.dropped_series))
    return out


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
            other.append(f"the seed ensembles favour {'GRU' if g < lo else 'LSTM'} (test MASE {g:.3g} GRU, "
                         f"{lo:.3g} LSTM)")
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
                f"{BASELINE_NAMES.get(k, k)} {x:.3g}" + (f" (p = {u.p_values[k]:.3g})" if k in u.p_values else "")
                for k, x in sorted(u.baseline_mase.items(), key=lambda kv: kv[1]))
        if u.test is not None:
            line += f"; {u.test}, each at {u.level:g}, all must reject"
        out.append(line + ".")
    return out


def _sections(verdict: Verdict) -> list[tuple[str, list[str]]]:
    """The report's secondary sections, shared by the Markdown and HTML renderings."""
    cost = [c.sentence for _, c in sorted(verdict.cost.items())]
    nightly = ([("Nightly comparison (newest first)", _nightly_lines(verdict.nightly))] if verdict.nightly else [])
    per_step = _per_step_lines(verdict)
    steps = [("Per step of the horizon: GRU/LSTM ratio of geometric-mean test MASE (95% CI)", per_step)]
    series = _series_lines(verdict)
    rounds = _rounds_lines(verdict)
    useful = _useful_lines(verdict)
    return nightly + [
        *([("Usefulness: each seed ensemble against every baseline on the same origins", useful)] if useful else []),
        *([("Confirm rounds (seeds stop once the verdict is decided)", rounds)] if rounds else []),
        ("Baselines on the same origins and horizon", _baseline_lines(verdict)),
        *(steps if per_step else []),
        *([("Per series", series)] if series else []),
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


def _number(v: Any) -> Any:
    """A parameter read back from MLflow (a string) as a number when it is one, for consistent rounding."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return v
    return int(f) if f.is_integer() else f


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


def summary_md(verdict: Verdict) -> str:
    lines = [f"# gatesweep report: {verdict.sweep}", "", _header_facts(verdict) + f" · parent run "
             f"`{verdict.parent_run_id}`", ""] + [f"- data {line}" for line in data_lines(verdict)] + [
             "", "## Decision", ""]
    useful = worth_using(verdict)
    if useful:  # whether to use a network at all, before which of the two
        lines += ["**Worth using?**", ""] + [f"- {s}" for s in useful] + [""]
    lines += [f"**{'GRU or LSTM? ' if useful else ''}Overall: {verdict.overall.label}** — {verdict.overall.note}.", ""]
    lines += [f"- {v.sentence}" for v in verdict.datasets]
    lines += [f"\n{line}" for line in reconciling(verdict)]
    lines += [f"\n**Warning:** {w}" for w in baseline_warnings(verdict)]
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
    for title, items in _sections(verdict):
        lines += ["", f"## {title}", ""] + [f"- {ln}" for ln in items]
    lines += ["", "## Search space", ""] + [f"- {ln}" for ln in _search_space_lines(verdict)]
    lines += ["", rules_line(verdict)]
    return "\n".join(lines) + "\n"


_STYLE = ("body{font-family:system-ui,sans-serif;max-width:1100px;margin:1em auto;padding:0 1em;color:#222;"
          "line-height:1.4}h1{font-size:1.5em;margin:.3em 0}.facts{color:#555;font-size:.85em}"
          ".decision{border:2px solid #333;border-radius:8px;padding:.6em 1em;margin:1em 0;background:#fafafa}"
          ".decision h2{margin:.2em 0 .4em}.label{font-size:1.25em}"
          "li.gru,li.lstm{font-weight:bold}.warn{color:#a00;font-weight:bold}"
          ".scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}"
          ".reconcile{border-left:3px solid #999;padding-left:.6em}"
          "code{background:#eee;border-radius:3px;padding:0 .2em;font-size:.92em}"
          "@media (max-width:700px){.scroll::before{content:'scroll sideways for more columns \\2192';"
          "display:block;font-size:.75em;color:#777}"
          # a figure keeps a readable size on a phone (its text would be ~5 px at 390 px): it scrolls instead
          ".fig img{max-width:none;width:680px}.scroll.fig::before{content:'scroll sideways for the whole "
          "figure \\2192'}}"
          "table{border-collapse:collapse;font-size:.85em;margin:.4em 0}td,th{border:1px solid #ccc;"
          "padding:.3em .5em;vertical-align:top}th{background:#f0f0f0;text-align:left}td.num{text-align:right;"
          "white-space:nowrap}img{max-width:100%;height:auto}figure{margin:1.5em 0}.note{color:#555;font-size:.9em}")


def _code(text: str) -> str:
    """Escaped text with `backticked` spans as <code> (the advice names sweep-file settings)."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


def _table(header: tuple[str, ...] | list[str], rows: list[list[str]]) -> str:
    e = html.escape
    body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in rows)
    return ("<div class='scroll'><table><tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr>"
            + body + "</table></div>")


def report_html(verdict: Verdict, images: list[tuple[str, bytes]], link: str | None = None) -> str:
    """The report as one self-contained page: the decision first, then the evidence."""
    e = html.escape
    parent = f"<a href='{e(link)}'>parent run in MLflow</a>" if link else f"parent run {e(verdict.parent_run_id)}"
    useful = worth_using(verdict)
    decision = ("<section class='decision' id='decision'><h2>Decision</h2>"
                + ("<h3>Worth using?</h3><ul class='useful'>" + "".join(f"<li>{_code(s)}</li>" for s in useful)
                   + "</ul><h3>GRU or LSTM?</h3>" if useful else "")
                + f"<p class='label'>Overall: <b id='overall-label'>{e(verdict.overall.label)}</b></p>"
                f"<p class='note'>{e(verdict.overall.note)}.</p><ul class='verdicts'>"
                + "".join(f"<li class='{e(v.label)}'>{e(v.sentence)}</li>" for v in verdict.datasets)
                + "</ul>" + "".join(f"<p class='reconcile'>{e(line)}</p>" for line in reconciling(verdict))
                + "".join(f"<p class='warn'>{e(w)}</p>" for w in baseline_warnings(verdict)))
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
    figs = "".join(f"<figure class='scroll fig'><img alt='{e(title)}' "
                   f"src='data:image/png;base64,{base64.b64encode(png).decode()}'>"
                   f"<figcaption>{e(title)}</figcaption></figure>" for title, png in images)
    space = "<ul>" + "".join(f"<li>{e(ln)}</li>" for ln in _search_space_lines(verdict)) + "</ul>"
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>gatesweep report: {e(verdict.sweep)}</title><style>{_STYLE}</style></head><body>"
            f"<h1>GRU or LSTM? — {e(verdict.sweep)}</h1><p class='facts'>{e(_header_facts(verdict))} · {parent}</p>"
            + "".join(f"<p class='facts'>data {e(line)}</p>" for line in data_lines(verdict)) +
            f"{decision}<h2>Statistics per dataset</h2>{_table([h for _, h in _COLUMNS], _rows(verdict))}"
            f"<h2>Figures</h2>{figs}{sections}<h2>Search space</h2>{space}"
            f"<p class='note' id='rules'>{e(rules_line(verdict))}</p></body></html>\n")
