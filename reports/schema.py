"""The runs table's schema: its column names, each column's type, and `check_runs_table`, which holds a table to
them where it is read.

`reports.runs.runs_table` builds the table from typed `ChildRun` rows and returns it checked; a function that
receives a table from elsewhere (a test, a dev tool, a table made by hand) checks it at its door
(`reports.build.build_report` does). Code reads columns by `Col.*`, never by a string, so a renamed column is
renamed here and a typo is an `AttributeError` at the line that makes it.

A small hand-written schema over pandas dtypes rather than pandera: the table has three kinds of column (text,
whole numbers that may be missing, real numbers), which forty lines check, and pandera would be a dependency (with
its own pins on pandas and typeguard) for that.

The kinds:
    text: an object column of `str`, missing as None or NaN. Not pandas' `string` dtype: its `pd.NA` makes a
        comparison with a missing value missing instead of False, which changes every mask the report builds.
    whole: nullable `Int64` (a seed, an index, a time in ms); a float column of whole numbers (how pandas holds
        integers beside a missing value) is coerced to it.
    real: `float64` (the final metrics); whole numbers are coerced to it.
Hyperparameters are text, as MLflow holds them: `pipeline.core.hparams.HParams.of` reads them typed, and the
report shows them as logged.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import pandas as pd

from pipeline.core.errors import OffContract
from pipeline.core.hparams import ARCHITECTURES, HPARAM_TYPES
from pipeline.tracking.contract import Metrics, Params
from pipeline.verdict.columns import RunColumns

__all__ = ["COLUMNS", "IDENTITY", "Col", "Column", "RunsTableError", "check_runs_table"]

Kind = Literal["text", "whole", "real"]


class RunsTableError(OffContract):
    """A runs table whose column is missing or holds values of the wrong type; the message names the column."""


class Col:
    """The runs table's column names. Identity first, then a hyperparameter per `HPARAM_TYPES` (the names are
    `HParams`' own: `Col.HPARAMS`), the horizon, and a final metric per `Metrics.FINAL`."""

    RUN_ID: Final = "run_id"
    RUN_NAME: Final = "run_name"
    STATUS: Final = "status"  # MLflow's: FINISHED, FAILED, RUNNING, KILLED
    START_TIME: Final = "start_time"  # ms since the epoch
    END_TIME: Final = "end_time"
    ARTIFACT_URI: Final = "artifact_uri"
    ROLE: Final = "role"  # trial | select | confirm
    ARCH: Final = RunColumns.ARCH
    DATASET: Final = RunColumns.DATASET
    SEED: Final = "seed"
    INDEX: Final = RunColumns.INDEX  # a trial's number; a confirm run's seed number (its round follows from it)
    RANK: Final = "rank"  # the configuration's rank among those selected (0: the best)
    NODE: Final = "node"
    ERROR: Final = "error"
    VARIANT: Final = "variant"  # None, or `param_matched`
    ATTEMPT: Final = "attempt"
    SOURCE_TRIAL: Final = "source_trial"  # the tune trial a select or confirm run's configuration came from
    # hyperparameters
    HIDDEN_SIZE: Final = "hidden_size"
    NUM_LAYERS: Final = "num_layers"
    WINDOW: Final = "window"
    OPTIMIZER: Final = "optimizer"
    LEARNING_RATE: Final = "learning_rate"
    BATCH_SIZE: Final = "batch_size"
    EPOCHS: Final = "epochs"
    TRANSFORM: Final = "transform"
    STRATEGY: Final = "strategy"
    NORMALIZE: Final = "normalize"
    LOSS_FN: Final = "loss_fn"
    EPOCH_WINDOWS: Final = "epoch_windows"
    HPARAMS: Final = tuple(HPARAM_TYPES)
    HORIZON: Final = Params.HORIZON
    # final metrics
    TEST_MASE: Final = Metrics.TEST_MASE
    VAL_MASE: Final = Metrics.VAL_MASE
    TEST_RMSE: Final = "test_rmse"
    VAL_RMSE: Final = "val_rmse"
    TEST_SMAPE: Final = "test_smape"
    CLOSED_LOOP_RMSE: Final = "closed_loop_rmse"
    N_PARAMS: Final = "n_params"
    SECONDS_PER_EPOCH: Final = "seconds_per_epoch"
    TRAIN_SECONDS: Final = "train_seconds"
    COMPILE_SECONDS: Final = "compile_seconds"
    EPOCHS_TRAINED: Final = "epochs_trained"
    BEST_EPOCH: Final = "best_epoch"
    TRAIN_WINDOWS: Final = "train_windows"
    STEPS_PER_EPOCH: Final = "steps_per_epoch"
    METRICS: Final = Metrics.FINAL
    # the table's order (reports.runs.runs_table)
    ORDER: Final = (DATASET, ARCH, ROLE, RANK, SEED, RUN_ID)


