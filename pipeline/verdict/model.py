"""The verdict as a typed value: what `compute_verdict` returns, what `verdict.json` holds, what every reader
(the renderings, the MLflow description, the CLI, nightly, resume and sync) reads by attribute.

`verdict.json` is `Verdict.to_json()`; `Verdict.from_json` reads it back, including a file written by
0.1.0 (schema 1: no `schema_version` key; nothing else differs). Every model is frozen and forbids unknown
keys, so a file that drifts from the shape is an error at load, not a `KeyError` later. Pure pydantic.

Every number has a finite value or an explicit form: a statistic that is not defined (no spread between
seeds, an architecture with too few finished runs) is NaN in memory and null in the file (`Num`, `MaybeNum`);
a repeated interval with no finite bound is null with a note saying why (`RoundStep.ci_note`); a seed count
beyond any practical number is `seeds_needed_above`. Infinity is refused at validation, naming the field, so
it never reaches `json.dumps`.
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    model_serializer,
    model_validator,
)

from pipeline.core.config import ReportSpec
from pipeline.core.hparams import ARCHITECTURES, Arch

# 1: 0.1.0 (no schema_version key); 2: adds the key, and per dataset `horizon`, `series`, `per_step` and
# the baselines (`baseline_mase`, `best_baseline`, `beats_best_baseline`, `baselines_failed`), and for panels
# `per_series` and `dropped_series`; 3: per dataset `rounds` (sequential confirm seeds) and `minutes_needed`;
# 4: explicit forms instead of sentinels and infinities: a round's `ci_low`/`ci_high` null with `ci_note`,
# `seeds_needed` null with `seeds_needed_above` (was 1001 for "more than 1000"), and an architecture with fewer
# than 2 finished confirm runs gives `too few seeds` with its statistics null (was an error); 5: per dataset
# `useful` (is either network worth using: the better seed ensemble against every baseline, `reports.useful`);
# 6: per dataset `scores` (test MASE per series and per step of each architecture, its ensemble and every baseline)
SCHEMA_VERSION = 6
# "seeds needed" beyond this many per architecture is no practical number: `seeds_needed_above`
PRACTICAL_SEEDS = 1000

Label = Literal["gru", "lstm", "equivalent", "inconclusive"]
Reason = Literal["difference", "negligible", "equivalent", "undecided", "too few seeds", "no spread"]
WINNERS: tuple[Label, ...] = ARCHITECTURES
# the baselines a verdict names, in words (keys of `baseline_mase`)
BASELINE_NAMES = {"naive": "naive", "seasonal_naive": "seasonal naive", "ar": "AR", "ets": "ETS", "arima": "ARIMA",
                  "theta": "Theta"}


def _none_is_nan(v: Any) -> Any:
    return float("nan") if v is None else v


def _nan_is_none(v: Any) -> Any:
    return None if isinstance(v, float) and math.isnan(v) else v


def _not_infinite(v: float) -> float:
    if math.isinf(v):  # JSON has no infinity: the producer must say "unbounded" explicitly
        raise ValueError("infinite: give the explicit form (null with a note, or a bound) instead")
    return v


# a statistic that may be undefined (no spread: 0/0); NaN in memory, null in verdict.json; never infinite
Num = Annotated[float, Field(allow_inf_nan=True), BeforeValidator(_none_is_nan), AfterValidator(_not_infinite)]
# a value that may be absent or undefined: None in memory (NaN is read as None), null in verdict.json
MaybeNum = Annotated[float | None, BeforeValidator(_nan_is_none)]


class _Model(BaseModel):
    """Frozen, no unknown keys, every plain float finite; fields named in `_absent_if_none` are left out of the
    dump when None (they were absent, not null, in the dictionaries verdict.json was first written from)."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)
    _absent_if_none: ClassVar[tuple[str, ...]] = ()

    @model_serializer(mode="wrap")
    def _dump(self, handler: Any) -> Any:
        data = handler(self)
        for name in self._absent_if_none:
            if data.get(name) is None:
                data.pop(name, None)
        return data


