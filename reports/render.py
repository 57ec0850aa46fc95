"""verdict.json, summary.md and a self-contained report.html (images embedded as data URIs)."""

from __future__ import annotations

import base64
import html
import json
import math
from typing import Any


def verdict_json(verdict: dict[str, Any]) -> str:
    """Canonical form: sorted keys, fixed float formatting, so identical inputs give identical bytes."""
    return json.dumps(_round(verdict), indent=2, sort_keys=True, allow_nan=False) + "\n"


def _round(x: Any) -> Any:
    if isinstance(x, float):
        return None if x != x else float(f"{x:.10g}")
    if isinstance(x, dict):
        return {k: _round(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_round(v) for v in x]
    return x


def _fmt(x: Any, digits: int = 4) -> str:
    if x is None:
        return "–"
    if isinstance(x, bool):
        return "yes" if x else "NO"
    if isinstance(x, float):
        return f"{x:.{digits}g}"
    return str(x)


_COLUMNS = [("dataset", "dataset"), ("label", "verdict"), ("n_gru", "GRU seeds"), ("n_lstm", "LSTM seeds"),
            ("gmean_mase_gru", "GRU geometric-mean test MASE"), ("gmean_mase_lstm", "LSTM geometric-mean test MASE"),
            ("ratio", "ratio GRU/LSTM"), ("ratio_ci", "95% CI"), ("p_holm", "p (Holm, Welch)"),
            ("prob_gru_better", "P(GRU seed beats LSTM seed)"), ("naive_mase", "naive MASE"),
            ("ar_mase", "AR MASE"), ("beats_naive", "beats naive"), ("beats_ar", "beats AR")]


def _rows(verdict: dict[str, Any]) -> list[list[str]]:
    import math

    rows = []
    for v in verdict["datasets"]:
        cells = dict(v, ratio=math.exp(v["effect"]),
                     ratio_ci=f"{math.exp(v['ci_low']):.3f}–{math.exp(v['ci_high']):.3f}")
        rows.append([_fmt(cells[k]) for k, _ in _COLUMNS])
    return rows


def _counts_lines(verdict: dict[str, Any]) -> list[str]:
    out = []
    for phase, by_arch in sorted(verdict["counts"].items()):
        parts = [f"{arch.upper()} {c['finished']} finished, {c['failed']} failed"
                 for arch, c in sorted(by_arch.items())]
        out.append(f"{phase}: " + "; ".join(parts))
    return out


def baseline_warnings(verdict: dict[str, Any]) -> list[str]:
    """A winner that loses to a naive or linear forecaster is no winner worth reporting."""
    out = []
    for key, what in (("beats_naive", "the naive (last value) forecast"), ("beats_ar", "a linear AR model")):
        flagged = [v["dataset"] for v in verdict["datasets"] if v[key] is False]
        if flagged:
            out.append(f"Neither GRU nor LSTM beats {what} on: {', '.join(flagged)}.")
    return out


def _dm_lines(verdict: dict[str, Any]) -> list[str]:
    out = []
    for v in verdict["datasets"]:
        dm = v.get("dm", {})
        if not dm.get("available"):
            out.append(f"{v['dataset']}: not available ({dm.get('note', 'no forecasts')}).")
            continue
        side = "GRU" if dm["statistic"] < 0 else "LSTM"
        classic = (f"; the classic HLN-corrected variance, which assumes uncorrelated errors, gives "
                   f"p = {dm['hln_p_value']:.3g}" if "hln_p_value" in dm else "")
        out.append(f"{v['dataset']}: DM statistic {dm['statistic']:.3f}, p = {dm['p_value']:.3g} (absolute error, "
                   f"Newey–West variance with {int(dm.get('lags', 0))} lags, half the test split, against the fixed-b "
                   f"reference{classic}), on {int(dm['n'])} seed-averaged test forecasts; the sign favours {side}. "
                   "With strongly autocorrelated errors and a short test split even this p-value is a little "
                   "optimistic.")
        seeds_side = "GRU" if v["effect"] < 0 else "LSTM"
        if dm["p_value"] < verdict["settings"]["alpha"] and side != seeds_side:
            out.append(f"{v['dataset']}: the two point different ways: the verdict compares single trained networks "
                       f"(the typical seed favours {seeds_side}), this test compares the average of each "
                       f"architecture's seeds (favouring {side}). Averaging cancels seed-to-seed noise, so the "
                       "architecture whose seeds scatter more gains more from it: its ensemble can win while its "
                       "typical seed loses.")
    return out


def _importance_lines(verdict: dict[str, Any]) -> list[str]:
    out = []
    for ds, by_arch in sorted(verdict.get("importance", {}).items()):
        for arch, imp in sorted(by_arch.items()):
            if imp:
                ranked = sorted(imp.items(), key=lambda kv: -kv[1])
                out.append(f"{ds} / {arch.upper()}: " + ", ".join(f"{k} {v:.2f}" for k, v in ranked))
            else:
                out.append(f"{ds} / {arch.upper()}: too few trials or nothing searched")
    return out


def _ms(m: dict[str, Any]) -> str:
    if not m or m.get("mean") is None:
        return "–"
    sd = f" ± {m['sd']:.3g}" if m.get("sd") is not None else ""
    return f"{m['mean']:.3g}{sd} ({m['n']} seeds)"


def _configuration_lines(verdict: dict[str, Any]) -> list[str]:
    out = []
    for ds, by_arch in sorted(verdict.get("configurations", {}).items()):
        for arch, c in sorted(by_arch.items()):
            config = ", ".join(f"{k} {v}" for k, v in c["config"].items())
            tune = (f"tune-phase trial {c['source_trial']}: validation MASE {c['tune_val_mase']:.3g}"
                    if c.get("tune_val_mase") is not None else "no tune phase (fixed configuration)")
            out.append(f"{ds} / {arch.upper()}: {config}. {tune}; selection seeds: {_ms(c['selection_val_mase'])}; "
                       f"confirm seeds: validation MASE {_ms(c['confirm_val_mase'])}, test MASE "
                       f"{_ms(c['confirm_test_mase'])}.")
    return out


def _sensitivity_lines(verdict: dict[str, Any]) -> list[str]:
    sens = verdict.get("sensitivity", {})
    if not sens.get("param_matched"):
        return [sens.get("note", "not run")]
    lines = [sens["note"] + "."]
    for _, s in sorted(sens["param_matched"].items()):
        lines.append(f"GRU at hidden size {s['gru_hidden_size']} ({s['n_params_gru']:.0f} parameters): {s['sentence']}")
    return lines


def _nightly_lines(verdict: dict[str, Any]) -> list[str]:
    n = verdict["nightly"]
    flags = n["flags"]
    lines = [f"verdict changed since the last night: {'YES' if flags['verdict_changed'] else 'no'}; best test MASE "
             f"worse than last night beyond its CI: {'YES' if flags['mase_worse'] else 'no'}"] + flags["details"]
    for h in n["history"]:
        parts = []
        for ds, d in sorted(h["datasets"].items()):
            eff = d.get("effect")
            ci = d.get("ci") or [None, None]
            ratio = (f"ratio {math.exp(eff):.3f} ({math.exp(ci[0]):.3f}–{math.exp(ci[1]):.3f})"
                     if eff is not None and None not in ci else "ratio –")
            best = {a: (m.get("mean") if m else None) for a, m in d["test_mase"].items()}
            parts.append(f"{ds}: {d['label']}, {ratio}, test MASE GRU {_fmt(best['gru'])} / LSTM {_fmt(best['lstm'])}, "
                         f"data {d.get('data')}")
        lines.append(f"{h['date']} — overall {h['overall']}; " + "; ".join(parts) + f"; code {h['code_version']}")
    return lines


def _sections(verdict: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """The report's secondary sections, shared by the Markdown and HTML renderings."""
    cost = [c["sentence"] for _, c in sorted(verdict["cost"].items()) if "sentence" in c]
    nightly = [("Nightly comparison (newest first)", _nightly_lines(verdict))] if "nightly" in verdict else []
    return nightly + [
        ("Chosen configurations (tune score, then fresh seeds: how much of the pick was luck)",
         _configuration_lines(verdict) or ["none"]),
        ("Forecast-level check (Diebold–Mariano)", _dm_lines(verdict)),
        ("Cost (the seeds' \"GRU is faster\" claim)", cost or ["not enough confirm runs to compare"]),
        ("Sensitivity: parameter-matched GRU", _sensitivity_lines(verdict)),
        ("Hyperparameter importance (fANOVA over the tune phase)", _importance_lines(verdict) or ["no tune phase"]),
        ("Budget", [verdict["budget"]["note"]]),
        ("Runs", _counts_lines(verdict)),
    ]


def summary_md(verdict: dict[str, Any]) -> str:
    lines = [f"# gatesweep report: {verdict['sweep']}", "", f"**Overall: {verdict['overall']['label']}** — "
             f"{verdict['overall']['note']}.", ""]
    lines += [f"- {v['sentence']}" for v in verdict["datasets"]]
    lines += [f"\n**Warning:** {w}" for w in baseline_warnings(verdict)]
    lines += ["", "| " + " | ".join(h for _, h in _COLUMNS) + " |", "|" + "---|" * len(_COLUMNS)]
    lines += ["| " + " | ".join(r) + " |" for r in _rows(verdict)]
    for title, items in _sections(verdict):
        lines += ["", f"## {title}", ""] + [f"- {ln}" for ln in items]
    lines += ["", f"Parent run `{verdict['parent_run_id']}`; alpha {verdict['settings']['alpha']}, "
              f"equivalence margin ±{100 * verdict['settings']['equivalence_margin']:g}%."]
    return "\n".join(lines) + "\n"


def report_html(verdict: dict[str, Any], images: list[tuple[str, bytes]]) -> str:
    e = html.escape
    head = (f"<h1>gatesweep: GRU or LSTM? — {e(verdict['sweep'])}</h1>"
            f"<p class='overall'>Overall: <b id='overall-label'>{e(verdict['overall']['label'])}</b> — "
            f"{e(verdict['overall']['note'])}.</p><ul class='verdicts'>"
            + "".join(f"<li class='{e(v['label'])}'>{e(v['sentence'])}</li>" for v in verdict["datasets"]) + "</ul>")
    head += "".join(f"<p class='warn'>{e(w)}</p>" for w in baseline_warnings(verdict))
    table = ("<table><tr>" + "".join(f"<th>{e(h)}</th>" for _, h in _COLUMNS) + "</tr>"
             + "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in _rows(verdict))
             + "</table>")
    sections = "".join(f"<h2>{e(title)}</h2><ul>" + "".join(f"<li>{e(ln)}</li>" for ln in items) + "</ul>"
                       for title, items in _sections(verdict))
    figs = "".join(f"<figure><img alt='{e(title)}' src='data:image/png;base64,{base64.b64encode(png).decode()}'>"
                   f"<figcaption>{e(title)}</figcaption></figure>" for title, png in images)
    style = ("body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
             "table{border-collapse:collapse;font-size:.9em}td,th{border:1px solid #ccc;padding:.3em .5em}"
             "li.gru,li.lstm{font-weight:bold}.warn{color:#a00;font-weight:bold}img{max-width:100%}"
             "figure{margin:1.5em 0}")
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>gatesweep report: "
            f"{e(verdict['sweep'])}</title><style>{style}</style></head><body>{head}<h2>Per dataset</h2>{table}"
            f"{sections}<h2>Figures</h2>{figs}"
            f"<p><small>Parent run {e(verdict['parent_run_id'])}</small></p></body></html>\n")
