"""What a team lead needs to decide: the chosen configurations and how they held up from tune score to
fresh seeds, what to do next, and the parent run's description in MLflow. Pure pandas; no MLflow."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from pipeline.core.hparams import HPARAM_TYPES
from pipeline.tracking.contract import Artifacts
from reports.stats import MAX_SEEDS, MoreThan, Resolving, minutes_phrase, needed, resolving, seeds_phrase
from reports.verdict import BASELINE_NAMES, WINNERS, ConfigChoice, DatasetVerdict, MeanSd, Verdict

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
    out: dict[str, dict[str, ConfigChoice]] = {}
    done = table[table["status"] == "FINISHED"]
    for (dataset, arch), runs in confirm.groupby(["dataset", "arch"], sort=True):
        first = runs.iloc[0]
        config = {k: first[k] for k in HPARAM_TYPES if k in runs and pd.notna(first[k])}
        source = first.get("source_trial") if "source_trial" in runs else None
        cell = done[(done["dataset"] == dataset) & (done["arch"] == arch)]
        entry: dict[str, Any] = {
            "config": config, "source_trial": None if pd.isna(source) else int(source), "tune_val_mase": None,
            "selection_val_mase": _mean_sd(pd.Series(dtype=float)),
            "confirm_val_mase": _mean_sd(runs["val_mase"] if "val_mase" in runs else pd.Series(dtype=float)),
            "confirm_test_mase": _mean_sd(runs["test_mase"]),
            "ensemble_test_mase": ensembles.get(str(dataset), {}).get(arch),
        }
        if entry["source_trial"] is not None:
            trial = cell[(cell["role"] == "trial") & (pd.to_numeric(cell["index"]) == entry["source_trial"])]
            if len(trial) and "val_mase" in trial:
                entry["tune_val_mase"] = float(trial["val_mase"].iloc[0])
            select = cell[(cell["role"] == "select") & (cell["source_trial"] == source)]
            entry["selection_val_mase"] = _mean_sd(select["val_mase"] if "val_mase" in select else pd.Series())
        out.setdefault(str(dataset), {})[str(arch)] = ConfigChoice(**entry)
    return out


# what gives the networks a fair chance against the baselines (issue 37; the sweep-file keys that exist)
RECIPE = ("`normalize: {choice: [series, window]}` and `loss_fn: {choice: [mse, mae]}` (on a series without "
          "negative values also `transform: {choice: [none, log1p]}`)")


def usefulness_step(v: DatasetVerdict) -> str | None:
    """The first advice on a dataset: whether to use a network at all (None: a verdict from before schema 5)."""
    u = v.useful
    if u is None:
        return None
    if u.network is not None:
        return f"{v.dataset}: the {u.network.upper()} seed ensemble beats every baseline: a network is worth using."
    if u.baseline is not None:
        name = BASELINE_NAMES.get(u.baseline, u.baseline)
        arch = f"the better network's ensemble ({u.arch.upper()}) {u.ensemble_mase[u.arch]:.3g}" if (
            u.arch is not None and u.ensemble_mase.get(u.arch) is not None) else "no network"
        return (f"{v.dataset}: use {name} (test MASE {u.baseline_mase[u.baseline]:.3g}; {arch}, not shown to beat "
                f"every baseline). To give the networks a fair chance, search {RECIPE}, then run the sweep again.")
    return u.sentence  # untestable: it says why, and that no network is recommended


def next_steps(verdict: Verdict) -> list[str]:
    """Plain advice, one line per dataset (and one for the sweep), from the verdict's own numbers: first whether a
    network is worth using at all; a network that is not shown to beat every baseline is never recommended."""
    out = []
    min_seeds = verdict.settings.min_seeds
    for v in verdict.datasets:
        ds = v.dataset
        first = usefulness_step(v)
        # the network to recommend: the usefulness rule's (schema 5), else the verdict's (earlier verdicts)
        allowed = v.label if v.useful is None else v.useful.network
        if first is not None:
            out.append(first)
        loses = [name for beats, name in ((v.beats_naive, "the naive forecast"), (v.beats_ar, "a linear AR model"))
                 if beats is False]
        if loses and v.useful is None:
            out.append(f"{ds}: both architectures lose to {' and '.join(loses)}: fix the model before choosing one "
                       "(search a target transform, e.g. `transform: {choice: [none, diff, log_diff]}`, or longer "
                       "windows); the GRU-vs-LSTM verdict here compares two weak models.")
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
            out.append(f"{ds}: run at least {min_seeds} confirm seeds per architecture (`confirm.seeds`).")
        elif (r := resolving(v, verdict.settings.alpha, verdict.settings.equivalence_margin)) is not None:
            out.append(_resolving_step(v, r, verdict.settings.equivalence_margin))
        elif (n := needed(v)) is not None:
            more = seeds_phrase(n)
            if v.rounds is None:  # a sweep from before confirm rounds: its advice as it was written
                setting = MAX_SEEDS if isinstance(n, MoreThan) else n
                out.append(f"{ds}: to detect a {100 * v.smallest_effect:g}% difference, run {more} confirm seeds "
                           f"per architecture (`confirm.seeds: {setting}`); below that, treat them as equal.")
            elif isinstance(n, MoreThan):  # no number of seeds buys this decision: the spread must come down
                out.append(f"{ds}: the seeds scatter too much to detect a {100 * v.smallest_effect:g}% difference "
                           f"with any practical number of seeds ({more}); make training more stable (early "
                           "stopping, a lower learning rate, a target transform) before adding seeds. "
                           "Inconclusive does not mean equal.")
            else:
                minutes = (f", about {minutes_phrase(v.minutes_needed)} at this sweep's pace"
                           if v.minutes_needed is not None else "")
                out.append(f"{ds}: to detect a {100 * v.smallest_effect:g}% difference, allow {more} confirm seeds "
                           f"per architecture (`confirm.max_seeds: {n}`{minutes}); the rounds stop as soon as the "
                           "verdict is decided. Inconclusive does not mean equal.")
    if verdict.overall.label in WINNERS and len(verdict.datasets) > 1:
        losing = [v.dataset for v in verdict.datasets if v.useful is not None and v.useful.network is None]
        out.append(f"Across datasets: {verdict.overall.label.upper()} ({verdict.overall.note})" + (
            f"; but no network is recommended on {', '.join(losing)} (above)." if losing else "."))
    return out


def _resolving_step(v: DatasetVerdict, r: Resolving, equivalence_margin: float) -> str:
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
    setting = f"`confirm.max_seeds: {r.seeds}`"
    if v.minutes_needed is not None and v.seeds_needed:  # the measured pace, per seed
        setting += f", about {minutes_phrase(v.minutes_needed * r.seeds / v.seeds_needed)} at this sweep's pace"
    if r.goal == "equivalent":
        return (f"{found}. To show the two within ±{margin:g}%, allow {count} confirm seeds per "
                f"architecture ({setting}). Inconclusive does not mean equal.")
    return (f"{found}, between the ±{margin:g}% margin and that: to detect a difference this small, "
            f"allow {count} confirm seeds per architecture ({setting}).")


def _config_line(c: ConfigChoice) -> str:
    from reports.render import _fmt, _number

    return ", ".join(f"{k} {_fmt(_number(v))}" for k, v in c.config.items())


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
    from reports.render import baseline_warnings

    warnings = baseline_warnings(verdict)
    steps = verdict.next_steps
    # the run page shows about three lines before "Show more": the verdict, the worst warning, the next step
    lines = [f"**gatesweep verdict: {verdict.overall.label}** — {verdict.overall.note}."]
    useful = [s for v in verdict.datasets if (s := usefulness_step(v)) is not None]
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

