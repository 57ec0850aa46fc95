"""The figures an analyst opens on: per dataset, the test forecasts against actuals of each series (a big panel's
most important in one figure, and every series in a figure of its own) and the error at each step ahead, with their
captions and the file names summary.md links."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.core.hparams import ARCHITECTURES
from pipeline.verdict.model import BASELINE_NAMES, Verdict
from reports import plots
from reports.series import SHOWN_SERIES, SeriesView, drawn, importance

FORECASTS_TITLE = "test forecasts against actuals"  # a dataset's figure opens "<dataset>: " + this
EMBEDDED_SERIES = 250  # series pictures drawn per dataset (the most important): ~0.25 s and ~12 kB each, so an M3
# panel (1428 series) would spend 6 minutes drawing; the per-series table and the export hold every series' scores


@dataclass(frozen=True)
class SeriesFigure:
    """One series' own forecast figure (a panel with more series than its forecast figure draws): the report's
    series selector shows it, summary.md links its file."""

    id: str
    png: bytes
    name: str  # under the report's figures folder
    rank: int  # 0: the most important series (`reports.series.importance`)


def forecast_figures(verdict: Verdict, views: dict[str, list[SeriesView]]) -> list[tuple[str, bytes, str]]:
    """Per dataset with stored test forecasts: forecasts against actuals of its most important series
    (`reports.series.importance`), and (horizon > 1) the error at each step; each with its caption and a file name
    (summary.md links the files)."""
    out = []
    for v in verdict.datasets:
        ds, all_ = v.dataset, views.get(v.dataset, [])
        if not all_:
            continue
        order, rule = importance(v)
        shown = [all_[i] for i in order[:SHOWN_SERIES]] if order and len(all_) > SHOWN_SERIES else all_
        total, (better, best) = len(all_), drawn(v)
        best = best if any(best in s.baselines for s in shown) else None
        which = ("its one series" if total == 1 else "both its series" if total == 2 else f"all {total} series"
                 if len(shown) == total else
                 f"the {len(shown)} of its {total} series that matter most to the decision, by {rule} (the series "
                 "selector below the figure has every other one)")
        other = [a.upper() for a in ARCHITECTURES if a != better and any(a in s.seeds for s in shown)]
        base = (f" The dash-dot grey line is the best baseline, {BASELINE_NAMES.get(best, best)}." if best else
                " No baseline forecasts are drawn: this sweep logged no baselines.json (or none on these origins).")
        out.append((f"{ds}: {FORECASTS_TITLE}, {which}, on the data's own time axis. Black: the history "
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


def series_figures(verdict: Verdict, views: dict[str, list[SeriesView]], limit: int = EMBEDDED_SERIES
                   ) -> dict[str, list[SeriesFigure]]:
    """Per dataset whose forecast figure leaves series out: each series' own figure (the `limit` most important
    ones), in the dataset's order, drawn about a phone's width (legible there and on a desktop; one picture each
    keeps a big panel's report small)."""
    out = {}
    for v in verdict.datasets:
        all_ = views.get(v.dataset, [])
        if len(all_) <= SHOWN_SERIES:
            continue
        (better, best), order = drawn(v), importance(v)[0] or list(range(len(all_)))
        rank = {i: r for r, i in enumerate(order)}
        out[v.dataset] = [SeriesFigure(s.id, plots.one_series(s, v.dataset, better, best),
                                       series_file_name(v.dataset, k, s.id), rank[k])
                           for k, s in enumerate(all_) if rank[k] < limit]
    return out


def file_name(what: str, dataset: str) -> str:
    return f"{what}_{_safe(dataset)}.png"


def series_file_name(dataset: str, index: int, series: str) -> str:
    """A series' own figure: a folder per dataset, the series' position first (two ids may read alike once made
    safe for a file name)."""
    return f"{series_folder(dataset)}/{index:04d}_{_safe(series) or 'series'}.png"


def series_folder(dataset: str) -> str:
    return f"series_{_safe(dataset)}"


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)
