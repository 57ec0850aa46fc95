"""Assemble the report from MLflow: verdict, secondary analyses, figures, files, tags."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from pydantic import ValidationError

from pipeline.core.config import ReportSpec, SweepSpec
from pipeline.core.errors import IncompleteSweep, OffContract, ReportFailed, ReportNotPublished
from pipeline.tracking.client import TrackingClient
from pipeline.tracking.contract import ARCHITECTURES, Artifacts, Metrics, Params, Tags
from pipeline.tracking.mlflow_io import read_artifact, refusal
from pipeline.tracking.publish import log_forecast_picture, log_report, record_verdict
from pipeline.verdict.budget import budget_curve
from pipeline.verdict.horizon import (
    Paths,
    dm_over_origins,
    dm_over_panel,
    ensemble_mase,
    panel_ensemble,
    per_step_ratios,
    series_paths_of,
    series_shares,
)
from pipeline.verdict.model import (
    SCHEMA_VERSION,
    Budget,
    BudgetCurve,
    DatasetVerdict,
    DMResult,
    DMUnavailable,
    DroppedSeries,
    MatchedVerdict,
    RunCounts,
    Sensitivity,
    Settings,
    SweepInfo,
    Verdict,
)
from pipeline.verdict.sequential import Design
from pipeline.verdict.stats import compare_architectures, mean_ci
from reports import plots
from reports.advice import SweepCheck, load_check
from reports.cost import cost_comparison
from reports.decision import configurations, next_steps, parent_run_name
from reports.description import parent_description
from reports.forecast_figures import EMBEDDED_SERIES, file_name, forecast_figures, series_figures
from reports.handover import hand_over
from reports.history import compare_nights, history_metrics, omitted_metrics
from reports.importance import fanova_importance
from reports.render import report_html, summary_md
from reports.rounds import sequential_verdicts
from reports.runs import ParentRun, parent_run, runs_table
from reports.schema import IDENTITY, Col, check_runs_table
from reports.series import SeriesView, score_table, series_views
from reports.useful import usefulness
from reports.wording import worded, worded_overall

FIGURES_DIR = "figures"  # under the report's directory (and `report/` on the parent run)


class Forecasts:
    """`forecasts.json` of confirm runs, downloaded once per run (DM test and figures share them)."""

    def __init__(self, client: TrackingClient, table: pd.DataFrame) -> None:
        self.client = client
        self._cache: dict[str, dict[str, list[float]] | None] = {}
        self._uris = dict(zip(table[Col.RUN_ID], table[Col.ARTIFACT_URI], strict=True))

    def get(self, run_id: str) -> dict[str, list[float]] | None:
        if run_id not in self._cache:
            raw = read_artifact(self.client, self._uris[run_id], "forecasts.json")
            # None: e.g. runs logged by hand without forecasts
            self._cache[run_id] = None if raw is None else json.loads(raw)
        return self._cache[run_id]


def chosen_confirm_runs(table: pd.DataFrame) -> pd.DataFrame:
    """Finished confirm runs of each cell's best config, chosen by mean validation MASE (never test)."""
    table = check_runs_table(table, needs=(*IDENTITY, Col.VARIANT, Col.RANK))
    confirm = table[(table[Col.ROLE] == "confirm") & (table[Col.STATUS] == "FINISHED") & table[Col.VARIANT].isna()]
    keep = []
    for _, cell in confirm.groupby([Col.DATASET, Col.ARCH], sort=True):
        has_val = Col.VAL_MASE in cell and cell[Col.VAL_MASE].notna().any()
        best_rank = cell.groupby(Col.RANK)[Col.VAL_MASE].mean().idxmin() if has_val else cell[Col.RANK].min()
        keep.append(cell[cell[Col.RANK] == best_rank])
    return pd.concat(keep) if keep else confirm


def _baselines(parent_metrics: dict[str, float]) -> dict[str, dict[str, float]]:
    """`baseline.<dataset>.<name>` metrics of the parent, by dataset."""
    out: dict[str, dict[str, float]] = {}
    for key, value in parent_metrics.items():
        parts = key.split(".")
        if len(parts) == 3 and parts[0] == "baseline":
            out.setdefault(parts[1], {})[parts[2]] = value
    return out