class MeanSd(_Model):
    mean: MaybeNum
    sd: MaybeNum
    n: int


class DMUnavailable(_Model):
    available: Literal[False]
    note: str


class DMResult(_Model):
    """Diebold-Mariano on the seed ensembles' test forecasts (median over seeds) (absolute error),
    `pipeline.verdict.dm`."""

    available: Literal[True]
    statistic: Num  # negative: GRU's ensemble more accurate
    p_value: Num  # Newey-West variance against the fixed-b reference
    mean_loss_diff: Num
    n: float
    lags: float
    hln_statistic: Num  # the classic HLN-corrected variance
    hln_p_value: Num
    ensemble_mase: dict[Arch, MaybeNum]


class StepRatio(_Model):
    """The GRU/LSTM ratio of geometric-mean test MASE at one step of the horizon, with its Welch 95% CI."""

    step: int  # 1 = one step ahead
    ratio: float
    ci_low: Num
    ci_high: Num


class SeriesShare(_Model):
    """One series of a panel: each architecture's geometric-mean test MASE over its seeds, and the share of
    (GRU seed, LSTM seed) pairs where the GRU's is lower."""

    id: str
    gru_better: float
    gru_mase: float
    lstm_mase: float


class ScoreTable(_Model):
    """Test MASE of every forecaster of a dataset per series and per step of the horizon (`reports.series`).
    Forecasters, in column order: `<arch>` (the geometric mean over its seeds of each seed's MASE),
    `<arch>_ensemble` (the seed ensemble's MASE) and each baseline by name. A step's MASE is the mean over the
    series of that step's MASE; None: that forecaster has no score there."""

    forecasters: list[str]
    series: list[str]  # the series' ids, in the dataset's order
    per_series: list[list[MaybeNum]]  # [series][forecaster]
    per_step: list[list[MaybeNum]]  # [step][forecaster]
    series_mean_level: list[Num]  # each series' mean absolute value over its test part (what figures rank by)


class DroppedSeries(_Model):
    """A series `short_series: drop` left out: too short for the sweep's splits, window and horizon."""

    id: str
    length: int


class RoundStep(_Model):
    """One look of the sequential confirm phase: the seeds so far and the repeated confidence interval."""

    _absent_if_none = ("ci_note",)

    round: int
    n_gru: int
    n_lstm: int
    ratio: float  # GRU/LSTM geometric-mean test MASE
    # repeated 95% interval of the ratio (holds over all looks at once); None: no finite bound (at an early look
    # with few seeds the level is tiny and the interval unbounded) or not defined (no spread), as `ci_note` says
    ci_low: MaybeNum
    ci_high: MaybeNum
    threshold: Num  # the nominal level Welch's p had to be below at this look (after Holm)
    ci_note: str | None = None  # why the interval has no bounds, in words (schema 4; before: not defined)


class Rounds(_Model):
    """How the confirm seeds of a dataset were spent (`pipeline.verdict.sequential`)."""

    stop: Literal["decided", "futility", "max_seeds", "max_minutes", "fixed"]
    why: str  # the stop in words
    rounds: int  # rounds this dataset took part in
    max_rounds: int
    max_seeds: int
    path: list[RoundStep]


# `gru`, `lstm`, `baseline:<name>` (the best baseline: no network beats every baseline) or `untestable`
Useful = Annotated[str, Field(pattern=r"^(gru|lstm|untestable|baseline:[A-Za-z0-9_]+)$")]


