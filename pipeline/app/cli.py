"""`gatesweep` command line. `main(argv) -> int`; bad input is one line on stderr and exit status 2.

The console entry point is `pipeline.main`, which adds the developer tools' `bench` (`Subcommand`): the
application never imports `pipeline.dev`, whose benchmarks run sweeps through it."""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlparse

from pydantic import ValidationError

from pipeline.app.forecast import forecast
from pipeline.app.nightly import EXIT_CHANGED, EXIT_LOCKED, LockHeld, lock_path, sweep_lock
from pipeline.core.config import (
    HPARAM_TYPES,
    ChoiceParam,
    CsvDataset,
    RangeParam,
    SearchSpace,
    SpecError,
    SweepSpec,
    UsMacroDataset,
)
from pipeline.core.data import DataError, check_datasets, load_sweep, split_bounds
from pipeline.core.errors import (
    BadReference,
    IncompleteSweep,
    OffContract,
    ReportFailed,
    ReportNotPublished,
    StoreUnavailable,
    SweepFailed,
    TrackingError,
    UsageError,
)
from pipeline.core.hparams import ARCHITECTURES
from pipeline.core.origins import origins
from pipeline.core.scoring import Scoring
from pipeline.engine.interrupts import ACTIVE, Interrupted
from pipeline.tracking.contract import Tags
from pipeline.tracking.state import REPORT_ERROR, STATE_FILE, SweepState, sweep_of, unfinished, unwritable

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"


@dataclass(frozen=True)
class Subcommand:
    """A subcommand from a package above the application (the developer tools' `bench`): how it adds its
    parser to the CLI's subparsers, and what runs it."""

    name: str
    add_parser: Callable[[Any], None]
    run: Callable[[argparse.Namespace], int]
    stops_gracefully: bool = False  # Ctrl-C / SIGTERM stop it as they stop a sweep (`ACTIVE.install`)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse prints usage + message; we want one line
        raise UsageError(f"{self.prog}: {message}")