def _baseline_fields(v: DatasetVerdict, metrics: dict[str, float], tags: dict[str, str]) -> dict[str, Any]:
    """Every baseline's test MASE on `v`'s dataset (from its `baseline.<dataset>.*` metrics), the best, whether
    the better architecture beats it (its geometric-mean MASE, the verdict's scale), and the statistical
    baselines that failed (from the parent's tags)."""
    scores = {k.removesuffix("_mase"): x for k, x in metrics.items() if k.endswith("_mase") and math.isfinite(x)}
    prefix = Tags.baseline_failed(v.dataset, "")
    failed = {k.removeprefix(prefix): why for k, why in tags.items() if k.startswith(prefix)}
    failed |= {k.removesuffix("_mase"): f"its test MASE is not a number ({x})" for k, x in metrics.items()
               if k.endswith("_mase") and not math.isfinite(x)}  # a store written by hand, or a diverged AR
    best = min(scores, key=lambda k: scores[k]) if scores else None
    # the better architecture among those with finished runs (NaN: none in that architecture)
    better = min((x for x in (v.gmean_mase_gru, v.gmean_mase_lstm) if math.isfinite(x)), default=math.nan)
    return {"baseline_mase": scores, "best_baseline": best, "baselines_failed": failed,
            "beats_best_baseline": None if best is None or math.isnan(better) else bool(better < scores[best])}


def _counts(table: pd.DataFrame) -> dict[str, dict[str, RunCounts]]:
    out: dict[str, dict[str, RunCounts]] = {}
    for (role, arch), d in table.groupby([Col.ROLE, Col.ARCH], sort=True):
        out.setdefault(str(role), {})[str(arch)] = RunCounts(finished=int((d[Col.STATUS] == "FINISHED").sum()),
                                                             failed=int((d[Col.STATUS] == "FAILED").sum()))
    return out


def _sensitivity(table: pd.DataFrame, confirm: pd.DataFrame, rules: ReportSpec) -> Sensitivity:
    """The verdict recomputed with the parameter-matched GRU in place of the tuned GRU."""
    matched = table[(table[Col.VARIANT] == "param_matched") & (table[Col.STATUS] == "FINISHED")]
    if matched.empty:
        return Sensitivity(param_matched=None, note="no parameter-matched runs in this sweep (confirm.param_matched)")
    swapped = pd.concat([matched, confirm[confirm[Col.ARCH] == "lstm"]])
    swapped = swapped[swapped[Col.DATASET].isin(matched[Col.DATASET].unique())]
    verdicts = worded(compare_architectures(swapped, {}, rules), rules)
    out = {}
    for v in verdicts:
        d = matched[matched[Col.DATASET] == v.dataset]
        out[v.dataset] = MatchedVerdict(label=v.label, effect=v.effect, ci_low=v.ci_low, ci_high=v.ci_high,
                                        p_holm=v.p_holm, gru_hidden_size=str(d[Col.HIDDEN_SIZE].iloc[0]),
                                        n_params_gru=float(d[Col.N_PARAMS].mean()), sentence=v.sentence)
    return Sensitivity(param_matched=out, note="GRU with the confirmed LSTM's configuration, hidden size set so the "
                                               "parameter counts are closest")


def _arm_paths(confirm: pd.DataFrame, dataset: str, forecasts: Forecasts) -> dict[str, list[list[Paths]]]:
    """Each architecture's stored test forecasts on `dataset`: per confirm seed that stored them, one `Paths`
    per series."""
    out: dict[str, list[list[Paths]]] = {}
    for arch in ARCHITECTURES:
        runs = confirm[(confirm[Col.DATASET] == dataset) & (confirm[Col.ARCH] == arch)][Col.RUN_ID]
        out[arch] = [series_paths_of(f) for f in (forecasts.get(r) for r in runs) if f and "test_pred" in f]
    return out


