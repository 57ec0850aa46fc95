"""Ray Tune orchestration of the three phases, their searcher and the trainable. With the rest of
`pipeline.engine`, the only code of a sweep that imports Ray.

Tune phase: all (dataset, architecture) cells share one Tuner, so the cluster stays busy until the last
trial, while `CellSearcher` keeps a separate Optuna study and an equal trial budget per cell. Select phase:
`select_jobs` retrains each cell's best distinct configurations on fresh seeds (validation only). Confirm
phase: `confirm_jobs` retrains each cell's selected configurations on fresh seeds, scored on the test split.
Select and confirm run their fixed job lists through the same trainable (`pipeline.engine.phases` wires them).
"""

from __future__ import annotations

import logging
import os
import pickle
import sys
import time
import traceback
import warnings
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any, TextIO

from ray import tune
from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback
from ray.tune.search import Searcher
from ray.tune.search.optuna import OptunaSearch

from pipeline.core.config import SweepSpec, fit_on
from pipeline.core.data import Panel
from pipeline.core.hparams import HParams
from pipeline.core.jobs import Candidates, Job, seed_for
from pipeline.core.models import configure_tensorflow, matched_gru_hidden
from pipeline.core.outcome import FINAL_MARK, Status, TrialOutcome, final_report
from pipeline.core.scoring import Scoring
from pipeline.core.space import make_sampler, optuna_space
from pipeline.core.training import fit_and_score
from pipeline.core.version import code_version

# the objective: one-step validation MASE in original units, comparable across windows and transforms
METRIC, MODE = "val_mase", "min"
# Tune's experiment state (trials + searcher) is what `gatesweep resume` continues from: save it often,
# so a driver killed at any moment loses at most a few seconds of bookkeeping.
os.environ.setdefault("TUNE_GLOBAL_CHECKPOINT_S", "2")
REPORT_EVERY_S = 1.0  # intermediate results: often enough for schedulers, rare enough to cost nothing
# Tune's own per-trial logs: JSON and CSV (cheap, and what Ray's tools read) but not its TensorBoard
# logger, which turned each result's history lists into histograms: 32 ms of driver CPU a trial (a
# 200-trial `bench --orchestration`: 55.7 s -> 48.6 s), for files nobody reads (MLflow holds the runs)
os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")


class CellSearcher(Searcher):
    """Round-robin over cells; each cell asks its own OptunaSearch and gets exactly `budget` trials."""

    def __init__(self, spec: SweepSpec) -> None:
        import optuna  # lazy: loads Optuna

        super().__init__(metric=METRIC, mode=MODE)
        optuna.logging.set_verbosity(optuna.logging.WARNING)  # not a line per study on the user's console
        self.cells = spec.cells()
        self.budget = spec.budget.trials_per_cell
        self.base_seed = spec.seed
        # each dataset's own search space (its overrides included), the same for both architectures
        self.fixed = {cell: spec.space_for(cell[0]).fixed() for cell in self.cells}
        self.subs: dict[tuple[str, str], OptunaSearch | None] = {}
        for i, cell in enumerate(self.cells):
            space = optuna_space(spec.space_for(cell[0]))
            self.subs[cell] = OptunaSearch(space=space, metric=METRIC, mode=MODE,
                                           sampler=make_sampler(spec.sampler, spec.seed * 1000 + i)) if space else None
        self.issued = {cell: 0 for cell in self.cells}
        self.owner: dict[str, tuple[str, str]] = {}

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict, **spec: Any) -> bool:
        return True  # metric, mode and space were fixed at construction

    def suggest(self, trial_id: str) -> dict | None:
        open_cells = [c for c in self.cells if self.issued[c] < self.budget]
        if not open_cells:
            return Searcher.FINISHED  # type: ignore[return-value]  # Ray's own sentinel, a str
        cell = min(open_cells, key=lambda c: self.issued[c])  # stable: the first cell wins ties
        sub = self.subs[cell]
        params = (sub.suggest(trial_id) or {}) if sub is not None else {}  # nothing searched: seeds only
        index = self.issued[cell]
        self.issued[cell] += 1
        self.owner[trial_id] = cell
        hp = HParams.of(cell[1], {**self.fixed[cell], **params})
        return Job(phase="trial", dataset=cell[0], hp=hp, index=index, seed=seed_for("trial", self.base_seed, index)
                   ).to_config()

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        sub = self.subs[self.owner[trial_id]]
        if METRIC in result and sub is not None:
            sub.on_trial_result(trial_id, result)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        sub = self.subs.get(self.owner.get(trial_id, ("", "")))
        if sub is not None:
            sub.on_trial_complete(trial_id, result, error)

    # Ray checkpoints the searcher so an interrupted sweep resumes with its Optuna state. The file is
    # written by this process into the sweep's own storage directory, never taken from users.
    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "wb") as fh:
            pickle.dump(self.__dict__, fh)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as fh:
            self.__dict__.update(pickle.load(fh))


