"""Seed-robust selection and equal treatment of the architectures, on the job plans (no training)."""

from __future__ import annotations

from collections import Counter

from pipeline.core.config import SweepSpec
from pipeline.core.hparams import HParams
from pipeline.core.jobs import Job
from pipeline.core.outcome import FinalMetrics, Status, TrialOutcome
from pipeline.engine.phases import selected, tune_candidates
from pipeline.engine.tuning import confirm_jobs, select_jobs

SPEC = SweepSpec.model_validate({
    "name": "s", "datasets": [{"name": "d", "source": "nile"}],
    "search_space": {"hidden_size": {"choice": [8, 16, 32, 64]}},
    "budget": {"trials_per_cell": 6}, "confirm": {"candidates": 3, "selection_seeds": 3, "seeds": 5},
})


def _trial(arch: str, index: int, hidden: int, val_mase: float) -> TrialOutcome:
    job = Job(phase="trial", dataset="d", hp=HParams(arch=arch, hidden_size=hidden), index=index, seed=index)
    return TrialOutcome(job=job, status="FINISHED", metrics=FinalMetrics(val_mase=val_mase))


def test_candidates_are_the_best_distinct_configurations_of_the_tune_phase() -> None:
    finished = [_trial("gru", 0, 8, 0.50), _trial("gru", 1, 16, 0.30), _trial("gru", 2, 16, 0.35),
                _trial("gru", 3, 32, 0.40), _trial("gru", 4, 64, 0.90),
                _trial("lstm", 0, 8, 0.20), _trial("lstm", 1, 64, 0.25), _trial("lstm", 2, 32, 0.70)]
    cands = tune_candidates(finished, SPEC, 3)
    assert [(hp.hidden_size, t) for hp, t in cands[("d", "gru")]] == [(16, 1), (32, 3), (8, 0)]  # 16 only once
    assert [(hp.hidden_size, t) for hp, t in cands[("d", "lstm")]] == [(8, 0), (64, 1), (32, 2)]


def test_both_architectures_get_the_same_selection_and_confirm_budget_and_seeds() -> None:
    cands = {("d", arch): [(HParams(arch=arch, hidden_size=h), i) for i, h in enumerate((8, 16, 32))]
             for arch in ("gru", "lstm")}
    jobs = select_jobs(SPEC, cands)
    assert Counter(j.arch for j in jobs) == {"gru": 9, "lstm": 9}
    seeds = {arch: sorted(j.seed for j in jobs if j.arch == arch) for arch in ("gru", "lstm")}
    assert seeds["gru"] == seeds["lstm"] and len(set(seeds["gru"])) == 3
    assert all(j.phase == "select" and j.source_trial == j.rank for j in jobs)
    confirm = confirm_jobs(SPEC, {cell: c[:1] for cell, c in cands.items()})
    by_arch = {arch: sorted(j.seed for j in confirm if j.arch == arch) for arch in ("gru", "lstm")}
    assert by_arch["gru"] == by_arch["lstm"] and len(by_arch["gru"]) == 5
    assert not set(by_arch["gru"]) & set(seeds["gru"])  # fresh seeds at every stage


def test_the_confirmed_configuration_is_the_best_selection_mean_not_the_luckiest_trial() -> None:
    cands = {("d", "gru"): [(HParams(arch="gru", hidden_size=h), i) for i, h in enumerate((8, 16, 32))]}
    # candidate 0 had the best tune score (a lucky seed); candidate 2 is best on fresh seeds
    scores = {0: [0.9, 1.1, 1.0], 1: [0.7, 0.8, 0.75], 2: [0.5, 0.6, 0.55]}
    finished = [TrialOutcome(job=Job(phase="select", dataset="d", hp=cands[("d", "gru")][rank][0], rank=rank, index=s,
                                     seed=s, source_trial=rank), status="FINISHED", metrics=FinalMetrics(val_mase=v))
                for rank, vals in scores.items() for s, v in enumerate(vals)]
    best = selected(finished, cands, SPEC)
    assert best[("d", "gru")] == [cands[("d", "gru")][2]]


def test_a_final_fit_trains_the_median_of_what_early_stopping_chose_on_the_selection_seeds() -> None:
    from pipeline.engine.phases import final_epochs

    cands = {("d", "gru"): [(HParams(arch="gru", hidden_size=h), i) for i, h in enumerate((8, 16))]}

    def run(rank: int, seed: int, status: Status = "FINISHED", **metrics: float) -> TrialOutcome:
        job = Job(phase="select", dataset="d", hp=cands[("d", "gru")][rank][0], rank=rank, index=seed, seed=seed,
                  source_trial=rank)
        return TrialOutcome(job=job, status=status, metrics=FinalMetrics(**metrics))

    finished = [run(1, 0, best_epoch=4, epochs_trained=14), run(1, 1, best_epoch=6, epochs_trained=16),
                run(1, 2, best_epoch=9, epochs_trained=19), run(0, 0, best_epoch=1, epochs_trained=11),
                run(1, 3, "FAILED", best_epoch=0, epochs_trained=1)]
    best = {("d", "gru"): cands[("d", "gru")][1:]}
    assert final_epochs(finished, best, cands)[("d", "gru")][0][0].epochs == 7  # median of 5, 7, 10
    # no selection phase: the one tune trial; no early stopping: the epochs it trained
    trial = TrialOutcome(job=Job(phase="trial", dataset="d", hp=cands[("d", "gru")][0][0], index=0, seed=0),
                         status="FINISHED", metrics=FinalMetrics(epochs_trained=12))
    assert final_epochs([trial], {("d", "gru"): cands[("d", "gru")][:1]}, cands)[("d", "gru")][0][0].epochs == 12


def test_a_confirm_round_is_judged_on_the_finished_runs_test_mase_alone() -> None:
    from pathlib import Path

    from pipeline.app.sweep import _judge
    from pipeline.core.config import load_spec

    spec = load_spec(Path(__file__).parents[2] / "data" / "valid" / "rounds.yaml")

    def run(dataset: str, arch: str, seed: int, test_mase: float | None, status: Status = "FINISHED",
            variant: str | None = None) -> TrialOutcome:
        job = Job(phase="confirm", dataset=dataset, hp=HParams(arch=arch), index=seed, seed=seed, variant=variant)
        metrics = None if test_mase is None else FinalMetrics(test_mase=test_mase)
        return TrialOutcome(job=job, status=status, metrics=metrics)

    # damped: the GRU clearly better (decided after round 1); nile: the same (still open)
    runs = [run("damped", "gru", s, 0.40 + 0.01 * s) for s in range(3)]
    runs += [run("damped", "lstm", s, 1.00 + 0.01 * s) for s in range(3)]
    runs += [run("nile", arch, s, 0.90 + 0.03 * s) for arch in ("gru", "lstm") for s in range(3)]
    judge = _judge(spec)
    assert judge(runs, 1) == ["nile"]
    # failed runs (even with scores) and the parameter-matched GRU are not the verdict's evidence: either, counted,
    # would leave damped open
    failed = [run("damped", "lstm", s, 0.40 + 0.01 * s, status="FAILED") for s in range(3)]
    matched = [run("damped", "gru", s, 1.00 + 0.01 * s, variant="param_matched") for s in range(3)]
    assert judge(runs + failed + matched + [run("damped", "gru", 3, None, status="FAILED")], 1) == ["nile"]
    counted = [r.model_copy(update={"status": "FINISHED"}) for r in failed]
    assert judge(runs + counted, 1) == ["damped", "nile"]
    assert judge(failed + matched, 1) == []