def _arm_forecasts(confirm: pd.DataFrame, dataset: str, forecasts: Forecasts) -> dict[str, list[dict[str, Any]]]:
    """Each architecture's `forecasts.json` on `dataset`, per confirm seed that stored test forecasts, by seed."""
    out: dict[str, list[dict[str, Any]]] = {}
    for arch in ARCHITECTURES:
        cell = confirm[(confirm[Col.DATASET] == dataset) & (confirm[Col.ARCH] == arch)]
        runs = cell.sort_values(Col.SEED)[Col.RUN_ID]
        out[arch] = [f for f in (forecasts.get(r) for r in runs) if f and "test_pred" in f]
    return out


def _dm(paths: dict[str, list[list[Paths]]]) -> DMResult | DMUnavailable:
    """DM test on the two architectures' seed ensembles' test forecasts (median over seeds; absolute-error loss,
    as MASE; a panel's: the mean over series at each origin, `dm_over_panel`)."""
    for arch in ARCHITECTURES:
        if not paths[arch]:
            return DMUnavailable(available=False, note=f"no test forecasts stored for {arch.upper()}")
    ens = {arch: panel_ensemble(paths[arch]) for arch in ARCHITECTURES}
    at = ens["gru"][0].origins
    count = max(len(e.origins) for e in ens["gru"])  # a panel's losses are per origin, averaged over series
    if count < 3:
        return DMUnavailable(available=False, note=f"{count} test origin{'s' * (count != 1)}: the test needs at "
                                                   "least 3 (set test_origins, or a longer test split)")
    step = int(np.min(np.diff(at))) if len(at) > 1 else 1
    mase = {arch: ensemble_mase(paths[arch]) for arch in ARCHITECTURES}
    if len(ens["gru"]) == 1:
        test = dm_over_origins(ens["gru"][0], ens["lstm"][0], step)
    else:
        test = dm_over_panel(ens["gru"], ens["lstm"], step)
    return DMResult(available=True, **test, ensemble_mase=mase)


def _dropped(tags: dict[str, str], dataset: str) -> list[DroppedSeries]:
    """The series `short_series: drop` left out of `dataset` (the parent's tag)."""
    given = tags.get(Tags.dropped_series(dataset))
    return [DroppedSeries(id=str(i), length=int(n)) for i, n in json.loads(given)] if given else []


def _importance(table: pd.DataFrame, spec: Any) -> dict[str, dict[str, dict[str, float] | None]]:
    trials = table[(table[Col.ROLE] == "trial") & (table[Col.STATUS] == "FINISHED")]
    out: dict[str, dict[str, dict[str, float] | None]] = {}
    for (dataset, arch), d in trials.groupby([Col.DATASET, Col.ARCH], sort=True):
        known = spec is not None and str(dataset) in {ds.name for ds in spec.datasets}
        out.setdefault(str(dataset), {})[str(arch)] = (fanova_importance(d, spec.space_for(str(dataset))) if known
                                                       else None)
    return out


def _budget(table: pd.DataFrame) -> dict[str, dict[str, BudgetCurve]]:
    trials = table[(table[Col.ROLE] == "trial") & (table[Col.STATUS] == "FINISHED")]
    out: dict[str, dict[str, BudgetCurve]] = {}
    for (dataset, arch), d in trials.groupby([Col.DATASET, Col.ARCH], sort=True):
        if d[Col.VAL_MASE].notna().sum() >= 2:
            curve = budget_curve(d[Col.VAL_MASE].to_numpy(float))
            # wall-time axis: k trials cost k mean trial times (one worker slot)
            mean_s = float(d[Col.TRAIN_SECONDS].mean()) if Col.TRAIN_SECONDS in d else float("nan")
            out.setdefault(str(dataset), {})[str(arch)] = BudgetCurve(**curve, seconds=[k * mean_s for k in curve["k"]])
    return out


def _sweep_spec(client: TrackingClient, parent: ParentRun) -> tuple[SweepSpec | None, SweepCheck | None]:
    """The sweep's settings from the parent's `sweep.yaml`, and that file with its series to check suggested
    edits on; None for runs made by hand."""
    text = read_artifact(client, parent.artifact_uri, Artifacts.SWEEP_FILE)
    if text is None:
        return None, None
    raw = yaml.safe_load(text)
    return SweepSpec.model_validate(raw), load_check(text, parent.tags.get(Tags.SPEC_PATH))