def select_jobs(spec: SweepSpec, candidates: Candidates) -> list[Job]:
    """Each cell's candidate configs × `confirm.selection_seeds` fresh seeds, scored on validation only.

    Both architectures get the same number of candidates and the same seeds."""
    seeds = [seed_for("select", spec.seed, s) for s in range(spec.confirm.selection_seeds)]
    return [Job(phase="select", dataset=dataset, hp=hp, rank=rank, index=s, seed=seed, source_trial=trial)
            for (dataset, _), configs in candidates.items() for rank, (hp, trial) in enumerate(configs)
            for s, seed in enumerate(seeds)]


def confirm_jobs(spec: SweepSpec, best: Candidates, round_: int = 1, datasets: list[str] | None = None) -> list[Job]:
    """Each cell's top-k configs × the round's fresh seeds (disjoint from the earlier phases' seeds): round 1
    trains `confirm.seeds` per architecture, each later round `confirm.seeds_per_round` more, on `datasets`
    (default: all).

    With `confirm.param_matched`, also a GRU with the LSTM's best config except its hidden size, chosen
    so that its parameter count is closest to that LSTM's (same seeds; tag `gatesweep.variant`).
    """
    seeds = [(s, seed_for("confirm", spec.seed, s)) for s in spec.confirm.round_seeds(round_)]
    jobs = []
    for (dataset, _), configs in best.items():
        if datasets is not None and dataset not in datasets:
            continue
        for rank, (hp, trial) in enumerate(configs):
            jobs += [Job(phase="confirm", dataset=dataset, hp=hp, rank=rank, index=s, seed=seed, source_trial=trial)
                     for s, seed in seeds]
        if spec.confirm.param_matched and configs[0][0].arch == "lstm":
            lstm, trial = configs[0]
            matched = lstm.model_copy(update={"arch": "gru",
                                              "hidden_size": matched_gru_hidden(lstm.hidden_size, lstm.num_layers)})
            jobs += [Job(phase="confirm", dataset=dataset, hp=matched, index=s, seed=seed, variant="param_matched",
                         source_trial=trial) for s, seed in seeds]
    return jobs


def _trainable(config: dict[str, Any], *, spec_json: str, series: dict[str, Panel]) -> None:
    spec = SweepSpec.model_validate_json(spec_json)
    configure_tensorflow(spec.resources.cpus, spec.resources.gpus)
    job = Job.from_config(config)
    scoring = Scoring.of(spec, job.dataset)
    pending: dict[str, list[float]] = {"epoch": [], "loss": [], "val_loss": [], "epoch_val_mase": [], "time_ms": []}
    tail: deque[str] = deque(maxlen=OUTPUT_LINES)  # epochs and output, for a failed run's error.txt
    last = [time.monotonic()]
    rungs = asha_rungs(spec) if job.phase == "trial" else set()

    rows = HistoryRows(pending, spec.tracking.history_every)

    def on_epoch(epoch: int, loss: float, val_loss: float, val_mase: float) -> None:
        rows.add((epoch, loss, val_loss, val_mase, int(time.time() * 1000)))
        tail.append(f"epoch {epoch}: loss {loss:.4g}, val_loss {val_loss:.4g}, val_mase {val_mase:.4g}")
        # report about once a second, and exactly at each ASHA rung so its decisions see the right epoch
        if time.monotonic() - last[0] >= REPORT_EVERY_S or epoch + 1 in rungs:
            tune.report({"epochs_done": epoch + 1, "loss": loss, "val_loss": val_loss, "val_mase": val_mase,
                         "history": drain_history(pending)})
            last[0] = time.monotonic()

    with _output_tail(tail):
        try:
            result = fit_and_score(job.hp, series[job.dataset], scoring, seed=job.seed,
                                   evaluate_test=job.phase == "confirm", on_epoch=on_epoch,
                                   refit=fit_on(job.phase, scoring.final_fit) == "train+validation",
                                   keep_model=job.phase == "confirm")
        except Exception as exc:  # re-raised with what the worker printed before it: the run's error.txt
            raise TrialFailed.of(exc, traceback.format_exc(), list(tail)) from exc
    rows.finish()
    tune.report({**result.metrics, "epochs_done": len(result.loss), "loss": result.loss[-1],
                 "val_loss": result.val_loss[-1], "history": drain_history(pending), "forecasts": result.forecasts,
                 "model": result.model, "node": _node(), "code_version": code_version(), FINAL_MARK: True,
                 **(_gpus() if spec.resources.gpus else {})})


