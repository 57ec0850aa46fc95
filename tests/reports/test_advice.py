"""Every sweep-file edit the advice prints passes `gatesweep validate` on the sweep it was made for, and the
advice never suggests what that sweep already does."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipeline.app.cli import main
from pipeline.verdict.model import Rounds, Usefulness, Verdict
from reports.advice import SweepCheck, SweepEdit
from reports.decision import description_md, next_steps
from tests.conftest import DATA, ROOT
from tests.reports.verdicts import one_dataset

QUICKSTART = ROOT / "search_spaces" / "quickstart.yaml"  # damped: a series with negative values
PANEL = DATA / "valid" / "panel.yaml"  # stores: positive weekly sales, a CSV panel
_LOSING = Usefulness(useful="baseline:ets", ensemble="median", ensemble_mase={"gru": 0.9, "lstm": 1.1}, arch="gru",
                     best_baseline="ets", baseline_mase={"ets": 0.7, "naive": 1.2}, p_values={"ets": 0.9},
                     level=0.025, test="Diebold-Mariano", sentence="damped: use ETS — ...")
_FINE = {"beats_naive": True, "beats_ar": True}
# an edit as printed: `name: value`, the name a search-space key of the whole sweep or a full key
_SNIPPET = re.compile(r"`([A-Za-z_][\w.\[\]]*): ([^`]+)`")


def _check(path: Path, **changes: Any) -> SweepCheck:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    for key, value in changes.items():
        raw = SweepEdit(tuple(int(p) if p.isdigit() else p for p in key.split("/")), value).apply(raw)
    check = SweepCheck.of(raw, path)
    assert check is not None and check.panels is not None
    return check


def _edits(steps: list[str]) -> list[SweepEdit]:
    out = []
    for name, value in _SNIPPET.findall("\n".join(steps)):
        parts = re.findall(r"[A-Za-z_]\w*|\[\d+\]", name)
        path = tuple(int(p[1:-1]) if p.startswith("[") else p for p in parts)
        out.append(SweepEdit(path if len(path) > 1 else ("search_space", *path), yaml.safe_load(value)))
    return out


def _validates(check: SweepCheck, edit: SweepEdit, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The edited sweep file, written out (CSV paths made absolute), through `gatesweep validate` itself."""
    raw = edit.apply(check.raw)
    for ds in raw["datasets"]:
        if ds.get("source") == "csv":
            ds["path"] = str((check.path.parent / ds["path"]).resolve())
    path = tmp_path / "edited.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    status = main(["validate", str(path)])
    assert status == 0, (edit, capsys.readouterr().err)


def _steps(verdict: Verdict, check: SweepCheck) -> list[str]:
    return next_steps(verdict, check)


# (situation, sweep, what the verdict says, text that must appear, text that must not)
SITUATIONS = [
    ("no network beats ETS on the quickstart", QUICKSTART, {}, one_dataset(label="gru", useful=_LOSING, **_FINE),
     ["`normalize: {choice: [series, window]}`", "`loss_fn: {choice: [mse, mae]}`"], ["log1p"]),
    ("the same on a positive panel", PANEL, {}, one_dataset(dataset="stores", label="gru", useful=_LOSING, **_FINE),
     ["`datasets[0].search_space.transform: {choice: [none, log1p]}`"], []),
    ("a seasonal panel: log(1 + y) with the season taken out", PANEL, {"datasets/0/season": 4},
     one_dataset(dataset="stores", label="gru", useful=_LOSING, **_FINE),
     ["`datasets[0].search_space.transform: {choice: [none, log1p_stl]}`"], ["log1p]"]),
    ("a seasonal panel already deseasonalised on a log scale", PANEL,
     {"datasets/0/season": 4, "datasets/0/search_space/transform": "log_stl"},
     one_dataset(dataset="stores", label="gru", useful=_LOSING, **_FINE),
     ["`datasets[0].search_space.normalize: {choice: [series, window]}`"], ["transform:"]),
    ("the recipe already searched", PANEL, {"search_space/normalize": {"choice": ["series", "window"]},
                                            "search_space/loss_fn": "mae", "search_space/transform": "log1p"},
     one_dataset(dataset="stores", label="gru", useful=_LOSING, **_FINE),
     ["already tries the recipe that gives the networks a fair chance (normalize window, loss_fn mae, transform "
      "log1p)", "`budget.trials_per_cell: 4`"], ["`normalize", "`loss_fn"]),
    ("both lose to naive and AR (a verdict from before usefulness)", QUICKSTART, {},
     one_dataset(label="inconclusive", reason="undecided", beats_naive=False, beats_ar=False),
     ["`transform: {choice: [none, diff]}`"], ["log_diff"]),
    ("seeds for a smaller difference", QUICKSTART, {},
     one_dataset(label="inconclusive", reason="undecided", n_gru=15, n_lstm=15, seeds_needed=5, effect=-0.0126,
                 sd_log_gru=0.0189, sd_log_lstm=0.0212, minutes_needed=0.32, **_FINE),
     ["`confirm.max_seeds: 123`"], []),
    ("too few seeds", QUICKSTART, {}, one_dataset(label="inconclusive", reason="too few seeds", **_FINE),
     ["`confirm.seeds: 5`"], []),
]