class Usefulness(_Model):
    """Whether either network is worth using (`reports.useful.usefulness`): the better architecture's seed ensemble
    against every baseline on the same test origins, one-sided tests that must all reject at `level`."""

    _absent_if_none = ("arch", "best_baseline", "test")

    useful: Useful
    ensemble: Literal["mean", "median"]  # how the seeds' forecasts were combined, per origin and step
    ensemble_mase: dict[Arch, MaybeNum]  # mean over the series of each series' MASE; None: no forecasts stored
    arch: Arch | None = None  # the architecture tested: the lower ensemble MASE
    best_baseline: str | None = None  # lowest mean test MASE on these origins
    baseline_mase: dict[str, float] = Field(default_factory=dict)  # every baseline with forecasts, these origins
    p_values: dict[str, Num] = Field(default_factory=dict)  # one-sided, the ensemble more accurate than it
    level: float  # each test's level: alpha/2 (the better of two architectures is tested)
    test: str | None = None  # the test in words; None: untestable
    sentence: str

    @property
    def network(self) -> str | None:
        """The architecture to use, or None when no network is recommended."""
        return self.useful if self.useful in ARCHITECTURES else None

    @property
    def baseline(self) -> str | None:
        """The baseline to use instead of a network, if the test says so."""
        return self.useful.removeprefix("baseline:") if self.useful.startswith("baseline:") else None


class DatasetVerdict(_Model):
    """One dataset's verdict (`pipeline.verdict.stats.compare_architectures`); `dm`, `mase_ci`, `horizon`, `series`
    and `per_step` are added by the report stage, which has the runs' forecasts and settings."""

    _absent_if_none = ("dm", "mase_ci", "rounds", "minutes_needed", "seeds_needed_above", "useful", "scores")

    dataset: str
    label: Label
    reason: Reason
    n_gru: int
    n_lstm: int
    # NaN (null): an architecture without a finished confirm run (every one failed)
    mean_mase_gru: Num
    mean_mase_lstm: Num
    gmean_mase_gru: Num  # geometric means: exp(mean log MASE), the scale of `effect`
    gmean_mase_lstm: Num
    sd_log_gru: Num
    sd_log_lstm: Num
    effect: Num  # mean log MASE GRU - LSTM
    se: Num
    df: Num
    ci_low: Num  # 95% Welch interval of `effect`
    ci_high: Num
    p_value: Num
    p_holm: Num
    p_equivalence: Num  # TOST against ±margin
    p_equivalence_holm: Num
    prob_gru_better: Num  # P(a random GRU seed has lower MASE than a random LSTM seed), descriptive
    prob_ci_low: Num
    prob_ci_high: Num
    seeds_needed: int | None  # per architecture, for `smallest_effect`, when inconclusive and it can be sized
    smallest_effect: float
    naive_mase: MaybeNum
    ar_mase: MaybeNum
    beats_naive: bool | None
    beats_ar: bool | None
    sentence: str
    dm: DMResult | DMUnavailable | None = None
    mase_ci: dict[Arch, tuple[Num, Num]] | None = None  # bootstrap 95% CI of each arm's mean test MASE
    # every baseline's test MASE on the same origins and horizon (naive, seasonal_naive, ar, ets, arima, theta), the
    # best of them, whether the better architecture's geometric-mean MASE beats it, and the ones that failed
    baseline_mase: dict[str, float] = Field(default_factory=dict)
    best_baseline: str | None = None
    beats_best_baseline: bool | None = None
    baselines_failed: dict[str, str] = Field(default_factory=dict)
    horizon: int = 1  # every test MASE is over this many steps from each origin (schema 1: always 1)
    series: int = 1  # series the per-seed MASE averages over
    per_series: list[SeriesShare] = Field(default_factory=list)  # a panel's series (empty for one series)
    dropped_series: list[DroppedSeries] = Field(default_factory=list)
    per_step: list[StepRatio] = Field(default_factory=list)  # empty: no stored forecasts (runs made by hand)
    rounds: Rounds | None = None  # the confirm rounds (schema 3; None: written before rounds existed)
    minutes_needed: float | None = None  # `seeds_needed` at this sweep's measured minutes per confirm run
    # no seed count up to this many per architecture reaches the power (`seeds_needed` is then None)
    seeds_needed_above: int | None = None
    useful: Usefulness | None = None  # schema 5; None: written before usefulness was tested
    scores: ScoreTable | None = None  # schema 6; None: no stored forecasts (or written before)

    @model_validator(mode="before")
    @classmethod
    def _more_than_practical(cls, data: Any) -> Any:
        """Before schema 4, "more than 1000 seeds" was written as `seeds_needed` 1001."""
        if isinstance(data, dict) and isinstance(data.get("seeds_needed"), int) and \
                data["seeds_needed"] > PRACTICAL_SEEDS:
            return {**data, "seeds_needed": None, "seeds_needed_above": PRACTICAL_SEEDS}
        return data

    @property
    def ratio(self) -> float:
        """GRU/LSTM ratio of geometric-mean test MASE (below 1: GRU better); NaN when not defined."""
        return exp_ratio(self.effect)

    @property
    def ratio_ci(self) -> tuple[float, float]:
        return exp_ratio(self.ci_low), exp_ratio(self.ci_high)

    def mean_mase(self, arch: str) -> float:
        return self.mean_mase_gru if arch == "gru" else self.mean_mase_lstm