def _sweep_info(parent: ParentRun, spec: SweepSpec | None) -> SweepInfo:
    """When, with which code and over which search space the sweep ran (for the report's header/footer)."""
    space = None
    if spec is not None:
        space = {"all datasets": {k: _plain(v) for k, v in spec.search_space}}
        space |= {ds.name: {k: _plain(v) for k, v in ds.search_space.given().items()}
                  for ds in spec.datasets if ds.search_space is not None}
    prefix = Tags.data_span("")
    data = {k.removeprefix(prefix): v for k, v in sorted(parent.tags.items()) if k.startswith(prefix)}
    return SweepInfo(date=parent.date, code_version=parent.tags.get(Tags.CODE_VERSION), search_space=space,
                     data=data or None)


def _plain(p: Any) -> Any:
    return p.model_dump() if hasattr(p, "model_dump") else p


def _budget_note(sampler: str, has_trials: bool) -> str:
    if not has_trials:
        return "no tune phase in this sweep, so no budget curve"
    note = "expected best validation MASE after k trials (and their training time); exact for random sampling"
    if sampler != "random":
        note += f" — this sweep used {sampler}, so trials are not exchangeable and the curve is an approximation"
    return note


def _rules(spec: SweepSpec | None, params: dict[str, str]) -> ReportSpec:
    """The decision rules: the sweep file's `report:` section, or for runs logged by hand the parent's params
    of the same names (each missing one at its default)."""
    if spec is not None:
        return spec.report
    given = {name: params[name] for name in ReportSpec.model_fields if name in params}
    try:
        return ReportSpec.model_validate(given)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise OffContract(f"parent run: param {first['loc'][0]}: {first['msg']}") from None


def _patience(parent: ParentRun, spec: SweepSpec | None) -> int | None:
    """The early stopping the sweep ran with: the parent's param (what ran, whatever today's default), else
    the sweep file's setting."""
    given = parent.params.get(Params.PATIENCE)
    if given is not None:
        return int(given) if given.isdigit() else None
    return spec.evaluation.patience if spec is not None else None


def _design(params: dict[str, str]) -> Design | None:
    """The confirm design the sweep ran with (its parent's params); None for a sweep from before rounds."""
    try:
        return Design(int(params[Params.SEEDS]), int(params[Params.SEEDS_PER_ROUND]), int(params[Params.MAX_SEEDS]))
    except (KeyError, ValueError):
        return None


@dataclass(frozen=True)
class Evidence:
    """What the verdict was reached from, kept for the figures, the hand-over and the MLflow marks: the runs
    table, the chosen configurations' confirm runs, their forecasts, per dataset the series' views, and the
    parent run's facts."""

    table: pd.DataFrame
    confirm: pd.DataFrame
    forecasts: Forecasts
    views: dict[str, list[SeriesView]]
    spec: SweepSpec | None
    experiment_id: str
    parent_tags: dict[str, str]


