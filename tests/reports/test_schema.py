"""The runs table's schema (`reports.schema`): dtypes coerced where a table is read, a wrong one refused by name."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from pipeline.core.hparams import HPARAM_TYPES
from pipeline.tracking.contract import CHILD_TAG_COLUMNS, Metrics
from reports.schema import COLUMNS, Col, RunsTableError, check_runs_table


def _table(**extra: list[object]) -> pd.DataFrame:
    return pd.DataFrame({Col.RUN_ID: ["a", "b"], Col.STATUS: ["FINISHED", "FAILED"], Col.ROLE: ["confirm", "trial"],
                         Col.ARCH: ["gru", "lstm"], Col.DATASET: ["nile", "nile"], **extra})


def test_every_column_of_the_contract_has_a_constant() -> None:
    names = {v for k, v in vars(Col).items() if k.isupper() and isinstance(v, str)}
    assert set(CHILD_TAG_COLUMNS.values()) | set(HPARAM_TYPES) | set(Metrics.FINAL) <= names
    assert Col.HPARAMS == tuple(HPARAM_TYPES) and set(COLUMNS) <= names


def test_whole_numbers_beside_a_missing_one_become_nullable_integers() -> None:
    out = check_runs_table(_table(seed=[3.0, math.nan], test_mase=[1, 2]))
    assert str(out[Col.SEED].dtype) == "Int64" and out[Col.SEED].iloc[0] == 3 and pd.isna(out[Col.SEED].iloc[1])
    assert out[Col.TEST_MASE].dtype == "float64"


def test_a_fraction_in_a_whole_number_column_is_refused_by_name() -> None:
    with pytest.raises(RunsTableError, match="column seed: 2.5"):
        check_runs_table(_table(seed=[1, 2.5]))


def test_text_in_a_metric_column_is_refused_by_name() -> None:
    with pytest.raises(RunsTableError, match="column val_mase"):
        check_runs_table(_table(val_mase=["0.5", "n/a"]))


def test_a_role_outside_the_contract_is_refused() -> None:
    with pytest.raises(RunsTableError, match="column role: 'tune'"):
        check_runs_table(_table().assign(role=["confirm", "tune"]))


def test_a_reader_names_the_columns_it_needs() -> None:
    with pytest.raises(RunsTableError, match="no column rank"):
        check_runs_table(_table(), needs=(Col.RANK,))
    assert check_runs_table(pd.DataFrame({Col.TEST_MASE: [1.0]}), needs=(Col.TEST_MASE,)).shape == (1, 1)


def test_the_verdicts_statistics_read_the_runs_tables_own_column_names() -> None:
    from pipeline.verdict.columns import RunColumns

    assert (RunColumns.DATASET, RunColumns.ARCH, RunColumns.TEST_MASE, RunColumns.INDEX) == (
        Col.DATASET, Col.ARCH, Col.TEST_MASE, Col.INDEX)