def exp_ratio(log_ratio: float) -> float:
    """A ratio from its log, infinite past what a float holds (a Welch interval on logs of a few wildly
    scattered seeds can be that wide) rather than an OverflowError; for display, never stored."""
    try:
        return math.exp(log_ratio)
    except OverflowError:
        return math.inf


class MetaTest(_Model):
    """Random-effects meta-analysis of the per-dataset effects (`pipeline.verdict.overall.random_effects`)."""

    name: str
    effect: float
    se: Num
    df: float
    ci_low: Num
    ci_high: Num
    p_value: Num
    tau2: float
    n_datasets: float


class SignedRank(_Model):
    rope: float
    p_left: float  # P(GRU better beyond the ROPE)
    p_rope: float
    p_right: float


class Overall(_Model):
    _absent_if_none = ("bayesian_signed_rank",)

    label: Label
    test: MetaTest | None
    bayesian_signed_rank: SignedRank | None = None
    note: str


class CostRatio(_Model):
    ratio: float
    ci_low: Num
    ci_high: Num


class DatasetCost(_Model):
    _absent_if_none = ("per_epoch", "per_step", "per_window")

    n_params_gru: Num
    n_params_lstm: Num
    differing_hyperparameters: dict[str, dict[str, str]]
    per_epoch: CostRatio | None = None
    per_step: CostRatio | None = None
    per_window: CostRatio | None = None
    sentence: str


class MatchedVerdict(_Model):
    label: Label
    effect: Num
    ci_low: Num
    ci_high: Num
    p_holm: Num
    gru_hidden_size: str
    n_params_gru: Num
    sentence: str


class Sensitivity(_Model):
    param_matched: dict[str, MatchedVerdict] | None
    note: str


class RunCounts(_Model):
    finished: int
    failed: int


class BudgetCurve(_Model):
    k: list[int]
    mean: list[float]
    low: list[float]
    high: list[float]
    seconds: list[Num]


class Budget(_Model):
    sampler: str
    curves: dict[str, dict[Arch, BudgetCurve]]
    note: str


class ConfigChoice(_Model):
    """An architecture's confirmed configuration and how it held up from its tune trial to fresh seeds."""

    config: dict[str, str | int | float]
    source_trial: int | None
    tune_val_mase: MaybeNum
    selection_val_mase: MeanSd
    confirm_val_mase: MeanSd
    confirm_test_mase: MeanSd
    ensemble_test_mase: MaybeNum


class SweepInfo(_Model):
    date: str
    code_version: str | None
    search_space: dict[str, dict[str, JsonValue]] | None
    # per dataset, what was read (`1995-01 to 2016-05, monthly, 257 points`); absent before it was recorded
    data: dict[str, str] | None = None
    _absent_if_none = ("data",)