def compute_verdict(client: TrackingClient, parent_run_id: str) -> tuple[Verdict, Evidence]:
    """The verdict (what `verdict.json` holds) and what the figures need.

    Raises:
        IncompleteSweep: child runs are missing from MLflow, or there are none.
        OffContract: a run lacks what the MLflow contract promises (one line naming the run and the field).
    """
    parent = parent_run(client, parent_run_id)
    table = runs_table(client, parent_run_id)
    expected = int(parent.tags.get(Tags.CHILD_RUNS, 0))  # set by the sweep once all were written
    if table.empty or len(table) < expected:
        kept = parent.tags.get(Tags.OUT_DIR)
        where = (f"; the sweep's records are kept in {kept}/outbox (`gatesweep sync {kept}` writes them)"
                 if kept else "")
        raise IncompleteSweep(f"parent run {parent_run_id}: " + (
            f"{expected - len(table)} of {expected} child runs are missing from MLflow" if expected
            else "no child runs in MLflow") + f"; no report is made on an incomplete sweep{where}")
    spec, check = _sweep_spec(client, parent)
    rules = _rules(spec, parent.params)
    sampler = parent.params.get(Params.SAMPLER, "unknown")
    confirm = chosen_confirm_runs(table)
    baselines = _baselines(parent.metrics)
    finite = {ds: {k: x for k, x in b.items() if math.isfinite(x)} for ds, b in baselines.items()}
    design = _design(parent.params)
    if design is None:
        verdicts = worded(compare_architectures(confirm, finite, rules), rules)
    else:
        verdicts = sequential_verdicts(confirm, finite, rules, design, parent.tags.get(Tags.CONFIRM_CUT))
    rounds = any(v.rounds is not None for v in verdicts)
    forecasts = Forecasts(client, table)
    raw = read_artifact(client, parent.artifact_uri, Artifacts.BASELINES)  # None: a sweep from before it
    baseline_paths = json.loads(raw)["datasets"] if raw is not None else None
    datasets = []
    views: dict[str, list[SeriesView]] = {}
    for v in verdicts:
        d = confirm[confirm[Col.DATASET] == v.dataset]
        mase_ci = {arch: mean_ci(d.loc[d[Col.ARCH] == arch, Col.TEST_MASE].dropna().to_numpy(float))
                   for arch in ARCHITECTURES}
        paths = _arm_paths(confirm, v.dataset, forecasts)
        views[v.dataset] = series_views(_arm_forecasts(confirm, v.dataset, forecasts),
                                        None if baseline_paths is None else baseline_paths.get(v.dataset))
        horizon = int(d[Params.HORIZON].max())
        if horizon > 1 and v.sentence.startswith(f"{v.dataset}: "):  # say what was forecast
            v = v.model_copy(update={"sentence": v.sentence.replace(
                f"{v.dataset}: ", f"{v.dataset} ({horizon} steps ahead): ", 1)})
        datasets.append(v.model_copy(update={
            "dm": _dm(paths), "mase_ci": mase_ci, "horizon": horizon,
            "per_step": per_step_ratios(paths["gru"], paths["lstm"]),
            "series": len(paths["gru"][0]) if paths["gru"] else 1,
            "per_series": series_shares(paths["gru"], paths["lstm"]),
            "dropped_series": _dropped(parent.tags, v.dataset),
            "useful": usefulness(paths, None if baseline_paths is None else baseline_paths.get(v.dataset),
                                 rules.alpha, v.dataset),
            "scores": score_table(paths, views[v.dataset]),
            **_baseline_fields(v, baselines.get(v.dataset, {}), parent.tags)}))
    has_trials = bool((table[Col.ROLE] == "trial").any())
    ensembles = {v.dataset: v.useful.ensemble_mase if v.useful is not None else {} for v in datasets}
    verdict = Verdict(
        schema_version=SCHEMA_VERSION, sweep=client.get_experiment(parent.experiment_id).name,
        parent_run_id=parent_run_id,
        datasets=datasets,
        overall=worded_overall(verdicts, rules),
        cost=cost_comparison(confirm),
        sensitivity=_sensitivity(table, confirm, rules),
        counts=_counts(table),
        budget=Budget(sampler=sampler, curves=_budget(table[table[Col.VARIANT].isna()]) if has_trials else {},
                      note=_budget_note(sampler, has_trials)),
        importance=_importance(table, spec) if has_trials else {},
        configurations=configurations(table, confirm, ensembles),
        sweep_info=_sweep_info(parent, spec),
        settings=Settings(alpha=rules.alpha, equivalence_margin=rules.equivalence_margin, min_seeds=rules.min_seeds,
                          smallest_effect=rules.smallest_effect,
                          estimand="mean log test MASE per seed, GRU - LSTM",
                          test="Welch t on log MASE, two-sided, Holm across datasets" + (
                              "; group-sequential over the confirm rounds (O'Brien-Fleming-type alpha spending)"
                              if rounds else ""),
                          equivalence="TOST (Welch) at alpha/2 per side, Holm across datasets",
                          ci="Welch t 95% repeated (valid at every round)" if rounds else "Welch t 95%",
                          confirm_runs_used=int(len(confirm)),
                          patience=_patience(parent, spec), final_fit=parent.params.get(Params.FINAL_FIT)),
    )
    verdict = verdict.model_copy(update={"next_steps": next_steps(verdict, check)})
    if parent.tags.get(Tags.NIGHTLY) == "true":
        verdict = verdict.model_copy(update={"nightly": compare_nights(client, parent, verdict)})
    return verdict, Evidence(table=table, confirm=confirm, forecasts=forecasts, views=views, spec=spec,
                             experiment_id=parent.experiment_id, parent_tags=parent.tags)


