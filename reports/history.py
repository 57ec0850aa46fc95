"""Nightly comparison: this night's verdict against the earlier nightly runs of the same sweep in MLflow.

Only runs that started before this one are read, so rebuilding an old night's report gives the same
answer later. Earlier nights are read from the metrics and tags every parent run keeps (`history_metrics`),
so a night written by an earlier release compares as long as those names hold.
"""

from __future__ import annotations

import math

from pipeline.tracking.client import TrackingClient
from pipeline.tracking.contract import ARCHITECTURES, Metrics, Tags
from pipeline.verdict.model import DatasetVerdict, Night, NightDataset, Nightly, NightlyFlags, NightMase, Verdict
from reports.runs import ParentRun

MAX_NIGHTS = 30


def history_metrics(verdict: Verdict) -> dict[str, float]:
    """The per-dataset figures each parent run keeps as metrics (what an analyst compares in the MLflow UI,
    and what later nights read cheaply): the GRU/LSTM ratio with its CI, p after Holm, P(GRU seed better)
    with its CI, the seeds needed when undecided, and each architecture's mean test MASE with its CI.

    Numbers only: a figure that is not defined or has no finite value is left out rather than written as NaN,
    infinity or a stand-in number; `omitted_metrics` says which and why."""
    return {k: x for v in verdict.datasets for k, x in _figures(v).items() if math.isfinite(x)}


def _figures(v: DatasetVerdict) -> dict[str, float]:
    ds = v.dataset
    lo, hi = v.ratio_ci
    out = {Metrics.verdict(ds, "ratio"): v.ratio, Metrics.verdict(ds, "ratio_ci_low"): lo,
           Metrics.verdict(ds, "ratio_ci_high"): hi, Metrics.verdict(ds, "p_holm"): v.p_holm,
           Metrics.verdict(ds, "prob_gru_better"): v.prob_gru_better,
           Metrics.verdict(ds, "prob_ci_low"): v.prob_ci_low, Metrics.verdict(ds, "prob_ci_high"): v.prob_ci_high}
    if v.seeds_needed:
        out[Metrics.verdict(ds, "seeds_needed")] = float(v.seeds_needed)
    for arch, (lo, hi) in (v.mase_ci or {}).items():
        out |= {Metrics.test_mase(ds, arch, "mean"): v.mean_mase(arch), Metrics.test_mase(ds, arch, "ci_low"): lo,
                Metrics.test_mase(ds, arch, "ci_high"): hi}
    return out


def omitted_metrics(verdict: Verdict) -> dict[str, str]:
    """Per dataset, in words, the parent metrics its verdict has no number for (left out of `history_metrics`
    and of the confirm rounds' `round_ratio_ci_*` steps): the tag `gatesweep.omitted_metrics.<dataset>`."""
    out = {}
    for v in verdict.datasets:
        parts = []
        missing = [k for k, x in _figures(v).items() if not math.isfinite(x)]
        if missing:
            parts.append(f"{', '.join(missing)}: {_why_missing(v)}")
        if v.seeds_needed_above is not None:
            parts.append(f"{Metrics.verdict(v.dataset, 'seeds_needed')}: more than {v.seeds_needed_above} seeds per "
                         "architecture (no practical number)")
        for step in v.rounds.path if v.rounds is not None else []:
            if step.ci_note is not None or step.ci_low is None or step.ci_high is None:
                parts.append(f"{Metrics.verdict(v.dataset, 'round_ratio_ci_low')} and _high at step {step.round}: "
                             f"{step.ci_note or 'not defined'}")
        if parts:
            out[v.dataset] = "; ".join(parts)
    return out


def _why_missing(v: DatasetVerdict) -> str:
    if min(v.n_gru, v.n_lstm) < 2:
        return (f"not defined with {v.n_gru} GRU / {v.n_lstm} LSTM finished confirm runs (an architecture has "
                "fewer than 2)")
    if v.reason == "no spread":
        return "not defined: every seed gave the same MASE"
    return "beyond what a float holds (over 1e308)"


def _log(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) or x <= 0 else math.log(x)


def _number(x: float | None) -> float | None:
    """A metric of an earlier night as a number, or None (an older release logged NaN or infinity)."""
    return x if x is not None and math.isfinite(x) else None