def _parser(extra: Sequence[Subcommand] = ()) -> argparse.ArgumentParser:
    p = _Parser(prog="gatesweep", description="GRU or LSTM? A Ray Tune + Optuna sweep with a statistical verdict.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def common(sp: argparse.ArgumentParser, out: str = "the sweep's home directory (default "
               "./gatesweep-output/<sweep name>); each run gets a directory of its own in it, and `latest` points "
               "to the newest") -> None:
        sp.add_argument("--tracking-uri", default=os.environ.get("MLFLOW_TRACKING_URI", DEFAULT_TRACKING_URI),
                        help=f"MLflow tracking URI (default: $MLFLOW_TRACKING_URI or {DEFAULT_TRACKING_URI})")
        sp.add_argument("--out", type=Path, help=out)

    v = sub.add_parser("validate", help="check a sweep file and print its plan")
    v.add_argument("space", type=Path)
    t = sub.add_parser("train", help="run one trial in this process (no Ray, no MLflow) and print its metrics")
    t.add_argument("space", type=Path)
    t.add_argument("--dataset")
    t.add_argument("--arch", choices=ARCHITECTURES)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="fix a hyperparameter")
    r = sub.add_parser("run", help="tune + confirm + report; prints the parent run id and the report path")
    r.add_argument("space", type=Path)
    r.add_argument("--address", default=None, help="Ray cluster address (default: $RAY_ADDRESS or a local Ray)")
    common(r)
    rs = sub.add_parser("resume", help="continue a sweep whose driver died, without duplicating runs")
    rs.add_argument("run_or_dir", metavar="RUN_OR_DIR",
                    help="the sweep's output directory (holds sweep_state.json) or its parent run id")
    rs.add_argument("--address", default=None, help="Ray cluster address (default: $RAY_ADDRESS or a local Ray)")
    rs.add_argument("--tracking-uri", default=os.environ.get("MLFLOW_TRACKING_URI", DEFAULT_TRACKING_URI),
                    help="where to look up a parent run id (the sweep then uses the store it started with)")
    sy = sub.add_parser("sync", help="write a sweep's results that never reached MLflow, then its report")
    sy.add_argument("run_or_dir", metavar="RUN_OR_DIR",
                    help="the sweep's output directory (holds sweep_state.json) or its parent run id; or the "
                         "directory of a `gatesweep report --out` that kept models for MLflow")
    sy.add_argument("--tracking-uri", default=None,
                    help="default: the one the sweep used (to look up a run id: $MLFLOW_TRACKING_URI or "
                         f"{DEFAULT_TRACKING_URI})")
    ex = sub.add_parser("export", help="one row per child run of a sweep (its dataset's verdict, whether it is a "
                                       "chosen configuration, ISO 8601 times), as CSV or Parquet")
    ex.add_argument("parent_run_id")
    ex.add_argument("--per-series", action="store_true",
                    help="one row per run and series instead, with each series' test MASE (overall and per step) "
                         "from the runs' stored forecasts")
    ex.add_argument("--format", choices=("csv", "parquet"), default="csv")
    ex.add_argument("--output", type=Path, help="file to write (default: <parent_run_id>.<format>, with --per-series "
                    "<parent_run_id>-series.<format>)")
    ex.add_argument("--tracking-uri", default=os.environ.get("MLFLOW_TRACKING_URI", DEFAULT_TRACKING_URI))
    for command in extra:  # where `bench` always stood in the help
        command.add_parser(sub)
    n = sub.add_parser("nightly", help="a locked, tagged run + report compared with earlier nights; exit "
                                        "0 ok, 1 failed, 2 bad input, 3 lock held, 4 verdict changed")
    n.add_argument("space", type=Path)
    n.add_argument("--address", default=None, help="Ray cluster address (default: $RAY_ADDRESS or a local Ray)")
    n.add_argument("--fail-on-change", action="store_true", help="exit 4 when the verdict changed since last night")
    n.add_argument("--lock-dir", type=Path, default=Path(os.environ.get("GATESWEEP_LOCK_DIR", Path.home() / ".cache" /
                                                                         "gatesweep" / "locks")),
                   help="a local directory for the per-sweep lock (default $GATESWEEP_LOCK_DIR or "
                        "~/.cache/gatesweep/locks; not --out, which may be a shared file system)")
    common(n)
    fc = sub.add_parser("forecast", help="the next H values after each series' end, with intervals, from a "
                                         "registered model or a sweep's parent run")
    fc.add_argument("model", metavar="MODEL_OR_PARENT",
                    help="models:/<sweep>.<dataset>@champion, models:/<name>/<version>, or a parent run id")
    fc.add_argument("--dataset", help="which dataset's model, for a parent run of several")
    fc.add_argument("--data", type=Path, help="a long CSV (id, time, value, covariates) to forecast after; "
                                              "default: the sweep's own series")
    fc.add_argument("--out", type=Path, help="CSV to write (default: stdout)")
    fc.add_argument("--tracking-uri", default=os.environ.get("MLFLOW_TRACKING_URI", DEFAULT_TRACKING_URI))
    rep = sub.add_parser("report", help="rebuild the report of a sweep from MLflow alone")
    rep.add_argument("parent_run_id")
    common(rep, "the directory to write the report into (default: ./gatesweep-output/<sweep name>/rebuilt-<parent run "
           "id's first 8 characters>)")
    return p