def _figures(client: TrackingClient, verdict: Verdict, ctx: Evidence,
             forecast_figs: list[tuple[str, bytes, str]]) -> list[tuple[str, bytes]]:
    confirm, forecasts, table = ctx.confirm, ctx.forecasts, ctx.table
    margin = verdict.settings.equivalence_margin
    images = [("Effect per dataset with 95% CI: the GRU/LSTM ratio of geometric-mean test MASE, on a log axis; "
               "left of 1 GRU is better. An interval wholly off 1 names a winner (when p passes the rule too); "
               "one wholly inside the green band means equivalent.", plots.effects(verdict.datasets, margin))]
    for v in verdict.datasets:
        ds = v.dataset
        images += [(caption, png) for caption, png, name in forecast_figs
                   if name in (file_name("forecasts", ds), file_name("error_by_step", ds))]
        baselines = v.baseline_mase or ({"naive": v.naive_mase} if v.naive_mase else {})
        images.append((f"{ds}: test MASE per random seed. Each dot is one trained network, the black bar the "
                       "geometric mean the verdict compares; grey lines are the baselines, and a network below a "
                       "line beats it.",
                       plots.mase_strip(confirm, ds, baselines)))
        if v.rounds is not None and v.rounds.stop != "fixed":
            images.append((f"{ds}: the ratio after each confirm round, and why the rounds stopped. The bars are "
                           "repeated 95% intervals (valid over every look); rounds stop once a bar leaves 1 at the "
                           "round's boundary, fits inside the green band, or no decision is reachable. An open point's "
                           "interval has no bounds (a few seeds at an early round's tiny level): its bar spans the "
                           "plot.",
                           plots.rounds_path(v, margin)))
        curves: dict[str, list[dict[str, list[float]]]] = {}
        histories: dict[str, list[dict[str, list[float]]]] = {}
        for arch, d in confirm[confirm[Col.DATASET] == ds].groupby(Col.ARCH, sort=True):
            for run_id in d.sort_values(Col.SEED)[Col.RUN_ID]:  # every random seed, not one picked
                if (f := forecasts.get(run_id)) is not None and "generated" in f:  # not on panels, covariates
                    curves.setdefault(str(arch), []).append(f)
                histories.setdefault(str(arch), []).append(
                    {k: [m.value for m in sorted(client.get_metric_history(run_id, k), key=lambda m: m.step)]
                     for k in Metrics.EPOCH[:2]})
        if curves:
            images.append((f"{ds}: closed-loop generation, every random seed: each network fed its own forecasts "
                           "from the first window on. Lines that stay on the truth learned the dynamics; lines "
                           "that drift or flatten did not. The verdict scores one-step (or horizon) forecasts, not "
                           "this.",
                           plots.closed_loop(curves, ds)))
        if any(h.get("val_loss") for runs in histories.values() for h in runs):
            loss_caption = (f"{ds}: loss curves, every random seed: training (solid) and validation (dashed) loss "
                            "per epoch. The two are measured on different stretches of the series, so their levels "
                            "differ; read each curve's shape: validation loss rising while training loss falls is "
                            "overfitting, which early stopping cuts off.")
        else:  # final fits on train + validation: nothing held out while training
            loss_caption = (f"{ds}: training loss per epoch, every random seed. These confirm runs were fitted on "
                            "train + validation (everything before the test part), so they have no validation loss; "
                            "their epochs are the ones early stopping chose in the earlier phases.")
        images.append((loss_caption, plots.loss_curves(histories, ds)))
        if verdict.nightly is not None and len(verdict.nightly.history) > 1:
            useful = ", ".join(f"{h.date[:10]} {h.datasets[ds].useful or '–'}" for h in
                               reversed(verdict.nightly.history) if ds in h.datasets)
            images.append((f"{ds}: effect over nights, the GRU/LSTM ratio; a step means something changed: the "
                           "nightly list below gives each night's data hash and code version. Worth using, night "
                           f"by night (– : a night from before the usefulness rule): {useful}.",
                           plots.trend(verdict.nightly.history, ds)))
        trials = table[(table[Col.ROLE] == "trial") & (table[Col.STATUS] == "FINISHED") & (table[Col.DATASET] == ds)]
        spec = ctx.spec
        if len(trials) >= 2 and spec is not None and ds in {d.name for d in spec.datasets}:
            space = spec.space_for(ds)
            images.append((f"{ds}: tune phase, validation MASE per trial (dots) and each architecture's best so far "
                           "(line); a line still falling at the last trial means more trials could still help.",
                           plots.tune_history(trials, ds)))
            if space.searched():
                images.append((f"{ds}: tune phase, parallel coordinates by architecture. Each line is one trial "
                               "across its hyperparameters, ending at its validation MASE (low is good); where "
                               "the low-ending lines cross an axis shows the values that worked.",
                               plots.parallel_coordinates(trials, space, ds)))
        if any(verdict.importance.get(ds, {}).values()):
            images.append((f"{ds}: hyperparameter importance (fANOVA over the tune trials): how much of the spread of "
                           "validation MASE each hyperparameter explains; search the tall bars, fix the short ones.",
                           plots.importance_bars(verdict.importance[ds], ds, n_trials=len(trials))))
        if ds in verdict.budget.curves:
            images.append((f"{ds}: expected best validation MASE vs trials (left) or that much training "
                           "time (right), with 95% bands; where the curves flatten, more trials buy little.",
                           plots.budget(verdict.budget.curves[ds], ds, verdict.budget.sampler)))
    return images


