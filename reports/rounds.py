"""A dataset's confirm rounds as the verdict holds and states them: the sequential design's outcome
(`pipeline.verdict.sequential.replay`) turned into per-dataset verdicts with their `Rounds`, why the rounds
stopped and, where a look's repeated interval has no finite bound, why not, in words.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from pipeline.core.config import ReportSpec
from pipeline.core.errors import OffContract
from pipeline.tracking.contract import Tags
from pipeline.verdict.model import DatasetVerdict, Rounds, RoundStep
from pipeline.verdict.sequential import Design, replay
from pipeline.verdict.stats import compare_architectures
from reports.schema import Col, check_runs_table
from reports.wording import worded

# why a dataset's confirm seeds stopped
STOP_REASONS = {
    "decided": "decided",
    "futility": "no decision reachable even with the most seeds allowed",
    "max_seeds": "reached max_seeds",
    "max_minutes": "reached max_minutes",
    "fixed": "fixed number of seeds",
}


_LOG_FLOAT_MAX = math.log(np.finfo(float).max)  # exp of a log bound beyond this is no float


def rounds_of(o: dict[str, Any], design: Design, cut: str | None) -> Rounds:
    """A dataset's confirm rounds as the verdict holds them, from `Replay.of`: why they stopped, and the ratio
    after each look with its repeated interval (None, with a note, where that has no finite bound)."""
    stop = o["stop"] or ("max_minutes" if cut == "max_minutes" else "max_seeds")
    path = [_round_step(k + 1, step, design) for k, step in enumerate(o["path"])]
    return Rounds(stop=stop, why=STOP_REASONS[stop], rounds=len(path), max_rounds=len(design.looks),
                  max_seeds=design.max_seeds, path=path)


def _round_step(k: int, step: dict[str, Any], design: Design) -> RoundStep:
    lo, hi = step["ci_low"], step["ci_high"]
    note = _no_bounds(k, step, design)
    return RoundStep(round=k, n_gru=step["n_gru"], n_lstm=step["n_lstm"], ratio=math.exp(step["effect"]),
                     ci_low=None if note else math.exp(lo), ci_high=None if note else math.exp(hi),
                     threshold=step["threshold"], ci_note=note)


def _no_bounds(k: int, step: dict[str, Any], design: Design) -> str | None:
    """Why a look's repeated interval has no bounds to give, in words; None when it has.

    At an early look the O'Brien-Fleming-type spending leaves a tiny level (none at all for 2 seeds of 40),
    and with 1-3 degrees of freedom Welch's t quantile at it is astronomical or infinite: the interval is
    unbounded, which is what it honestly says, rather than a clamped number."""
    lo, hi = step["ci_low"], step["ci_high"]
    seeds = f"{step['n_gru']} GRU / {step['n_lstm']} LSTM seeds"
    if math.isnan(lo) or math.isnan(hi):
        return f"not defined with {seeds}: no spread between the seeds of either architecture"
    if math.isinf(lo) or math.isinf(hi):  # the interval's level is 0: Welch's quantile is infinite
        return (f"unbounded: with {seeds} of at most {design.max_seeds}, round {k} spends none of the error rate, "
                "so its repeated interval rules out no ratio")
    if max(abs(lo), abs(hi)) > _LOG_FLOAT_MAX:
        return (f"unbounded in practice: with {seeds} at round {k}'s level (p < {step['threshold']:.2g}) the "
                "repeated interval reaches past 1e308")
    return None


def sequential_verdicts(confirm: pd.DataFrame, baselines: dict[str, dict[str, float]], rules: ReportSpec,
                        design: Design, cut: str | None = None) -> list[DatasetVerdict]:
    """Per-dataset verdicts with the confirm rounds replayed (`replay`): the sequential rule's labels, each
    dataset's `rounds`, and, when the runs have start times, the minutes `seeds_needed` would take.

    `confirm` has columns dataset, arch, test_mase and index (the confirm run's index: its round follows from
    the design), and start_time (ms) when known; `cut`: why the sweep started no further round, if it says."""
    confirm = check_runs_table(confirm, needs=(Col.DATASET, Col.ARCH, Col.TEST_MASE, Col.INDEX))
    unnumbered = confirm[confirm[Col.INDEX].isna()]
    if len(unnumbered):  # a hand-logged run: say which, not a TypeError from int(NA)
        run = unnumbered.iloc[0]
        raise OffContract(f"run {run.get(Col.RUN_ID, '?')}: a confirm run without the tag {Tags.INDEX} in a sweep "
                          "that bought seeds in rounds (the MLflow contract: a confirm run's index gives its round)")
    confirm = confirm.assign(round=[design.spec.round_of(int(i)) for i in confirm[Col.INDEX]])
    seq = replay(confirm, design, rules)
    outcome = {ds: seq.of(ds) for ds in seq.datasets}
    verdicts = compare_architectures(confirm, baselines, rules, sequential=outcome)
    verdicts = [v.model_copy(update={"rounds": rounds_of(outcome[v.dataset], design, cut),
                                     "minutes_needed": _minutes_needed(v, confirm)}) for v in verdicts]
    return worded(verdicts, rules)


def _minutes_needed(v: DatasetVerdict, confirm: pd.DataFrame) -> float | None:
    """Wall minutes that `seeds_needed` per architecture would take at the pace this sweep's confirm runs
    started (all datasets, the slots in use as they were)."""
    if v.seeds_needed is None or Col.START_TIME not in confirm:
        return None
    starts = confirm[Col.START_TIME].dropna().to_numpy(float)
    if len(starts) < 2 or np.ptp(starts) <= 0:
        return None
    per_run = np.ptp(starts) / (len(starts) - 1) / 60_000
    return float(2 * v.seeds_needed * per_run)

