"""The sweep's three phases on Ray Tune: tune (search), select (fresh seeds on validation), confirm (test).

Each phase either runs or continues from Ray Tune's experiment state, and must end complete: a phase
that returns with fewer finished trials than planned (an interrupt, a driver problem) never leads to the
next one, because equal budgets for both architectures are the fairness guarantee.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from pipeline.core.config import SweepSpec
from pipeline.core.data import Panel
from pipeline.core.errors import SweepFailed
from pipeline.core.hparams import HParams
from pipeline.core.jobs import Candidates, Job
from pipeline.core.outcome import FinalMetrics, TrialOutcome
from pipeline.engine import progress as progress_module
from pipeline.engine.interrupts import ACTIVE
from pipeline.tracking.outbox import Outbox
from pipeline.tracking.state import SweepState

Finished = list[TrialOutcome]  # how each run of a phase (or of several) ended


def planned(spec: SweepSpec) -> dict[str, int]:
    """Runs per phase (for the progress line; a phase the sweep skips has 0)."""
    cells = len(spec.cells())
    trials = spec.budget.trials_per_cell
    candidates = min(spec.confirm.candidates, trials)
    matched = spec.confirm.seeds * len(spec.datasets) if spec.confirm.param_matched else 0
    return {"tune": trials * cells,
            "select": candidates * spec.confirm.selection_seeds * cells if candidates > 1 else 0,
            "confirm": (spec.confirm.top_k if trials else 1) * spec.confirm.seeds * cells + matched}


def tune_candidates(finished: Finished, spec: SweepSpec, k: int) -> Candidates:
    """Each cell's `k` best distinct configurations of the tune phase by validation MASE, the objective
    (the test split is never used), with the trial each comes from.

    Raises:
        SweepFailed: every tune-phase trial of a cell failed (no confirm phase on nothing).
    """
    best: Candidates = {}
    for cell in spec.cells():
        done = sorted(((m.val_mase, job.index, job) for job, m in _scored(finished, cell)
                       if job.phase == "trial" and m.val_mase is not None), key=lambda t: (t[0], t[1]))
        distinct: list[tuple[HParams, int | None]] = []
        for _, _, job in done:  # a sampler may propose the same configuration twice: keep the better trial
            if all(job.hp != hp for hp, _ in distinct):
                distinct.append((job.hp, job.index))
        best[cell] = distinct[:k]
        if not best[cell]:
            raise SweepFailed(_all_failed("tune", cell, finished))
    return best


def selected(finished: Finished, candidates: Candidates, spec: SweepSpec) -> Candidates:
    """Each cell's `confirm.top_k` candidates with the lowest mean validation MASE over their selection
    seeds (ties: the better tune-phase score).

    Raises:
        SweepFailed: every selection run of a cell failed.
    """
    best: Candidates = {}
    for cell, configs in candidates.items():
        runs = _scored(finished, cell)
        scores = {rank: [m.val_mase for job, m in runs if job.rank == rank and m.val_mase is not None]
                  for rank in range(len(configs))}
        ranked = sorted((float(np.mean(v)), rank) for rank, v in scores.items() if v)
        if not ranked:
            raise SweepFailed(_all_failed("select", cell, finished))
        best[cell] = [configs[rank] for _, rank in ranked[: spec.confirm.top_k]]
    return best


def final_epochs(finished: Finished, best: Candidates, candidates: Candidates) -> Candidates:
    """The chosen configurations with `epochs` set for their final fit on train + validation: what early stopping
    chose on validation, the median over the configuration's selection seeds (or its one tune trial) of the best
    epoch + 1, at least 1. No early stopping: the epochs those runs trained."""
    out: Candidates = {}
    for cell, configs in best.items():
        out[cell] = []
        for hp, trial in configs:
            rank = next(i for i, (c, _) in enumerate(candidates[cell]) if c == hp)
            chosen = [e for job, m in _scored(finished, cell) if (e := m.chosen_epochs) is not None
                      and (job.rank == rank if job.phase == "select" else job.index == trial)]
            epochs = max(1, int(round(float(np.median(chosen))))) if chosen else hp.epochs
            out[cell].append((hp.model_copy(update={"epochs": epochs}), trial))
    return out


def _scored(finished: Finished, cell: tuple[str, str]) -> list[tuple[Job, FinalMetrics]]:
    """The cell's runs that finished with their final metrics, with those metrics."""
    return [(run.job, m) for run in finished if (m := run.final) is not None and run.job.cell == cell]


def _all_failed(phase: str, cell: tuple[str, str], finished: Finished) -> str:
    errors = [run.error for run in finished if run.job.cell == cell and run.status == "FAILED" and run.error]
    first = errors[0] if errors else "no error recorded"
    return f"{cell[0]}/{cell[1]}: every {phase}-phase run failed (first error: {first}); nothing to confirm"


# the confirm runs seen so far, and the rounds done -> the datasets whose evidence is not in yet
Judge = Callable[[Finished, int], list[str]]