def _night(run: ParentRun, datasets: list[str]) -> Night:
    """An earlier night, from its parent run's metrics and tags."""
    m, t = run.metrics, run.tags
    rows = {}
    for ds in datasets:
        rows[ds] = NightDataset(
            label=t.get(Tags.verdict_of(ds)), data=t.get(Tags.data_of(ds)),
            effect=_log(m.get(Metrics.verdict(ds, "ratio"))),
            ci=(_log(m.get(Metrics.verdict(ds, "ratio_ci_low"))), _log(m.get(Metrics.verdict(ds, "ratio_ci_high")))),
            test_mase={arch: NightMase(mean=_number(m.get(Metrics.test_mase(ds, arch, "mean"))),
                                       ci=(_number(m.get(Metrics.test_mase(ds, arch, "ci_low"))),
                                           _number(m.get(Metrics.test_mase(ds, arch, "ci_high")))))
                       for arch in ARCHITECTURES},
            useful=t.get(Tags.useful_of(ds)))
    return Night(run_id=run.run_id, date=run.date, overall=t.get(Tags.VERDICT),
                 code_version=t.get(Tags.CODE_VERSION), datasets=rows)


def tonight(parent: ParentRun, verdict: Verdict) -> Night:
    """This night's row, from the verdict just computed (its metrics are logged after the report)."""
    t = parent.tags
    rows = {}
    for v in verdict.datasets:
        ci = v.mase_ci or {}
        rows[v.dataset] = NightDataset(
            label=v.label, data=t.get(Tags.data_of(v.dataset)), effect=v.effect, ci=(v.ci_low, v.ci_high),
            test_mase={arch: NightMase(mean=v.mean_mase(arch), ci=ci.get(arch, (None, None)))
                       for arch in ARCHITECTURES},
            useful=v.useful.useful if v.useful is not None else None)
    return Night(run_id=parent.run_id, date=parent.date, overall=verdict.overall.label,
                 code_version=t.get(Tags.CODE_VERSION), datasets=rows)


def compare_nights(client: TrackingClient, parent: ParentRun, verdict: Verdict) -> Nightly:
    """History (newest first) and the flags a scheduler or a person acts on."""
    datasets = [v.dataset for v in verdict.datasets]
    earlier = client.search_runs(
        [parent.experiment_id],
        f"tags.`{Tags.NIGHTLY}` = 'true' and attributes.start_time < {parent.start_time} "
        "and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"], max_results=MAX_NIGHTS)
    now = tonight(parent, verdict)
    history = [now] + [_night(ParentRun.of(r), datasets) for r in earlier]
    return Nightly(previous_run_id=history[1].run_id if len(history) > 1 else None, history=history,
                   flags=_flags(history, datasets))


def _flags(history: list[Night], datasets: list[str]) -> NightlyFlags:
    if len(history) < 2:
        return NightlyFlags(verdict_changed=False, mase_worse=False,
                            details=["first nightly run of this sweep: nothing to compare with yet"])
    now, last = history[0], history[1]
    changed, worse, details = False, False, []
    if last.overall != now.overall:
        changed = True
        details.append(f"overall verdict changed since the last night: {last.overall} -> {now.overall}")
    for ds in datasets:
        a, b = last.datasets[ds], now.datasets[ds]
        if a.label != b.label:
            changed = True
            details.append(f"{ds}: verdict changed since the last night: {a.label} -> {b.label}")
        for arch in ARCHITECTURES:
            hi, mean = a.test_mase[arch].ci[1], b.test_mase[arch].mean
            if hi is not None and mean is not None and mean > hi:
                worse = True
                details.append(f"{ds}: {arch.upper()} mean test MASE {mean:.4g} is worse than last night's 95% CI "
                               f"(upper bound {hi:.4g})")
        if a.useful is not None and b.useful is not None and a.useful != b.useful:
            details.append(f"{ds}: worth using changed since the last night: {a.useful} -> {b.useful}")
        if a.data != b.data:
            details.append(f"{ds}: the data changed since the last night (fingerprint {a.data} -> {b.data})")
    if last.code_version != now.code_version:
        details.append(f"code changed since the last night ({last.code_version} -> {now.code_version})")
    return NightlyFlags(verdict_changed=changed, mase_worse=worse, details=details)
