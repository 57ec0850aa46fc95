"""A job: one training run of a sweep (a tune-phase trial, a selection seed or a confirm seed), from the
searcher that makes
it, through Ray Tune and the outbox, to its child run in MLflow. It is the one home of the run's key
(its identity within the sweep) and of its run name.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from pipeline.core.hparams import HParams

# A run's role, also its `gatesweep.role` tag: a tune-phase trial, a selection seed or a confirm seed. (The
# sweep's phases, `pipeline.tracking.state.SweepPhase`, are named tune, select and confirm: a tune phase runs
# trials.)
Phase = Literal["trial", "select", "confirm"]
# Seeds are the sweep's base seed x 100 000 plus an offset per phase plus the run's number, so that each
# phase's seeds are fresh and small enough to read (the run name shows the seed of select/confirm runs).
SEED_OFFSETS: dict[str, int] = {"trial": 0, "confirm": 10_000, "select": 20_000}
MAX_PER_PHASE = 10_000


def seed_for(phase: str, base_seed: int, index: int) -> int:
    """The random seed of run `index` of a phase (weights' initialisation and the data order)."""
    return base_seed * 100_000 + SEED_OFFSETS[phase] + index


class Job(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    phase: Phase
    dataset: str
    hp: HParams
    index: int  # trial number within its cell, or the seed's number (select, confirm)
    seed: int
    rank: int = 0  # select: which candidate (by tune score); confirm: which of the cell's top-k configurations
    source_trial: int | None = None  # select, confirm: the tune-phase trial the configuration comes from
    variant: str | None = None  # "param_matched": the GRU sized like the LSTM (a secondary check)
    attempt: int | None = None  # a failed attempt that Tune retried: its own run
    stopped_early: bool = False  # stopped by the scheduler before its last epoch

    @property
    def arch(self) -> str:
        return self.hp.arch

    @property
    def cell(self) -> tuple[str, str]:
        return self.dataset, self.hp.arch

    @property
    def key(self) -> str:
        """The run's identity within its sweep: the same job always gets the same key."""
        variant = f"-{self.variant}" if self.variant else ""
        attempt = f"-attempt{self.attempt}" if self.attempt is not None else ""
        return f"{self.phase}-{self.dataset}-{self.arch}{variant}-r{self.rank}-{self.index:04d}{attempt}"

    def run_name(self, multi_dataset: bool) -> str:
        """What tells a sweep's runs apart comes first, because MLflow's runs table cuts names after about 15
        characters: `s10003-gru-confirm`, `t007-lstm-tune`, `c2-s20001-gru-select` (candidate 2), then
        `-<dataset>` before the phase when a sweep has several datasets (`s10003-gru-nile-confirm`). Select and
        confirm names show the run's real seed (`gatesweep.seed`)."""
        dataset = f"-{self.dataset}" if multi_dataset else ""
        attempt = f"-attempt-{self.attempt}" if self.attempt is not None else ""
        if self.phase == "confirm":
            rank = f"-top{self.rank + 1}" if self.rank else ""
            variant = "-matched" if self.variant == "param_matched" else ""
            return f"s{self.seed}-{self.arch}{variant}{rank}{dataset}-confirm{attempt}"
        if self.phase == "select":
            return f"c{self.rank + 1}-s{self.seed}-{self.arch}{dataset}-select{attempt}"
        return f"t{self.index:03d}-{self.arch}{dataset}-tune{attempt}"

    def to_config(self) -> dict[str, Any]:
        """Ray Tune's trial config for this job."""
        return {"job": self.model_dump(mode="json")}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Job:
        return cls.model_validate(config["job"])


# per (dataset, architecture) cell: configurations to retrain, each with the tune-phase trial it comes from
Candidates = dict[tuple[str, str], list[tuple[HParams, int | None]]]