def _run_forecast_pngs(client: TrackingClient, confirm: pd.DataFrame, forecasts: Forecasts) -> None:
    """A small picture per confirm run, in its own artifacts: its test forecasts against actuals per series."""
    for _, row in confirm.iterrows():
        f = forecasts.get(row[Col.RUN_ID])
        if f is None or "test_pred" not in f:
            continue
        picture = plots.run_forecast(f, str(row[Col.RUN_NAME]), str(row[Col.ARCH]))
        log_forecast_picture(client, row[Col.ARTIFACT_URI], picture)


@contextmanager
def _stage(name: str) -> Iterator[None]:
    """A step of `build_report`: an error in it becomes `ReportFailed` naming the step. The errors that have
    their own exit status and line (runs missing or off the contract, a reader's refused write) pass as they are."""
    try:
        yield
    except (IncompleteSweep, OffContract, ReportNotPublished):
        raise
    except Exception as exc:
        raise ReportFailed(name, exc) from exc


def build_report(client: TrackingClient, parent_run_id: str, out_dir: Path, link: str | None = None) -> Verdict:
    """Compute the verdict, write report.html / summary.md / verdict.json, then log them, the per-run
    forecast pictures, the parent's description, verdict metrics and tags. `link`: the parent run in the
    MLflow UI.

    Raises:
        ReportNotPublished: the server refused the writes (a reader's rebuild); the local files are written.
        ReportFailed: a step failed (its name and the error in one line; the traceback is the exception's cause).
        IncompleteSweep, OffContract: as `compute_verdict`.
    """
    with _stage("computing the verdict"):
        verdict, ctx = compute_verdict(client, parent_run_id)
    report_dir = Path(out_dir) / "report"
    with _stage("writing verdict.json"):
        report_dir.mkdir(parents=True, exist_ok=True)
        (report_dir / "verdict.json").write_text(verdict.to_json(), encoding="utf-8")
    with _stage("drawing the report's figures"):
        forecast_figs = forecast_figures(verdict, ctx.views)
        each_series = series_figures(verdict, ctx.views, EMBEDDED_SERIES)
        figures = _figures(client, verdict, ctx, forecast_figs)
    with _stage("writing summary.md"):
        # summary.md links them; logged with it under report/figures/
        files = [(name, png) for _, png, name in forecast_figs]
        files += [(f.name, f.png) for fs in each_series.values() for f in fs]
        for name, png in files:
            (report_dir / FIGURES_DIR / name).parent.mkdir(parents=True, exist_ok=True)
            (report_dir / FIGURES_DIR / name).write_bytes(png)
        links = [(caption, f"{FIGURES_DIR}/{name}") for caption, _, name in forecast_figs]
        series_links = {ds: [(f.id, f"{FIGURES_DIR}/{f.name}") for f in fs] for ds, fs in each_series.items()}
        (report_dir / "summary.md").write_text(summary_md(verdict, links, series_links), encoding="utf-8")
    with _stage("writing report.html"):
        # report.html holds the pictures drawn, the most important series', at most `EMBEDDED_SERIES` per dataset:
        # its size and drawing time stay bounded on any panel (about 15 kB and 0.25 s each)
        selectable = {ds: [(f.id, f.png) for f in fs] for ds, fs in each_series.items()}
        (report_dir / "report.html").write_text(report_html(verdict, figures, link, selectable), encoding="utf-8")
    with _stage("logging the report to MLflow"):
        _publish(client, parent_run_id, verdict, ctx, report_dir)
    with _stage("registering the recommended forecaster"):
        hand_over(client, parent_run_id, verdict, ctx.confirm, ctx.parent_tags, Path(out_dir),
                  ctx.spec)
    return verdict


