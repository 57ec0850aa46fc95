"""Seed-robust selection and equal treatment of the architectures, on the job plans (no training)."""

from __future__ import annotations

from collections import Counter

from pipeline.core.config import SweepSpec
from pipeline.core.hparams import HParams
from pipeline.core.jobs import Job
from pipeline.engine.phases import selected, tune_candidates
from pipeline.engine.tuning import confirm_jobs, select_jobs

SPEC = SweepSpec.model_validate({
    "name": "s", "datasets": [{"name": "d", "source": "nile"}],
    "search_space": {"hidden_size": {"choice": [8, 16, 32, 64]}},
    "budget": {"trials_per_cell": 6}, "confirm": {"candidates": 3, "selection_seeds": 3, "seeds": 5},
})


def _trial(arch: str, index: int, hidden: int, val_mase: float) -> tuple[Job, dict, str, None]:
    job = Job(phase="trial", dataset="d", hp=HParams(arch=arch, hidden_size=hidden), index=index, seed=index)
    return job, {"val_mase": val_mase}, "FINISHED", None


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
    finished = [(Job(phase="select", dataset="d", hp=cands[("d", "gru")][rank][0], rank=rank, index=s, seed=s,
                     source_trial=rank), {"val_mase": v}, "FINISHED", None)
                for rank, vals in scores.items() for s, v in enumerate(vals)]
    best = selected(finished, cands, SPEC)
    assert best[("d", "gru")] == [cands[("d", "gru")][2]]
