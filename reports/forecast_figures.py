"""The figures an analyst opens on: per dataset, the test forecasts against actuals of each series (a panel's
largest) and the error at each step ahead, with their captions and the file names summary.md links."""

from __future__ import annotations

import math
import re

from pipeline.core.hparams import ARCHITECTURES
from reports import plots
from reports.series import SeriesView, most_important
from reports.verdict import BASELINE_NAMES, DatasetVerdict, Verdict


def _better(v: DatasetVerdict) -> str | None:
    """The architecture the forecast figure draws with its seeds' band: the lower seed-ensemble MASE (what the
    usefulness rule tests), else the lower geometric mean over seeds."""
    if v.useful is not None and v.useful.arch is not None:
        return v.useful.arch
    scores = {"gru": v.gmean_mase_gru, "lstm": v.gmean_mase_lstm}
    known = {a: x for a, x in scores.items() if math.isfinite(x)}
    return min(known, key=lambda a: known[a]) if known else None


def forecast_figures(verdict: Verdict, views: dict[str, list[SeriesView]]) -> list[tuple[str, bytes, str]]:
    """Per dataset with stored test forecasts: forecasts against actuals per series, and (horizon > 1) the error at
    each step; each with its caption and a file name (summary.md links the files)."""
    out = []
    for v in verdict.datasets:
        ds, shown = v.dataset, most_important(views.get(v.dataset, []))
        if not shown:
            continue
        total, better = len(views[ds]), _better(v)
        best = v.useful.best_baseline if v.useful is not None and v.useful.best_baseline else v.best_baseline
        best = best if any(best in s.baselines for s in shown) else None
        which = ("its one series" if total == 1 else "both its series" if total == 2 else f"all {total} series"
                 if len(shown) == total else
                 f"{len(shown)} of its {total} series, the largest (mean absolute value over the test part); the "
                 "per-series table below has the others")
        other = [a.upper() for a in ARCHITECTURES if a != better and any(a in s.seeds for s in shown)]
        base = (f" The dash-dot grey line is the best baseline, {BASELINE_NAMES.get(best, best)}." if best else
                " No baseline forecasts are drawn: this sweep logged no baselines.json (or none on these origins).")
        out.append((f"{ds}: test forecasts against actuals, {which}, on the data's own time axis. Black: the history "
                    f"before the test part, then the actual values; the dotted line is the first forecast origin. The "
                    f"shaded band spans every {better.upper() if better else ''} confirm seed's forecast (min to max), "
                    f"its line is the seed ensemble (median of the seeds)"
                    + (f"; the dashed line is the {other[0]} ensemble." if other else ".") + base,
                    plots.forecasts(shown, ds, total, better, best), file_name("forecasts", ds)))
        if v.scores is not None and v.horizon > 1:
            out.append((f"{ds}: test MASE at each step ahead" + (" (mean over its series)" if total > 1 else "")
                        + ": each architecture's seed ensemble (solid) and its seeds' geometric mean (dotted), and "
                        "every baseline (grey). Errors usually grow with the step; a network that pulls ahead only "
                        "at some steps shows it here.",
                        plots.step_errors(v.scores, ds), file_name("error_by_step", ds)))
    return out


def file_name(what: str, dataset: str) -> str:
    return f"{what}_{re.sub(r'[^A-Za-z0-9_.-]', '_', dataset)}.png"
