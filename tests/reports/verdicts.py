"""Verdicts for tests, in the real shape: the one a real sweep's report stored (0.1.0's store), changed
where a test needs it. Hand-made dictionaries drift from the shape; these cannot (the model forbids it)."""

from __future__ import annotations

from typing import Any

import yaml

from pipeline.verdict.model import Verdict
from reports.advice import SweepCheck
from tests.conftest import RELEASE_0_1_0, ROOT


def stored_verdict() -> Verdict:
    """The 0.1.0 store's verdict: damped (GRU wins) and nile (inconclusive), a nightly run."""
    return Verdict.from_json((RELEASE_0_1_0 / "verdict.json").read_text(encoding="utf-8"))


def one_dataset(**changes: Any) -> Verdict:
    """The stored verdict cut to its first dataset (damped), with `changes` to that dataset's fields; the
    overall label follows the dataset's."""
    v = stored_verdict()
    first = v.datasets[0].model_copy(update=changes)
    overall = v.overall.model_copy(update={"label": first.label, "note": "one dataset"})
    return v.model_copy(update={"datasets": [first], "overall": overall, "next_steps": []})


def quickstart_check() -> SweepCheck:
    """The shipped quickstart sweep (dataset `damped`, as in the stored verdict), to check advice edits on."""
    path = ROOT / "search_spaces" / "quickstart.yaml"
    check = SweepCheck.of(yaml.safe_load(path.read_text(encoding="utf-8")), path)
    assert check is not None, "the shipped quickstart validates"
    return check