def run_phases(spec: SweepSpec, series: dict[str, Panel], outbox: Outbox, out_dir: Path, state: SweepState,
               judge: Judge | None = None) -> None:
    """The phases still to do, in order; each saves the sweep's state before it starts. The confirm phase
    runs in rounds (`confirm_rounds`) while `judge` finds datasets undecided."""
    from pipeline.engine import tuning  # lazy: loads Ray
    from pipeline.engine.callbacks import OutboxCallback, ProgressCallback  # lazy: loads Ray

    storage = out_dir / "ray_results"
    tag = state.parent_run_id[:8]
    outbox_callback = OutboxCallback(outbox)

    def phase(name: str, jobs: list[Job] | None, expected: int, part: str = "") -> Finished:
        """Run a phase (or its `part`, a round), or continue it from Tune's experiment state (a finished one
        returns at once)."""
        path = storage / f"{spec.name}-{name}{part}-{tag}"
        if (current := progress_module.CURRENT) is not None:  # read at call time: the sweep sets it
            current.phase(name)
        t0 = time.perf_counter()
        with ACTIVE.tune_phase():  # a Ctrl-C in here stops Tune cleanly, then raises Interrupted
            if tuning.can_restore(path):
                results = tuning.restore_phase(spec, series, path, jobs)
            else:
                results = tuning.run_phase(spec, series, storage=storage, name=path.name,
                                           callbacks=[outbox_callback, ProgressCallback(name)], jobs=jobs)
        state.seconds[name] = state.seconds.get(name, 0.0) + time.perf_counter() - t0
        ended = results.num_terminated + results.num_errors
        if ended < expected or ended < len(results):
            raise SweepFailed(f"the {name} phase returned with {ended} of {expected} runs ended; not going on "
                              f"(both architectures must get their full budget): `gatesweep resume {out_dir}` "
                              "continues it")
        return tuning.finished_results(results)

    plan = planned(spec)
    if spec.budget.trials_per_cell > 0:
        tuned = phase("tune", None, plan["tune"])
        candidates = tune_candidates(tuned, spec, spec.confirm.candidates)
        if max(len(c) for c in candidates.values()) > 1:
            _enter(state, out_dir, "select")
            jobs = tuning.select_jobs(spec, candidates)
            chosen = phase("select", jobs, len(jobs))
            best = selected(chosen, candidates, spec)
        else:
            chosen, best = tuned, candidates
        if spec.evaluation.final_fit == "train+validation":
            best = final_epochs(chosen, best, candidates)
    else:
        best = {(ds, arch): [(HParams.of(arch, spec.space_for(ds).fixed()), None)] for ds, arch in spec.cells()}
    _enter(state, out_dir, "confirm")
    confirm_rounds(spec, best, state, out_dir, judge, phase)


def confirm_rounds(spec: SweepSpec, best: Candidates, state: SweepState, out_dir: Path, judge: Judge | None,
                   phase: Callable[..., Finished]) -> None:
    """Round 1 on every dataset, then a round on the datasets `judge` leaves open, until none is open, the
    last round (`confirm.max_seeds`) is done or the next round would pass `confirm.max_minutes`. Which datasets
    each round trains is saved before it starts, so a resumed sweep repeats no round and loses none."""
    from pipeline.engine import tuning  # lazy: loads Ray

    seen: Finished = []
    rounds = len(spec.confirm.looks)
    k = 1
    while True:
        if k > len(state.confirm_rounds):
            if k == 1:
                datasets = [ds.name for ds in spec.datasets]
            else:
                if state.confirm_stop is not None or k > rounds or judge is None:
                    break
                datasets = judge(seen, k - 1)
                if not datasets:
                    break
                if _past_deadline(spec, state, k - 1):
                    state.confirm_stop = "max_minutes"
                    state.save(out_dir)
                    break
            state.confirm_rounds.append(datasets)
            state.save(out_dir)
        datasets = state.confirm_rounds[k - 1]
        jobs = tuning.confirm_jobs(spec, best, k, datasets)
        if (current := progress_module.CURRENT) is not None and k > 1:
            current.add_round(len(jobs), f"round {k} of at most {rounds}; undecided: {', '.join(datasets)}")
        seen += phase("confirm", jobs, len(jobs), f"-r{k}" if k > 1 else "")
        k += 1


def _past_deadline(spec: SweepSpec, state: SweepState, done: int) -> bool:
    """Would another round, as long as the average round so far, end past `confirm.max_minutes`?"""
    limit = spec.confirm.max_minutes
    if limit is None:
        return False
    spent = state.seconds.get("confirm", 0.0)
    return spent + spent / max(done, 1) > 60 * limit


_ORDER = ("tune", "select", "confirm")


def _enter(state: SweepState, out_dir: Path, phase: str) -> None:
    """Record that the sweep reached `phase` (never backwards: a resumed sweep passes its done phases)."""
    if state.phase in _ORDER and _ORDER.index(state.phase) < _ORDER.index(phase):
        state.phase = phase  # type: ignore[assignment]
        state.save(out_dir)
