"""What a team lead needs to decide: the chosen configurations and how they held up from tune score to
fresh seeds, what to do next, and the parent run's description in MLflow. Pure pandas; no MLflow."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from pipeline.tracking.contract import Artifacts
from pipeline.verdict.model import BASELINE_NAMES, WINNERS, ConfigChoice, DatasetVerdict, DMResult, MeanSd, Verdict
from pipeline.verdict.stats import MAX_SEEDS, MoreThan, Resolving, needed, resolving
from reports.advice import SweepCheck, SweepEdit
from reports.schema import Col, check_runs_table
from reports.wording import fmt, minutes_phrase, number, report_warnings, seeds_phrase

ENSEMBLE_NOTE = ("Means here are arithmetic means over seeds (the verdict's are geometric: the typical seed). "
                 "Per-seed MASE is what one training run delivers; the ensemble takes at each point the median of "
                 "all confirm seeds' forecasts, which cancels seed-to-seed noise (and a seed that diverged), so it "
                 "is usually lower than the seeds' mean and helps most the architecture whose seeds scatter most; "
                 "it is the forecast the usefulness test scores against the baselines. The tune score is this "
                 "configuration's own trial, on one seed: when several candidates went to selection, the chosen "
                 "one need not be the tune phase's best trial.")


def _mean_sd(values: pd.Series) -> MeanSd:
    v = pd.to_numeric(values, errors="coerce").dropna()
    return MeanSd(mean=float(v.mean()) if len(v) else None, sd=float(v.std(ddof=1)) if len(v) > 1 else None,
                  n=int(len(v)))


def configurations(table: pd.DataFrame, confirm: pd.DataFrame, ensembles: Mapping[str, Mapping[Any, float | None]],
                   ) -> dict[str, dict[str, ConfigChoice]]:
    """Per dataset and architecture: the confirmed configuration, its tune-phase score, its selection mean ±
    sd, its confirm results (validation and test MASE over seeds) and the seed ensemble's test MASE, so a
    reader sees how much of the pick was luck and how single runs compare with their average."""
    table = check_runs_table(table, needs=(Col.STATUS, Col.ROLE, Col.DATASET, Col.ARCH))
    confirm = check_runs_table(confirm, needs=(Col.DATASET, Col.ARCH, Col.TEST_MASE))
    out: dict[str, dict[str, ConfigChoice]] = {}
    done = table[table[Col.STATUS] == "FINISHED"]
    for (dataset, arch), runs in confirm.groupby([Col.DATASET, Col.ARCH], sort=True):
        first = runs.iloc[0]
        config = {k: first[k] for k in Col.HPARAMS if k in runs and pd.notna(first[k])}
        source = first.get(Col.SOURCE_TRIAL) if Col.SOURCE_TRIAL in runs else None
        cell = done[(done[Col.DATASET] == dataset) & (done[Col.ARCH] == arch)]
        entry: dict[str, Any] = {
            "config": config, "source_trial": None if pd.isna(source) else int(source), "tune_val_mase": None,
            "selection_val_mase": _mean_sd(pd.Series(dtype=float)),
            "confirm_val_mase": _mean_sd(runs[Col.VAL_MASE] if Col.VAL_MASE in runs else pd.Series(dtype=float)),
            "confirm_test_mase": _mean_sd(runs[Col.TEST_MASE]),
            "ensemble_test_mase": ensembles.get(str(dataset), {}).get(arch),
        }
        if entry["source_trial"] is not None:
            trial = cell[(cell[Col.ROLE] == "trial") & (pd.to_numeric(cell[Col.INDEX]) == entry["source_trial"])]
            if len(trial) and Col.VAL_MASE in trial:
                entry["tune_val_mase"] = float(trial[Col.VAL_MASE].iloc[0])
            select = cell[(cell[Col.ROLE] == "select") & (cell[Col.SOURCE_TRIAL] == source)]
            entry["selection_val_mase"] = _mean_sd(select[Col.VAL_MASE] if Col.VAL_MASE in select else pd.Series())
        out.setdefault(str(dataset), {})[str(arch)] = ConfigChoice(**entry)
    return out


# what gives the networks a fair chance against the baselines (issue 37): search-space key -> the values to add
# (the transform: log(1 + y), with the season taken out when the dataset has one; see `_recipe_for`)
RECIPE: dict[str, list[str]] = {"normalize": ["window"], "loss_fn": ["mae"], "transform": ["log1p"]}


def _recipe_for(check: SweepCheck, dataset: str) -> dict[str, list[str]]:
    """The recipe for one dataset: a seasonal one gets `log1p_stl`; a transform key the sweep already searches
    with a log of the same kind (`log`, `log_stl`, ...) is left as it is."""
    season = next((d.season for d in check.spec.datasets if d.name == dataset), None)
    current = {str(x) for x in check.space(dataset).values("transform")}
    out = dict(RECIPE, transform=["log1p_stl"] if season else ["log1p"])
    if any(k.startswith("log") and (k.endswith("stl") or not season) for k in current):
        del out["transform"]
    return out


def _edits(edits: tuple[SweepEdit, ...] | None) -> str:
    """Validated edits as the text pastes them: `a: 1`, `b: 2` and `c: 3` (a dataset's own key in full)."""
    said = [f"`{e.snippet}`" for e in edits or ()]
    return ", ".join(said[:-1]) + f" and {said[-1]}" if len(said) > 1 else "".join(said)


def _recipe(dataset: str, check: SweepCheck | None) -> str:
    """The recipe's search-space edits this sweep does not make yet, each validated on the dataset's series; in
    words when there is no sweep file to check them on, and a larger tune budget when the recipe is all on."""
    if check is None:
        return (" To give the networks a fair chance, search window normalisation (`normalize`), an absolute-error "
                "loss (`loss_fn`) and, on a series without negative values, `log1p` (`transform`), then run the sweep "
                "again.")
    recipe = _recipe_for(check, dataset)
    edits = tuple(e for name, wanted in recipe.items() if (e := check.widened(dataset, name, wanted)) is not None)
    if edits:
        return f" To give the networks a fair chance, search {_edits(edits)}, then run the sweep again."
    searched = {k: [str(x) for x in check.space(dataset).values(k)] for k in RECIPE}
    on = [f"{k} {' '.join(recipe[k] if k in recipe else [v for v in searched[k] if v.startswith('log')])}"
          for k in RECIPE if k not in recipe or set(recipe[k]) <= set(searched[k])]
    said = (f"this sweep already tries the recipe that gives the networks a fair chance ({', '.join(on)})" if on
            else "the recipe that gives the networks a fair chance does not validate on these series")
    trials = check.spec.budget.trials_per_cell
    more = check.checked(SweepEdit(("budget", "trials_per_cell"), 2 * trials)) if trials else None
    return (f" {said[0].upper()}{said[1:]}" + (f"; a longer search may still find a better network: "
                                                f"{_edits(more)}." if more else "."))


def usefulness_head(v: DatasetVerdict) -> str | None:
    """Whether to use a network on a dataset at all, without what to try (None: a verdict from before schema 5)."""
    u = v.useful
    if u is None:
        return None
    if u.network is not None:
        return f"{v.dataset}: the {u.network.upper()} seed ensemble beats every baseline: a network is worth using."
    if u.baseline is not None:
        name = BASELINE_NAMES.get(u.baseline, u.baseline)
        arch = f"the better network's ensemble ({u.arch.upper()}) {u.ensemble_mase[u.arch]:#.3g}" if (
            u.arch is not None and u.ensemble_mase.get(u.arch) is not None) else "no network"
        return (f"{v.dataset}: use {name} (test MASE {u.baseline_mase[u.baseline]:#.3g}; {arch}, not shown to beat "
                "every baseline).")
    return u.sentence  # untestable: it says why, and that no network is recommended


def usefulness_step(v: DatasetVerdict, check: SweepCheck | None = None) -> str | None:
    """The first advice on a dataset: whether to use a network at all, and when not, what to search (edits of this
    sweep's file that it does not make yet and that pass `gatesweep validate`)."""
    head = usefulness_head(v)
    if head is None or v.useful is None or v.useful.baseline is None:
        return head
    return head + _recipe(v.dataset, check)


def usefulness_lines(verdict: Verdict) -> list[str]:
    """Per dataset, whether to use a network at all: the advice's own line (its edits validated when the report
    was built), else the line without what to try."""
    out = []
    for v in verdict.datasets:
        head = usefulness_head(v)
        if head is not None:
            out.append(next((s for s in verdict.next_steps if s.startswith(head)), head))
    return out


def _stabler(v: DatasetVerdict, patience: int | None, check: SweepCheck | None) -> str:
    """What makes training more stable, without what the sweep already does: early stopping when it ran with it,
    a target transform when one is already searched."""
    ways = [] if patience else ["early stopping (`evaluation.patience`)"]
    ways.append("a lower learning rate")
    searched = {str(x) for x in check.space(v.dataset).values("transform")} if check is not None else {"none"}
    if searched == {"none"}:
        ways.append("a target transform")
    return ", ".join(ways[:-1]) + f" or {ways[-1]}" if len(ways) > 1 else ways[0]


def _weak_models(v: DatasetVerdict, loses: list[str], check: SweepCheck | None) -> str:
    """Both networks lose to naive or AR (a verdict from before usefulness): search a target transform that this
    sweep does not search yet and that its series allow, or longer windows."""
    edit = check.widened(v.dataset, "transform", ["diff", "log_diff"]) if check is not None else None
    try_ = (f"search a target transform, {_edits((edit,))}, or longer windows" if edit is not None
            else "search longer windows or another target transform" if check is not None
            else "search a target transform (`transform`) or longer windows")
    return (f"{v.dataset}: both architectures lose to {' and '.join(loses)}: fix the model before choosing one "
            f"({try_}); the GRU-vs-LSTM verdict here compares two weak models.")


def _setting(check: SweepCheck | None, key: str, value: int) -> str:
    """`confirm.max_seeds: 123` when that edit passes validation on this sweep, else the key alone."""
    edit = SweepEdit(("confirm", key), value)
    return f"`{edit.snippet}`" if check is not None and check.checked(edit) else f"`confirm.{key}`"


def next_steps(verdict: Verdict, check: SweepCheck | None = None) -> list[str]:
    """Plain advice, one line per dataset (and one for the sweep), from the verdict's own numbers: first whether a
    network is worth using at all; a network that is not shown to beat every baseline is never recommended.
    Every sweep-file edit is one `check` (the sweep's own file and series) validates and the sweep does not make
    yet; without `check` (runs logged by hand: no sweep file) the settings are named without values."""
    out = []
    min_seeds = verdict.settings.min_seeds
    for v in verdict.datasets:
        ds = v.dataset
        first = usefulness_step(v, check)
        # the network to recommend: the usefulness rule's (schema 5), else the verdict's (earlier verdicts)
        allowed = v.label if v.useful is None else v.useful.network
        if first is not None:
            out.append(first)
        loses = [name for beats, name in ((v.beats_naive, "the naive forecast"), (v.beats_ar, "a linear AR model"))
                 if beats is False]
        if loses and v.useful is None:
            out.append(_weak_models(v, loses, check))
        if v.label in WINNERS and allowed == v.label:
            out.append(f"{ds}: use the {v.label.upper()} configuration above.")
        elif v.label in WINNERS:
            out.append(f"{ds}: of the two networks the {v.label.upper()} is the better per seed; that does not make "
                       "it worth using (above).")
        elif v.label == "equivalent" and allowed is not None:
            cost = verdict.cost.get(ds)
            cheaper = "GRU" if cost is None or cost.n_params_gru <= cost.n_params_lstm else "LSTM"
            out.append(f"{ds}: either architecture does; pick on cost (the {cheaper} has fewer parameters).")
        elif v.label == "equivalent":
            out.append(f"{ds}: the two networks are equivalent per seed; neither is worth using (above).")
        elif v.reason == "too few seeds" and min(v.n_gru, v.n_lstm) < 2:
            short = [f"{arch.upper()} {n}" for arch, n in (("gru", v.n_gru), ("lstm", v.n_lstm)) if n < 2]
            out.append(f"{ds}: finished confirm runs: {', '.join(short)}; the verdict needs at least {min_seeds} per "
                       "architecture: see why the others failed (`gatesweep.error` on each failed run, and its "
                       "`error.txt`), then run the confirm seeds again.")
        elif v.reason == "too few seeds":
            out.append(f"{ds}: run at least {min_seeds} confirm seeds per architecture "
                       f"({_setting(check, 'seeds', min_seeds)}).")
        elif (r := resolving(v, verdict.settings.alpha, verdict.settings.equivalence_margin)) is not None:
            out.append(_resolving_step(v, r, verdict.settings.equivalence_margin, check))
        elif (n := needed(v)) is not None:
            more = seeds_phrase(n)
            if v.rounds is None:  # a sweep from before confirm rounds: its advice as it was written
                setting = MAX_SEEDS if isinstance(n, MoreThan) else n
                out.append(f"{ds}: to detect a {100 * v.smallest_effect:g}% difference, run {more} confirm seeds "
                           f"per architecture ({_setting(check, 'seeds', setting)}); below that, treat them as "
                           "equal.")
            elif isinstance(n, MoreThan):  # no number of seeds buys this decision: the spread must come down
                out.append(f"{ds}: the seeds scatter too much to detect a {100 * v.smallest_effect:g}% difference "
                           f"with any practical number of seeds ({more}); make training more stable "
                           f"({_stabler(v, verdict.settings.patience, check)}) before adding seeds. "
                           "Inconclusive does not mean equal.")
            else:
                minutes = (f", about {minutes_phrase(v.minutes_needed)} at this sweep's pace"
                           if v.minutes_needed is not None else "")
                out.append(f"{ds}: to detect a {100 * v.smallest_effect:g}% difference, allow {more} confirm seeds "
                           f"per architecture ({_setting(check, 'max_seeds', n)}{minutes}); the rounds stop as soon "
                           "as the verdict is decided. Inconclusive does not mean equal.")
    if verdict.overall.label in WINNERS and len(verdict.datasets) > 1:
        losing = [v.dataset for v in verdict.datasets if v.useful is not None and v.useful.network is None]
        out.append(f"Across datasets: {verdict.overall.label.upper()} ({verdict.overall.note})" + (
            f"; but no network is recommended on {', '.join(losing)} (above)." if losing else "."))
    return out


def dm_against_verdict(v: DatasetVerdict, alpha: float, margin: float) -> str | None:
    """Why a significant Diebold-Mariano test and the verdict can disagree (DM favours an architecture the verdict
    does not name the winner), in words; None when they agree or DM is not significant. The two test different
    things: DM, the periods of one forecast per architecture (the seed ensemble's); the verdict, the seeds."""
    dm = v.dm
    if not isinstance(dm, DMResult) or not dm.p_value < alpha or dm.statistic == 0:
        return None
    side = "gru" if dm.statistic < 0 else "lstm"
    if v.label == side:
        return None
    label = f"{v.label.upper()} wins" if v.label in WINNERS else v.label
    then = {"inconclusive": "the seeds scatter too much to say that yet, so the verdict stays open; the DM p-value "
                            "does not close it, because it never saw that scatter",
            "equivalent": f"the seeds put the difference inside the ±{100 * margin:g}% margin: a gap can be steady "
                          "over the periods and still that small",
            }.get(v.label, f"a single trained {v.label.upper()} is typically the better network, while the "
                           f"average of the {side.upper()} seeds' forecasts wins period by period (averaging helps "
                           "most the architecture whose seeds scatter more)")
    return (f"{v.dataset}: Diebold–Mariano favours {side.upper()} (p = {dm.p_value:.2g}) while the verdict says "
            f"{label}, because they test different things. Diebold–Mariano takes one forecast per architecture (the "
            f"seed ensemble's) and tests its {int(dm.n)} test periods: whether these two forecasts differ over time, "
            "which a small but steady gap over many periods can show. The verdict tests the seeds "
            f"({v.n_gru} GRU, {v.n_lstm} LSTM trained networks): whether training a GRU again gives a better network "
            f"than training an LSTM again; here {then}. The verdict's p-value covers seeds, not periods.")


def _resolving_step(v: DatasetVerdict, r: Resolving, equivalence_margin: float, check: SweepCheck | None) -> str:
    """The next step when the seeds were enough for `smallest_effect` and the estimate is smaller: more seeds for
    it would be advice against the label, so the seeds for the difference actually estimated."""
    ds, margin = v.dataset, 100 * equivalence_margin
    count = seeds_phrase(r.seeds)
    found = (f"{ds}: these seeds would most likely have shown a {100 * v.smallest_effect:g}% difference, and "
             f"the estimated one is {r.difference:.1f}%")
    if r.goal == "chance":
        return (f"{found}, and they were enough for a difference of that size too; the rounds' stricter "
                "boundaries or chance left it open: allow more rounds (`confirm.max_seeds`) to settle it.")
    if isinstance(r.seeds, MoreThan):
        return (f"{found}, too close to the ±{margin:g}% margin to settle with any practical number of "
                f"seeds ({count} per architecture). Inconclusive does not mean equal.")
    setting = _setting(check, "max_seeds", r.seeds)
    if v.minutes_needed is not None and v.seeds_needed:  # the measured pace, per seed
        setting += f", about {minutes_phrase(v.minutes_needed * r.seeds / v.seeds_needed)} at this sweep's pace"
    if r.goal == "equivalent":
        return (f"{found}. To show the two within ±{margin:g}%, allow {count} confirm seeds per "
                f"architecture ({setting}). Inconclusive does not mean equal.")
    return (f"{found}, between the ±{margin:g}% margin and that: to detect a difference this small, "
            f"allow {count} confirm seeds per architecture ({setting}).")


def _config_line(c: ConfigChoice) -> str:
    return ", ".join(f"{k} {fmt(number(v))}" for k, v in c.config.items())


def ui_link(experiment_id: str, run_id: str | None = None, artifact: str | None = None) -> str:
    """A link inside the MLflow UI (relative: it works on any host), in the machine-learning view: the runs
    table of an experiment, a run's page, or an artifact of it."""
    path = f"#/experiments/{experiment_id}/runs"
    if run_id is not None:
        path += f"/{run_id}" + (f"/artifacts/{artifact}" if artifact else "")
    return f"{path}?workflowType=machine_learning"


def parent_run_name(verdict: Verdict) -> str:
    """The parent run's name once the verdict is in. MLflow's run page opens on the name, while the description
    sits a scroll down (y ≈ 1084 px at 1280x900), so the name carries the verdict: `quickstart-sweep: damped GRU
    wins`, each dataset's label up to three datasets, the overall label beyond that."""
    said = {"gru": "GRU wins", "lstm": "LSTM wins"}
    if len(verdict.datasets) <= 3:
        parts = [f"{v.dataset} {said.get(v.label, v.label)}" + (f" · useful: {v.useful.useful}" if v.useful else "")
                 for v in verdict.datasets]
    else:
        tested = [v.useful for v in verdict.datasets if v.useful is not None]
        parts = [f"overall {said.get(verdict.overall.label, verdict.overall.label)} over "
                 f"{len(verdict.datasets)} datasets" + (
                     f" · useful: a network on {sum(u.network is not None for u in tested)} of {len(tested)}"
                     if tested else "")]
    return f"{verdict.sweep}-sweep: " + ", ".join(parts)


def description_md(verdict: Verdict, report_path: str = Artifacts.REPORT_HTML,
                   experiment_id: str | None = None) -> str:
    """The parent run's description in MLflow (`mlflow.note.content`, shown on the run page); with
    `experiment_id`, the report is a link that opens it in MLflow's artifact viewer."""
    warnings = report_warnings(verdict)
    steps = verdict.next_steps
    # the run page shows about three lines before "Show more": the verdict, the worst warning, the next step
    lines = [f"**gatesweep verdict: {verdict.overall.label}** — {verdict.overall.note}."]
    useful = usefulness_lines(verdict)
    if useful:  # whether to use a network at all comes before which one
        lines = [f"**Worth using?** {' '.join(useful)}"] + lines
        steps = [s for s in steps if s not in useful]
    if warnings:
        lines.append(f"**Warning:** {warnings[0]}")
    if steps:
        lines.append(f"**Next:** {steps[0]}")
    lines += [""] + [f"- {v.sentence}" for v in verdict.datasets]
    if len(warnings) > 1:
        lines += [""] + [f"**Warning:** {w}" for w in warnings[1:]]
    lines += ["", "**Chosen configurations**", ""]
    for ds, by_arch in sorted(verdict.configurations.items()):
        for arch, c in sorted(by_arch.items()):
            lines.append(f"- {ds} / {arch.upper()}: {_config_line(c)}")
    if len(steps) > 1:
        lines += ["", "**Then**", ""] + [f"- {s}" for s in steps[1:]]
    if experiment_id is not None:
        report = ui_link(experiment_id, verdict.parent_run_id, report_path)
        lines += ["", f"Full report: [{report_path}]({report}) (an artifact of this run). Every run of the sweep: "
                  f"[the runs table]({ui_link(experiment_id)})."]
    else:
        lines += ["", f"Full report: the artifact `{report_path}` of this run."]
    return "\n".join(lines)