class HistoryRows:
    """A trial's per-epoch rows as they go into `pending` (column -> values): every `every`-th epoch
    (0, k, 2k, ...) and, once `finish` is called, the last epoch whichever it was."""

    def __init__(self, pending: dict[str, list[float]], every: int) -> None:
        self.pending, self.every = pending, every
        self.unsent: tuple[float, ...] | None = None

    def _keep(self, row: tuple[float, ...]) -> None:
        for column, value in zip(self.pending, row, strict=True):
            self.pending[column].append(value)

    def add(self, row: tuple[float, ...]) -> None:
        """`row`: one value per column of `pending`, the epoch first."""
        if int(row[0]) % self.every == 0:
            self._keep(row)
            self.unsent = None
        else:
            self.unsent = row

    def finish(self) -> None:
        if self.unsent is not None:
            self._keep(self.unsent)
            self.unsent = None


class TrialFailed(RuntimeError):
    """A trial's error with its traceback and the worker's last output (first line: the error itself).
    Built from one message, so that Ray can pickle it back to the driver."""

    @classmethod
    def of(cls, exc: BaseException, trace: str, tail: list[str]) -> TrialFailed:
        output = "\n".join(tail) if tail else "(nothing)"
        return cls(f"{exc.__class__.__name__}: {exc}\n\n{trace}\n--- the worker's last output ---\n{output}")


OUTPUT_LINES = 200


@contextmanager
def _output_tail(lines: deque[str]) -> Iterator[None]:
    """Keep the lines this trial prints or logs (Python-level) in `lines`, still passing them through."""

    class Tee:
        def __init__(self, inner: TextIO) -> None:
            self.inner = inner

        def write(self, text: str) -> int:
            lines.extend(ln for ln in text.splitlines() if ln.strip())
            return self.inner.write(text)

        def flush(self) -> None:
            self.inner.flush()

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Keep(logging.INFO)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(handler)
    try:
        with redirect_stdout(Tee(sys.stdout)), redirect_stderr(Tee(sys.stderr)):  # type: ignore[type-var]
            yield
    finally:
        logging.getLogger().removeHandler(handler)


def _node() -> str:
    """Host and Ray node id: nodes of a local multi-node cluster share a host name, not a node id."""
    import ray  # lazy: loads Ray

    ctx = ray.get_runtime_context()
    return f"{os.uname().nodename}/{ctx.get_node_id()[:12]}"


def _gpus() -> dict[str, str]:
    """The GPUs Ray assigned this trial, and what CUDA (so TensorFlow) sees: Ray sets CUDA_VISIBLE_DEVICES."""
    import ray  # lazy: loads Ray

    return {"gpu_ids": ",".join(str(g) for g in ray.get_gpu_ids()),
            "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES", "")}


def drain_history(pending: dict[str, list[float]]) -> dict[str, list[float]]:
    """The rows gathered since the last result (column -> values), leaving `pending` empty."""
    out = {k: list(v) for k, v in pending.items()}
    for v in pending.values():
        v.clear()
    return out


def run_phase(spec: SweepSpec, series: dict[str, Panel], *, storage: Path, name: str,
              callbacks: list[Any], jobs: list[Job] | None = None) -> tune.ResultGrid:
    """Run the tune phase (`jobs is None`: CellSearcher) or the confirm phase (the given jobs).

    Actors are reused: a fresh process per trial would pay TensorFlow's ~5 s import every time
    (measured: 26 worker processes for a 26-trial quickstart, tune phase 86 s for 35 s of training).
    """
    trainable = _resourced_trainable(spec, series)
    if jobs is None:
        total = spec.budget.trials_per_cell * len(spec.cells())
        tune_config = tune.TuneConfig(search_alg=CellSearcher(spec), num_samples=total, metric=METRIC, mode=MODE,
                                      reuse_actors=True, scheduler=_scheduler(spec))
        param_space: dict[str, Any] = {}
    else:
        # no metric: nothing is searched or scheduled here, and a final fit on train + validation has no
        # validation score to report
        tune_config = tune.TuneConfig(num_samples=1, reuse_actors=True)
        param_space = _param_space(jobs)
    callbacks = [*callbacks, JsonLoggerCallback(), CSVLoggerCallback()]
    run_config = tune.RunConfig(name=name, storage_path=str(storage.resolve()), callbacks=callbacks,
                                failure_config=tune.FailureConfig(max_failures=spec.max_failures), verbose=0)
    return tune.Tuner(trainable, param_space=param_space, tune_config=tune_config, run_config=run_config).fit()


