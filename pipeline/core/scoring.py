"""How a dataset is scored, built once from the sweep file: `Scoring.of(spec, dataset)`.

A trial (`pipeline.core.training.fit_and_score`) and the baselines (`pipeline.core.metrics.baselines`) take the same
`Scoring`, so a network and the baselines it is judged against are scored from the same origins, over the same
horizon, on the same split, and nothing re-reads these settings from the sweep file on its own.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from pipeline.core.config import SplitSpec, SweepSpec

__all__ = ["Scoring"]


class Scoring(BaseModel):
    """What decides how a dataset is scored. The defaults are a plain scoring: the default split, one step ahead
    from every origin, no season, no early stopping.

    Attributes:
        split: the chronological train / validation / test parts of each series (the dataset's own, else the
            sweep's).
        season: the seasonal period, for MASE's seasonal naive denominator, the seasonal transforms and the
            seasonal baselines (None: not seasonal).
        horizon: every score is over the next `horizon` values from each forecast origin.
        origin_step: points between forecast origins (None: `horizon`, origins that do not overlap).
        origin_count: origins per validation and per test part, the last at the part's end (None: every one that
            fits). The sweep file's `test_origins`.
        closed_loop_steps: free-running steps scored from the start of the test part (None: all of it). The sweep
            file's `evaluation.closed_loop_horizon`.
        patience: stop after this many epochs without a better validation MASE and keep the best epoch's weights
            (None: train every epoch). A final fit has no validation part to stop on and ignores it.
        final_fit: what a chosen configuration's confirm runs and the statistical baselines are fitted on before
            they forecast the test part: `train+validation` (everything before it) or `train`.
        covariate_names: the dataset's past and future covariates, in the order of the input channels, stored
            with a kept network (None: `past_0`, ... and `future_0`, ...). Naming only: no score depends on it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    split: SplitSpec = SplitSpec()
    season: int | None = Field(None, ge=2)
    horizon: int = Field(1, ge=1)
    origin_step: int | None = Field(None, ge=1)
    origin_count: int | None = Field(None, ge=1)
    closed_loop_steps: int | None = Field(None, ge=1)
    patience: int | None = Field(None, ge=1)
    final_fit: Literal["train+validation", "train"] = "train+validation"
    covariate_names: tuple[tuple[str, ...], tuple[str, ...]] | None = None

    @classmethod
    def of(cls, spec: SweepSpec, dataset: str) -> Scoring:
        """How `spec` scores its dataset named `dataset`: the dataset's own split, season, horizon and origins, the
        sweep's evaluation settings."""
        ds, evaluation = spec.dataset(dataset), spec.evaluation
        return cls(split=spec.split_for(dataset), season=ds.season, horizon=ds.horizon, origin_step=ds.origin_step,
                   origin_count=ds.test_origins, closed_loop_steps=evaluation.closed_loop_horizon,
                   patience=evaluation.patience, final_fit=evaluation.final_fit,
                   covariate_names=(tuple(getattr(ds, "past_covariates", ())),
                                    tuple(getattr(ds, "future_covariates", ()))))
