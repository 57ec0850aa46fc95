from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.core.config import SpecError, load_spec
from pipeline.core.data import load_sweep
from tests.conftest import DATA, ROOT

VALID = sorted((DATA / "valid").glob("*.yaml")) + sorted((ROOT / "search_spaces").glob("*.yaml"))
INVALID = sorted((DATA / "invalid").glob("*.yaml"))


def _expected(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), f"{path} must start with '# expect: <message part>'"
    return first.removeprefix("# expect: ")


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_files_load(path: Path) -> None:
    spec, series = load_sweep(path)
    assert spec.datasets and spec.architectures and set(series) == {d.name for d in spec.datasets}


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_files_name_file_field_and_problem(path: Path) -> None:
    with pytest.raises(SpecError) as info:
        load_sweep(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert _expected(path) in message
    assert "\n" not in message


def test_at_least_fifteen_invalid_files() -> None:
    assert len(INVALID) >= 15


def test_spec_is_frozen() -> None:
    spec = load_spec(DATA / "valid" / "minimal.yaml")
    with pytest.raises(Exception, match="frozen"):
        spec.name = "other"  # type: ignore[misc]


def test_unreadable_path_is_a_spec_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="cannot read file"):
        load_spec(tmp_path / "missing.yaml")


def test_quickstart_meets_its_minimum_budget() -> None:
    spec = load_spec(ROOT / "search_spaces" / "quickstart.yaml")
    assert set(spec.architectures) == {"gru", "lstm"}
    assert spec.budget.trials_per_cell >= 8 and spec.confirm.seeds >= 5


def test_seed_replication_is_the_seed_setting() -> None:
    spec = load_spec(ROOT / "search_spaces" / "seed_replication.yaml")
    s = spec.search_space
    assert (s.window, s.hidden_size, s.optimizer, s.batch_size, s.epochs) == (20, 40, "sgd", 10, 1000)
    assert spec.search_space.searched() == [] and spec.confirm.seeds == 20