def asha_rungs(spec: SweepSpec) -> set[int]:
    """Epoch counts at which ASHA compares trials: grace_period x reduction_factor^k, below the maximum."""
    if spec.scheduler.kind != "asha":
        return set()
    rungs, t = set(), spec.scheduler.grace_period
    while t < _max_epochs(spec):
        rungs.add(int(t))
        t *= spec.scheduler.reduction_factor
    return rungs


def _max_epochs(spec: SweepSpec) -> int:
    return int(max(e for d in spec.datasets for e in spec.space_for(d.name).values("epochs")))


def _scheduler(spec: SweepSpec) -> Any:
    """ASHA on epochs trained (not on Tune's report count, which follows wall time here)."""
    if spec.scheduler.kind != "asha":
        return None
    from ray.tune.schedulers import ASHAScheduler  # lazy: loads Ray

    return ASHAScheduler(time_attr="epochs_done", max_t=_max_epochs(spec), grace_period=spec.scheduler.grace_period,
                         reduction_factor=spec.scheduler.reduction_factor)


def _resourced_trainable(spec: SweepSpec, series: dict[str, Panel]) -> Any:
    return tune.with_resources(
        tune.with_parameters(_trainable, spec_json=spec.model_dump_json(), series=series),
        {"cpu": spec.resources.cpus, "gpu": spec.resources.gpus},
    )


def _param_space(jobs: list[Job]) -> dict[str, Any]:
    return {"job": tune.grid_search([job.model_dump(mode="json") for job in jobs])}


def can_restore(path: Path) -> bool:
    return tune.Tuner.can_restore(str(path.resolve()))


def restore_phase(spec: SweepSpec, series: dict[str, Panel], path: Path, jobs: list[Job] | None = None
                  ) -> tune.ResultGrid:
    """Continue an interrupted phase from Tune's experiment state: finished trials stay finished,
    unfinished and errored ones run again, and the searcher (with its Optuna studies) picks up where its
    last checkpoint left it. The restored callbacks find the live outbox through `Outbox.for_dir`.

    A phase of given `jobs` gets its grid again: Ray does not keep a Tuner's param_space in `tuner.pkl`, so a
    driver killed before Tune had created the trials (measured: SIGKILL as a confirm round starts) would
    otherwise come back with trials whose config is empty."""
    tuner = tune.Tuner.restore(str(path.resolve()), trainable=_resourced_trainable(spec, series),
                               param_space=None if jobs is None else _param_space(jobs),
                               resume_unfinished=True, resume_errored=True)
    with warnings.catch_warnings():
        # an interrupted trial trains again from its first epoch and reports the steps Optuna already has: Optuna
        # keeps the first value and warns once per step, which the operator can do nothing about
        warnings.filterwarnings("ignore", message=r"The reported value is ignored because this `step=",
                                category=UserWarning)
        return tuner.fit()


def finished_results(results: tune.ResultGrid) -> list[TrialOutcome]:
    """How every trial of a phase ended, from Tune's own record (survives restarts). A trial without its final
    report (stopped by the scheduler) is FAILED here, with no error line: the phases count only scored runs."""
    out = []
    for r in (results[i] for i in range(len(results))):
        final = final_report(r.metrics)
        assert r.config is not None, "Tune keeps every trial's config"
        error = None
        if r.error is not None:
            marked = [ln for ln in str(r.error).splitlines() if "TrialFailed: " in ln]
            error = marked[0].split("TrialFailed: ", 1)[1] if marked else str(r.error).strip().splitlines()[-1]
        status: Status = "FINISHED" if final and r.error is None else "FAILED"
        out.append(TrialOutcome.of(Job.from_config(r.config), status, error, final))
    return out