def _publish(client: TrackingClient, parent_run_id: str, verdict: Verdict, ctx: Evidence,
             report_dir: Path) -> None:
    """The report's files, the runs' forecast pictures, the description, the verdict's tags and metrics on the
    parent run (a figure without a number is left out, and a tag per dataset says which and why)."""
    try:
        log_report(client, parent_run_id, report_dir)
    except Exception as exc:  # the first writes: a server that refuses this user refuses them
        why = refusal(exc, f"write the report to run {parent_run_id}")
        if why is None or not why.startswith("permission denied"):
            raise
        raise ReportNotPublished(why, verdict) from None
    _run_forecast_pngs(client, ctx.confirm, ctx.forecasts)
    tags, metrics = _verdict_marks(verdict, ctx.experiment_id)
    record_verdict(client, parent_run_id, ctx.experiment_id, tags=tags, metrics=metrics,
                   run_name=parent_run_name(verdict), failed_before=Tags.REPORT_FAILED in ctx.parent_tags)


def _verdict_marks(verdict: Verdict, experiment_id: str) -> tuple[dict[str, str], list[tuple[str, float, int]]]:
    """The parent run's tags (the description among them) and metrics (name, value, step) that carry the verdict."""
    tags = {Tags.VERDICT: verdict.overall.label, Tags.NOTE: parent_description(verdict, experiment_id)}
    tags |= {Tags.verdict_of(v.dataset): v.label for v in verdict.datasets}
    tags |= {Tags.useful_of(v.dataset): v.useful.useful for v in verdict.datasets if v.useful is not None}
    tags |= {Tags.omitted_metrics(ds): why[:5000] for ds, why in omitted_metrics(verdict).items()}
    if verdict.nightly is not None:
        flags = verdict.nightly.flags
        tags |= {Tags.NIGHTLY_VERDICT_CHANGED: str(flags.verdict_changed).lower(),
                 Tags.NIGHTLY_MASE_WORSE: str(flags.mase_worse).lower(),
                 Tags.NIGHTLY_PREVIOUS_RUN: verdict.nightly.previous_run_id or "none"}
    metrics = [(k, x, 0) for k, x in history_metrics(verdict).items()]
    for v in verdict.datasets:  # each confirm round as a step of its own: the path the report draws
        if v.rounds is None:
            continue
        tags[Tags.confirm_stop(v.dataset)] = v.rounds.stop
        for step in v.rounds.path:  # an unbounded interval has no number: `omitted_metrics` says so
            metrics += [(Metrics.verdict(v.dataset, f"round_{name}"), float(x), step.round)
                        for name, x in (("ratio", step.ratio), ("ratio_ci_low", step.ci_low),
                                        ("ratio_ci_high", step.ci_high), ("seeds", step.n_gru))
                        if x is not None and math.isfinite(x)]
    return tags, metrics