@dataclass(frozen=True)
class Column:
    """One column: its name, kind, and the values it may take (None: any)."""

    name: str
    kind: Kind
    choices: tuple[str, ...] | None = None


_IDENTITY = (Column(Col.RUN_ID, "text"), Column(Col.RUN_NAME, "text"), Column(Col.STATUS, "text"),
             Column(Col.START_TIME, "whole"), Column(Col.END_TIME, "whole"), Column(Col.ARTIFACT_URI, "text"),
             Column(Col.ROLE, "text", choices=("trial", "select", "confirm")),
             Column(Col.ARCH, "text", choices=ARCHITECTURES),
             Column(Col.DATASET, "text"), Column(Col.SEED, "whole"), Column(Col.INDEX, "whole"),
             Column(Col.RANK, "whole"), Column(Col.NODE, "text"), Column(Col.ERROR, "text"),
             Column(Col.VARIANT, "text"), Column(Col.ATTEMPT, "whole"), Column(Col.SOURCE_TRIAL, "whole"))
# every column the schema knows, in the table's order; a table may carry more (other metrics a run logged)
COLUMNS: Final = {c.name: c for c in (*_IDENTITY, *(Column(p, "text") for p in Col.HPARAMS),
                                       Column(Col.HORIZON, "whole"), *(Column(m, "real") for m in Col.METRICS))}
# what every table `runs_table` returns has; a reader that needs less names its own (`needs=`)
IDENTITY: Final = (Col.RUN_ID, Col.STATUS, Col.ROLE, Col.ARCH, Col.DATASET)


def _text(s: pd.Series, name: str) -> pd.Series:
    values = s.dropna()
    wrong = values[[not isinstance(v, str) for v in values]]
    if len(wrong):
        raise RunsTableError(f"runs table: column {name}: {wrong.iloc[0]!r} is not text")
    return s.astype(object) if s.dtype != object else s


def _whole(s: pd.Series, name: str) -> pd.Series:
    if isinstance(s.dtype, pd.Int64Dtype):
        return s
    try:
        number = pd.to_numeric(s.astype(object).where(s.notna(), None)).astype(float)
    except (TypeError, ValueError) as exc:
        raise RunsTableError(f"runs table: column {name}: not a whole number ({exc})") from None
    fraction = number[number.notna() & (number != np.round(number))]
    if len(fraction):
        raise RunsTableError(f"runs table: column {name}: {float(fraction.iloc[0])} is not a whole number")
    return number.astype("Int64")


def _real(s: pd.Series, name: str) -> pd.Series:
    if s.dtype == np.float64:
        return s
    try:
        return pd.to_numeric(s.astype(object).where(s.notna(), None)).astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise RunsTableError(f"runs table: column {name}: not a number ({exc})") from None


_COERCE = {"text": _text, "whole": _whole, "real": _real}


def check_runs_table(df: pd.DataFrame, needs: Iterable[str] = IDENTITY) -> pd.DataFrame:
    """The table with each known column in its kind's dtype (whole numbers as `Int64`, metrics as `float64`,
    text as objects); columns the schema does not know pass as they are. A table with no columns passes (a
    sweep with no child runs yet).

    Args:
        df: a runs table, or part of one (a reader's hand-made table in a test).
        needs: the columns the reader reads; by default the identity every run has.

    Raises:
        RunsTableError: a needed column is missing, or a column holds a value of the wrong type or outside
            its choices; the message names the column and the value.
    """
    if df.empty and not len(df.columns):
        return df
    missing = [name for name in needs if name not in df]
    if missing:
        raise RunsTableError(f"runs table: no column {', '.join(missing)} (columns: {', '.join(map(str, df))})")
    out = df.copy()
    for name in out.columns:
        column = COLUMNS.get(name)
        if column is None:
            continue
        out[name] = _COERCE[column.kind](out[name], name)
        if column.choices is not None:
            off = out[name].dropna()
            off = off[~off.isin(column.choices)]
            if len(off):
                raise RunsTableError(f"runs table: column {name}: {off.iloc[0]!r} is not one of "
                                     f"{', '.join(column.choices)}")
    return out
