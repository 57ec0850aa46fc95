"""The parent run's description in MLflow (`mlflow.note.content`, the run page's "Description"): its first lines
are what fits above MLflow's "Show more" fold — the verdict, the links to the report and the runs table, whether a
network is worth using at all and the key test MASE numbers — then `reports.decision.description_md`'s details."""

from __future__ import annotations

import math

from pipeline.tracking.contract import Artifacts, RunsView
from pipeline.verdict.model import BASELINE_NAMES, DatasetVerdict, Verdict
from reports.decision import description_md, ui_link

HEAD_DATASETS = 3  # datasets named in the head; beyond them the head says how many more the report has
_SAID = {"gru": "GRU wins", "lstm": "LSTM wins"}


def parent_description(verdict: Verdict, experiment_id: str | None = None) -> str:
    """The head (four short lines), a blank line, then the details (`description_md` without its verdict line and
    its links, which the head carries). With `experiment_id` the report and the runs table are links into the
    MLflow UI."""
    details = description_md(verdict, report_path=Artifacts.REPORT_HTML_ROOT, experiment_id=experiment_id)
    # the head says the verdict and whether a network is worth using; the details keep the advice that goes with it
    body = [ln.replace("**Worth using?**", "**Worth using, in full:**", 1) for ln in details.splitlines()
            if not ln.startswith(("**gatesweep verdict:", "Full report:"))]
    return "\n".join(head_lines(verdict, experiment_id)) + "\n\n" + "\n".join(body).strip("\n")


def head_lines(verdict: Verdict, experiment_id: str | None = None) -> list[str]:
    """The verdict, the links to the report and the runs table, the usefulness line (each dataset's `useful`) and
    the key numbers (each architecture's seed ensemble test MASE and the best baseline's)."""
    shown = verdict.datasets[:HEAD_DATASETS]
    more = len(verdict.datasets) - len(shown)
    tail = f"; {more} more dataset{'s' * (more != 1)} in the report" if more else ""
    per = ("; ".join(f"{v.dataset}: {_SAID.get(v.label, v.label)}" for v in shown) if not more
           else verdict.overall.note)  # over many datasets, the overall test's words
    lines = [f"**gatesweep verdict: {verdict.overall.label}** — {per}."]
    # the links second: MLflow fades the fourth line of a description into its "Show more" fold
    if experiment_id is not None:
        report = ui_link(experiment_id, verdict.parent_run_id, Artifacts.REPORT_HTML_ROOT)
        runs = f"#/experiments/{experiment_id}/runs?{RunsView.query()}"
        lines.append(f"**Report:** [{Artifacts.REPORT_HTML_ROOT}]({report}) · [every run of the sweep]({runs})")
    else:
        lines.append(f"**Report:** the artifact `{Artifacts.REPORT_HTML_ROOT}` of this run.")
    useful = [_useful(v) for v in shown if v.useful is not None]
    if useful:
        lines.append("**Worth using?** " + "; ".join(useful) + tail + ".")
    numbers = [n for v in shown if (n := _numbers(v))]
    if numbers:
        lines.append("**Test MASE:** " + "; ".join(numbers) + tail + ".")
    return lines


def _useful(v: DatasetVerdict) -> str:
    """`damped: a network — the GRU (useful: gru)`, `damped: no, use ETS (useful: baseline:ets)`."""
    u = v.useful
    assert u is not None
    if u.network is not None:
        said = f"yes, the {u.network.upper()}"
    elif u.baseline is not None:
        said = f"no, use {BASELINE_NAMES.get(u.baseline, u.baseline)}"
    else:
        said = "not testable, no network recommended"
    return f"{v.dataset}: {said} (`useful: {u.useful}`)"


def _numbers(v: DatasetVerdict) -> str | None:
    """`damped: GRU ensemble 0.412, LSTM ensemble 0.398, best baseline ETS 0.455` (the usefulness test's numbers);
    without stored forecasts (or a verdict from before usefulness): each architecture's geometric mean over seeds
    and the best baseline."""
    u = v.useful
    if u is not None and any(x is not None for x in u.ensemble_mase.values()):
        nets = [f"{a.upper()} ensemble {x:#.3g}" for a, x in sorted(u.ensemble_mase.items()) if x is not None]
        best, scores = u.best_baseline, u.baseline_mase
    else:
        nets = [f"{a.upper()} {x:#.3g}" for a, x in (("gru", v.gmean_mase_gru), ("lstm", v.gmean_mase_lstm))
                if math.isfinite(x)]
        nets[-1:] = [f"{nets[-1]} (geometric means over seeds)"] if nets else []
        best, scores = v.best_baseline, v.baseline_mase
    if best is not None and best in scores:
        nets.append(f"best baseline {BASELINE_NAMES.get(best, best)} {scores[best]:#.3g}")
    return f"{v.dataset}: " + ", ".join(nets) if nets else None