def _overrides(pairs: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or name not in HPARAM_TYPES:
            raise UsageError(f"(command line): --set {pair}: expected NAME=VALUE with NAME one of "
                             f"{', '.join(HPARAM_TYPES)}")
        kind = HPARAM_TYPES[name]
        try:
            out[name] = kind(float(value)) if kind is int and float(value).is_integer() else kind(value)
        except ValueError:
            raise UsageError(f"(command line): --set {name}: {value!r} is not a valid {kind.__name__}") from None
    try:
        SearchSpace(**out)
    except ValidationError as exc:
        raise UsageError(f"(command line): --set {exc.errors()[0]['msg'].removeprefix('Value error, ')}") from None
    return out


def _check_overrides(spec: SweepSpec, series: dict[str, Any], overrides: dict[str, Any], path: Path) -> None:
    """The sweep's data rules (windows against series lengths, transforms against the data) with the
    `--set` values in place of the file's, every dataset's own values included."""
    if not overrides:
        return
    datasets = [ds if ds.search_space is None else
                ds.model_copy(update={"search_space": ds.search_space.model_copy(update=dict.fromkeys(overrides))})
                for ds in spec.datasets]
    try:
        check_datasets(spec.model_copy(update={"search_space": spec.search_space.model_copy(update=overrides),
                                               "datasets": datasets}), series)
    except DataError as exc:
        raise UsageError(f"{path}: --set {', '.join(overrides)}: {exc}") from None


def _plan(spec: SweepSpec, path: Path, series: dict[str, Any] | None = None) -> str:
    n_cells = len(spec.cells())
    trials = spec.budget.trials_per_cell * n_cells
    candidates = min(spec.confirm.candidates, spec.budget.trials_per_cell)
    select = candidates * spec.confirm.selection_seeds * n_cells if candidates > 1 else 0
    confirm = spec.confirm.top_k * spec.confirm.seeds * n_cells if trials else spec.confirm.seeds * n_cells
    matched = spec.confirm.seeds * len(spec.datasets) if spec.confirm.param_matched else 0
    searched = spec.searched()
    lines = [f"{path}: valid sweep {spec.name!r}",
             f"  cells: {n_cells} ({', '.join(f'{d}/{a}' for d, a in spec.cells())})",
             f"  tune phase: {spec.budget.trials_per_cell} trials per cell, {trials} in all; sampler {spec.sampler}; "
             f"searching {', '.join(searched) if searched else 'nothing (all fixed)'}",
             f"  selection phase: {candidates} candidates x {spec.confirm.selection_seeds} seeds per cell, "
             f"{select} runs" if select else "  selection phase: none (one candidate per cell)",
             f"  confirm phase: top {spec.confirm.top_k} x {spec.confirm.seeds} seeds per cell, {confirm} runs"
             + (f" + {matched} parameter-matched GRU runs" if matched else "")
             + (f"; then, while a dataset is undecided, rounds of {spec.confirm.seeds_per_round} more seeds per cell "
                f"up to {spec.confirm.seed_cap}: at most {spec.confirm.seed_cap * n_cells} runs"
                if spec.confirm.sequential else ""),
             "  final fit: confirm runs and the baselines are fitted on train + validation, confirm runs for the "
             + ("epochs early stopping chose on validation" if trials else "epochs given (nothing is searched), "
                "without early stopping") if spec.evaluation.final_fit == "train+validation" else
             "  final fit: confirm runs and the baselines are fitted on the training part (final_fit: train)",
             f"  resources per trial: {spec.resources.cpus:g} CPU, {spec.resources.gpus:g} GPU"]
    if any(ds.split is None for ds in spec.datasets):
        lines.append(f"  split: {spec.split.describe()}")
    for ds in spec.datasets:
        if ds.search_space is not None:
            own = ", ".join(f"{k} {_show(v)}" for k, v in ds.search_space.given().items())
            lines.append(f"  dataset {ds.name}: its own {own}")
        if series is not None and ds.name in series:
            panel = series[ds.name]
            lines.append(f"  dataset {ds.name}: {panel.describe()}")
            if ds.split is not None:
                lines.append(f"  dataset {ds.name}: its own split: {ds.split.describe()}")
            n, scoring = min(len(s) for s in panel.series), Scoring.of(spec, ds.name)
            lines.append(f"  dataset {ds.name}: {_scoring(spec, ds, scoring, n)}")
            few = _few_origins(scoring, n) if len(panel.series) == 1 else None
            if few:
                lines.append(f"  note: dataset {ds.name}: {few}")
            if len(panel.series) > 1 or panel.dropped:
                lines.append(f"  dataset {ds.name}: {len(panel.series)} series, one global network"
                             + (f"; dropped as too short: {', '.join(f'{i} ({n} points)' for i, n in panel.dropped)}"
                                if panel.dropped else ""))
            if isinstance(ds, CsvDataset | UsMacroDataset) and ds.covariates:
                lines.append(f"  dataset {ds.name}: covariates: past {', '.join(ds.past_covariates) or 'none'}; "
                             f"future {', '.join(ds.future_covariates) or 'none'}")
    if spec.confirm.seeds < spec.report.min_seeds:
        lines.append(f"  note: {spec.confirm.seeds} confirm seeds < report.min_seeds {spec.report.min_seeds}: "
                     "every dataset will be inconclusive (a smoke run)")
    return "\n".join(lines)


def _scoring(spec: SweepSpec, ds: Any, scoring: Scoring, n: int) -> str:
    """How a dataset is scored: its horizon and forecast origins per split, the strategies searched."""
    h = scoring.horizon
    _, (v0, v1), (s0, s1) = split_bounds(n, scoring.split)
    counts = [len(origins(lo, hi, h, scoring.origin_step, scoring.origin_count)) for lo, hi in ((v0, v1), (s0, s1))]
    text = f"horizon {h}, origins {scoring.origin_step or h} apart: {counts[0]} in validation, {counts[1]} in test"
    strategies = [str(s) for s in spec.space_for(ds.name).values("strategy")]
    if h == 1 and len(strategies) > 1:
        text += "; note: at horizon 1 the direct and recursive strategies are the same network"
    return text + f"; strategy {', '.join(strategies)}"


FEW_ORIGINS = 15  # fewer validation origins than this on one series: choosing between configurations is noisy


def _few_origins(scoring: Scoring, n: int) -> str | None:
    """On one series, validation with few origins picks configurations by noise (elnino, 9 origins a year apart:
    the better architecture's test MASE moved from 0.70 to 0.92 with the sweep's seed; 33 origins: 0.63-0.70).
    Say how many a smaller `origin_step` would give, when the sweep file leaves the origins to gatesweep."""
    h, step = scoring.horizon, scoring.origin_step or scoring.horizon
    if scoring.origin_count is not None or step == 1:
        return None
    _, (v0, v1), _ = split_bounds(n, scoring.split)
    now = len(origins(v0, v1, h, step, None))
    if now >= FEW_ORIGINS:
        return None
    smaller = max(1, step // 4)
    more = len(origins(v0, v1, h, smaller, None))
    return (f"{now} validation origins choose the configurations (noisy on one series); `origin_step: {smaller}` "
            f"would give {more} (and more test origins)")


def _show(p: Any) -> str:
    """A search-space entry as the sweep file writes it."""
    if isinstance(p, ChoiceParam):
        return "{" + ", ".join(map(str, p.choice)) + "}"
    if isinstance(p, RangeParam):
        return f"{p.low:g}..{p.high:g}" + (" (log)" if p.log else "")
    return str(p)


def _out_dir(args: argparse.Namespace, name: str) -> Path:
    return args.out if args.out else Path("gatesweep-output") / name


def _writable_home(home: Path) -> Path:
    """The sweep's home, if a sweep can write there (else one line, exit 2: nothing has started)."""
    if why := unwritable(home):
        raise UsageError(f"{home}: --out: {why}")
    return home


def _cmd_validate(args: argparse.Namespace) -> int:
    spec, series = load_sweep(args.space)
    print(_plan(spec, args.space, series))
    return EXIT_OK


def _cmd_train(args: argparse.Namespace) -> int:
    from pipeline.app.sweep import train_once  # lazy: the sweep loads SciPy (the verdict's tests)

    spec, series = load_sweep(args.space)
    if args.dataset and args.dataset not in series:
        raise UsageError(f"{args.space}: --dataset: no dataset named {args.dataset!r}")
    overrides = _overrides(args.set)
    _check_overrides(spec, series, overrides, args.space)
    metrics = train_once(spec, series, dataset=args.dataset, arch=args.arch, overrides=overrides, seed=args.seed)
    print(json.dumps(metrics, indent=2))
    return EXIT_OK


def _cmd_run(args: argparse.Namespace) -> int:
    import reports  # lazy: loads MLflow
    from pipeline.app.sweep import run_sweep  # lazy: the sweep loads SciPy (the verdict's tests)
    spec, series = load_sweep(args.space)
    home = _writable_home(_out_dir(args, spec.name))
    if found := unfinished(home):  # two sweeps in one home would be fine; abandoning one silently is not
        raise UsageError(f"{home}: --out: holds an unfinished sweep ({_describe(*found)}); if its driver is gone, "
                         f"continue it with `gatesweep resume {found[0]}`, or pass another --out to start a new one")
    return _print_outcome(run_sweep(spec, series, args.space, tracking_uri=args.tracking_uri, address=args.address,
                                    home=home, reporter=reports))


def _describe(directory: Path, state: Any) -> str:
    return f"parent run {state.parent_run_id}, last in its {state.phase} phase, in {directory}"


def _print_sentences(verdict: Any) -> None:
    """Each dataset's verdict, then whether a network is worth using at all (schema 5)."""
    for v in verdict.datasets:
        print(v.sentence)
    for v in verdict.datasets:
        if v.useful is not None:
            print(f"worth using? {v.useful.sentence}")


def _print_outcome(outcome: Any) -> int:
    _print_sentences(outcome.verdict)
    print(f"overall verdict: {outcome.verdict.overall.label}")
    print(f"parent run: {outcome.parent_run_id}")
    print(f"report: {outcome.out_dir / 'report' / 'report.html'}")
    print(f"MLflow: {outcome.mlflow}")
    rounded = {k: round(v, 3 if k.endswith("share") else 1) for k, v in outcome.seconds.items()}
    print("seconds: " + json.dumps(rounded))
    return EXIT_OK


def _cmd_nightly(args: argparse.Namespace) -> int:
    import reports  # lazy: loads MLflow
    from pipeline.app.sweep import run_sweep  # lazy: the sweep loads SciPy (the verdict's tests)
    spec, series = load_sweep(args.space)
    base = _writable_home(_out_dir(args, spec.name))
    try:
        with sweep_lock(lock_path(args.lock_dir, spec.name, base)) as took_over:
            if took_over:
                print(f"note: {took_over}", file=sys.stderr)
            if found := unfinished(base):  # a scheduled job goes on; the unfinished night stays resumable
                print(f"note: leaving an unfinished sweep as it is ({_describe(*found)}); `gatesweep resume "
                      f"{found[0]}` finishes it", file=sys.stderr)
            try:
                outcome = run_sweep(spec, series, args.space, tracking_uri=args.tracking_uri, address=args.address,
                                    home=base, reporter=reports, nightly=True)
            except (TrackingError, StoreUnavailable, SweepFailed, BadReference, ReportFailed):
                raise  # exit 2 / exit 1 with their own line, as for `run`
            except Exception as exc:  # a scheduler needs a status and one line; the traceback goes to the log
                traceback.print_exc()
                print(f"error: nightly run of {spec.name} failed: {exc.__class__.__name__}: {exc}", file=sys.stderr)
                return EXIT_FAILED
    except LockHeld as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_LOCKED
    _print_outcome(outcome)
    nightly = outcome.verdict.nightly
    assert nightly is not None, "a nightly run's verdict compares nights"
    for line in nightly.flags.details:
        print(f"nightly: {line}")
    if args.fail_on_change and nightly.flags.verdict_changed:
        return EXIT_CHANGED
    return EXIT_OK


def sweep_dir(run_or_dir: str, tracking_uri: str) -> Path:
    """The output directory of a sweep given either that directory or the sweep's parent run id."""
    from pipeline.tracking.mlflow_io import sweep_parent  # lazy: loads MLflow
    path = Path(run_or_dir)
    if path.is_dir() or not re.fullmatch(r"[0-9a-f]{32}", run_or_dir):
        found = sweep_of(path)
        if found is None:
            raise UsageError(f"{run_or_dir}: RUN_OR_DIR: neither a sweep's output directory (no {STATE_FILE}, "
                             "no latest sweep) nor a parent run id")
        return found
    _, run = sweep_parent(tracking_uri, run_or_dir)
    out = run.data.tags.get(Tags.OUT_DIR)
    if out is None:
        raise UsageError(f"{tracking_uri}: run {run_or_dir}: no gatesweep.out_dir tag; pass the sweep's output "
                         "directory instead")
    if not (Path(out) / STATE_FILE).exists():
        raise UsageError(f"{out}: gatesweep.out_dir of run {run_or_dir}: no {STATE_FILE} here (the sweep ran on "
                         "another machine?); resume it where its output directory is")
    if SweepState.load(Path(out)).parent_run_id != run_or_dir:
        raise UsageError(f"{out}: gatesweep.out_dir of run {run_or_dir}: the directory now holds another sweep "
                         "(same --out reused)")
    return Path(out)


def _cmd_resume(args: argparse.Namespace) -> int:
    import reports  # lazy: loads MLflow
    from pipeline.app.sweep import resume  # lazy: the sweep loads SciPy (the verdict's tests)

    return _print_outcome(resume(sweep_dir(args.run_or_dir, args.tracking_uri), args.address, reports))


def _cmd_sync(args: argparse.Namespace) -> int:
    import reports  # lazy: loads MLflow
    from pipeline.app.sweep import sync, sync_models  # lazy: the sweep loads SciPy (the verdict's tests)
    from pipeline.tracking.uploads import kept_parents  # lazy: loads MLflow

    lookup = args.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI", DEFAULT_TRACKING_URI)
    path = Path(args.run_or_dir)
    if path.is_dir() and sweep_of(path) is None and kept_parents(path):  # a report's directory (`report --out`)
        for parent, tags in sync_models(path, lookup).items():
            print("\n".join(f"{dataset}: {tag} (parent run {parent})" for dataset, tag in sorted(tags.items())))
        return EXIT_OK
    return _print_outcome(sync(sweep_dir(args.run_or_dir, lookup), reports, args.tracking_uri))


def _cmd_export(args: argparse.Namespace) -> int:
    from pipeline.tracking.mlflow_io import sweep_parent  # lazy: loads MLflow
    from reports.export import export_table, per_series_table  # lazy: loads MLflow

    client, _ = sweep_parent(args.tracking_uri, args.parent_run_id)
    if args.per_series:
        table, without = per_series_table(client, args.parent_run_id)
        said = f"{len(table)} run-series rows ({without} runs without stored forecasts left out)"
    else:
        table = export_table(client, args.parent_run_id)
        said = f"{len(table)} runs"
    suffix = "-series" if args.per_series else ""
    out = args.output or Path(f"{args.parent_run_id}{suffix}.{args.format}")
    if args.format == "csv":
        table.to_csv(out, index=False)
    else:
        table.to_parquet(out, index=False)
    print(f"{said} -> {out}")
    return EXIT_OK


def _cmd_report(args: argparse.Namespace) -> int:
    from pipeline.tracking.mlflow_io import run_link, sweep_parent  # lazy: loads MLflow
    from reports import build_report  # lazy: loads MLflow

    client, run = sweep_parent(args.tracking_uri, args.parent_run_id)
    name = client.get_experiment(run.info.experiment_id).name
    # never over the sweep's own report: a rebuilt one sits beside it, to compare
    out = args.out if args.out else Path("gatesweep-output") / name / f"rebuilt-{args.parent_run_id[:8]}"
    link = run_link(args.tracking_uri, run.info.experiment_id, args.parent_run_id)
    try:
        verdict = build_report(client, args.parent_run_id, out, link)
    except ReportNotPublished as exc:  # a reader without write permission still gets the report, locally
        verdict = exc.verdict
        print(f"note: {exc}; the rebuilt report is only in {out}", file=sys.stderr)
    except ReportFailed as exc:  # the traceback is kept for whoever fixes the cause; the line is printed
        out.mkdir(parents=True, exist_ok=True)
        (out / REPORT_ERROR).write_text("".join(traceback.format_exception(exc)), encoding="utf-8")
        exc.note = "; ".join(filter(None, (exc.note, f"traceback in {out / REPORT_ERROR}")))
        raise
    _print_sentences(verdict)
    print(f"report: {out / 'report' / 'report.html'}")
    return EXIT_OK


def _cmd_forecast(args: argparse.Namespace) -> int:
    print(forecast(args.tracking_uri, args.model, args.dataset, args.data, args.out), file=sys.stderr)
    return EXIT_OK


def _quiet_libraries() -> None:
    """MLflow and alembic log schema creation at INFO; users need our lines, not theirs."""
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")  # MLflow configures its loggers when imported
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _refuse_a_file_store(uri: str | None) -> None:
    """MLflow 3 opens a file store (`file:///...`, a bare directory) only with `MLFLOW_ALLOW_FILE_STORE=true`,
    and says so in a traceback: one line instead, with the way out, before anything starts."""
    if not uri or os.environ.get("MLFLOW_ALLOW_FILE_STORE", "").lower() in ("true", "1"):
        return
    scheme = urlparse(uri).scheme
    if scheme in ("", "file") or (len(scheme) == 1 and uri[1:3] in (":\\", ":/")):  # a path (a Windows drive too)
        where = urlparse(uri).path if scheme == "file" else uri
        raise UsageError(f"--tracking-uri {uri}: a file store, which MLflow no longer opens by default: migrate it "
                         f"(mlflow migrate-filestore --source {Path(where).parent} --target sqlite:///mlflow.db) "
                         "and pass the database, or set MLFLOW_ALLOW_FILE_STORE=true")


def main(argv: list[str] | None = None, extra: Sequence[Subcommand] = ()) -> int:
    """The CLI; `extra`: subcommands of the packages above (`pipeline.main` adds `bench`)."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")  # one line per run is noise
    # MLflow retries a failing HTTP call for minutes by default; gatesweep's outbox retries instead
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    _quiet_libraries()
    try:
        args = _parser(extra).parse_args(argv)
        _refuse_a_file_store(getattr(args, "tracking_uri", None))
        graceful = {"run", "resume", "nightly"} | {c.name for c in extra if c.stops_gracefully}
        if args.command in graceful:
            ACTIVE.install()  # Ctrl-C / SIGTERM: stop gracefully, keep everything finished
        return ({c.name: c.run for c in extra} | _COMMANDS)[args.command](args)
    except (SpecError, UsageError, TrackingError, BadReference, OffContract) as exc:  # bad input: nothing started
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (StoreUnavailable, IncompleteSweep, SweepFailed) as exc:  # results kept on disk / MLflow
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except ReportFailed as exc:  # training done, no report: one line, the traceback is in a file it names
        print(f"report: {exc}" + (f"; {exc.note}" if exc.note else ""), file=sys.stderr)
        return EXIT_FAILED
    except Interrupted as exc:
        print(f"interrupted ({exc}): {exc.note or 'stopped'}", file=sys.stderr)
        return exc.exit_status


_COMMANDS = {"validate": _cmd_validate, "train": _cmd_train, "run": _cmd_run,
             "nightly": _cmd_nightly, "sync": _cmd_sync, "resume": _cmd_resume, "export": _cmd_export,
             "report": _cmd_report, "forecast": _cmd_forecast}