class Settings(_Model):
    """The rules the verdict was reached with (the sweep file's `report:`), and what the tests are."""

    alpha: float
    equivalence_margin: float
    min_seeds: int
    smallest_effect: float
    estimand: str
    test: str
    equivalence: str
    ci: str
    confirm_runs_used: int
    # early stopping in every phase (epochs without a better validation MASE; the best epoch's weights kept);
    # None: off, or not recorded (schema 1)
    patience: int | None = None
    # what the confirm runs and the baselines were fitted on (parent param `final_fit`); None: the training part,
    # recorded before final fits existed
    final_fit: str | None = None

    @property
    def rules(self) -> ReportSpec:
        return ReportSpec(alpha=self.alpha, equivalence_margin=self.equivalence_margin, min_seeds=self.min_seeds,
                          smallest_effect=self.smallest_effect)


class NightMase(_Model):
    mean: MaybeNum
    ci: tuple[MaybeNum, MaybeNum]


class NightDataset(_Model):
    _absent_if_none = ("useful",)

    label: str | None
    data: str | None  # the dataset's content fingerprint
    effect: MaybeNum
    ci: tuple[MaybeNum, MaybeNum]
    test_mase: dict[Arch, NightMase]
    # the usefulness outcome (`gru`, `lstm`, `baseline:<name>`, `untestable`); None: a night from before it
    useful: str | None = None


class Night(_Model):
    run_id: str
    date: str
    overall: str | None
    code_version: str | None
    datasets: dict[str, NightDataset]


class NightlyFlags(_Model):
    verdict_changed: bool
    mase_worse: bool
    details: list[str]


class Nightly(_Model):
    previous_run_id: str | None
    history: list[Night]  # newest (this night) first
    flags: NightlyFlags


class Verdict(_Model):
    """Everything the report stage decided about one sweep."""

    _absent_if_none = ("nightly",)

    schema_version: int  # SCHEMA_VERSION when written now; 1 when read from a file of 0.1.0
    sweep: str
    parent_run_id: str
    datasets: list[DatasetVerdict]
    overall: Overall
    cost: dict[str, DatasetCost]
    sensitivity: Sensitivity
    counts: dict[str, dict[Arch, RunCounts]]
    budget: Budget
    importance: dict[str, dict[Arch, dict[str, Num] | None]]
    configurations: dict[str, dict[Arch, ConfigChoice]]
    sweep_info: SweepInfo
    settings: Settings
    next_steps: list[str] = []
    nightly: Nightly | None = None

    @model_validator(mode="before")
    @classmethod
    def _schema_1(cls, data: Any) -> Any:
        """A verdict.json of 0.1.0 has no `schema_version`: it is schema 1."""
        if isinstance(data, dict) and "schema_version" not in data:
            return {**data, "schema_version": 1}
        return data

    def dataset(self, name: str) -> DatasetVerdict:
        return next(v for v in self.datasets if v.dataset == name)

    def to_json(self) -> str:
        """Canonical form: sorted keys, 10 significant digits, NaN as null, so identical inputs give identical
        bytes.

        Raises:
            pydantic.ValidationError: a value has no JSON form (an infinity put in by `model_copy`, which does not
                validate); the error names the field.
        """
        data = self.model_dump()
        type(self).model_validate(data)  # what `model_copy(update=...)` let in is checked here, by field name
        return json.dumps(_round(data), indent=2, sort_keys=True, allow_nan=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Verdict:
        return cls.model_validate_json(text)


def _round(x: Any) -> Any:
    if isinstance(x, bool):
        return x
    if isinstance(x, float):
        return None if x != x else float(f"{x:.10g}")
    if isinstance(x, dict):
        return {k: _round(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_round(v) for v in x]
    return x