@pytest.mark.parametrize(("sweep", "changes", "verdict", "said", "unsaid"), [s[1:] for s in SITUATIONS],
                         ids=[s[0] for s in SITUATIONS])
def test_every_suggested_edit_passes_validate_and_none_is_already_in_effect(
        sweep: Path, changes: dict[str, Any], verdict: Verdict, said: list[str], unsaid: list[str], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    check = _check(sweep, **changes)
    steps = _steps(verdict, check)
    text = "\n".join(steps)
    for s in said:
        assert s in text, text
    for s in unsaid:
        assert s not in text, text
    edits = _edits(steps)
    assert edits, text
    for edit in edits:
        assert check.problem(edit) is None, edit
        _validates(check, edit, tmp_path, capsys)


def test_an_edit_validate_would_reject_is_not_printed() -> None:
    """`confirm.max_seeds` above `seeds` with top_k 2 is refused by validate: the setting is named, no value."""
    check = _check(QUICKSTART, **{"confirm/top_k": 2, "confirm/candidates": 3})
    verdict = one_dataset(label="inconclusive", reason="undecided", n_gru=15, n_lstm=15, seeds_needed=5,
                          effect=-0.0126, sd_log_gru=0.0189, sd_log_lstm=0.0212, **_FINE)
    assert check.problem(SweepEdit(("confirm", "max_seeds"), 123)) is not None
    text = " ".join(next_steps(verdict, check))
    assert "(`confirm.max_seeds`)" in text and "max_seeds: 123" not in text, text


def test_log1p_on_a_series_with_negative_values_is_refused_like_validate_refuses_it() -> None:
    check = _check(QUICKSTART)
    refused = check.problem(check.space_edit("damped", "transform", {"choice": ["none", "log1p"]}))
    assert refused is not None and "negative values" in refused
    assert check.widened("damped", "transform", ["log1p"]) is None


def test_early_stopping_is_not_advised_when_the_sweep_ran_with_it() -> None:
    check = _check(QUICKSTART, **{"search_space/transform": {"choice": ["none", "diff"]}})
    rounds = Rounds(stop="futility", why="no decision reachable", rounds=1, max_rounds=8, max_seeds=40, path=[])
    scatter = one_dataset(label="inconclusive", reason="undecided", seeds_needed=None, seeds_needed_above=1000,
                          rounds=rounds, **_FINE)
    on = scatter.model_copy(update={"settings": scatter.settings.model_copy(update={"patience": 40})})
    line = next(s for s in next_steps(on, check) if "scatter too much" in s)
    assert "early stopping" not in line and "target transform" not in line and "a lower learning rate" in line
    off = next(s for s in next_steps(scatter, check) if "scatter too much" in s)
    assert "early stopping (`evaluation.patience`)" in off


def test_the_description_carries_the_validated_usefulness_line() -> None:
    check = _check(QUICKSTART)
    v = one_dataset(label="gru", useful=_LOSING, **_FINE)
    v = v.model_copy(update={"next_steps": next_steps(v, check)})
    text = description_md(v)
    assert text.startswith("**Worth using?** damped: use ETS (") and "`loss_fn: {choice: [mse, mae]}`" in text
    assert text.count("use ETS") == 1
