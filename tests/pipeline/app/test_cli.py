from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import DATA, ROOT, run_gatesweep


@pytest.mark.parametrize("command", ["validate", "run"])
@pytest.mark.parametrize("name", ["negative_hidden.yaml", "unknown_key.yaml", "window_too_long.yaml",
                                  "csv_time_gap.yaml"])
def test_bad_input_is_one_line_exit_2_and_nothing_started(tmp_path: Path, command: str, name: str) -> None:
    path = DATA / "invalid" / name
    proc = run_gatesweep([command, str(path)], tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert list(tmp_path.iterdir()) == []  # no mlflow.db, no output directory, no Ray results


def test_validate_prints_the_plan(tmp_path: Path) -> None:
    proc = run_gatesweep(["validate", str(ROOT / "search_spaces" / "quickstart.yaml")], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "16 in all" in proc.stdout and "10 runs" in proc.stdout
    # confirm rounds may buy more seeds: the plan says how many runs at most (5 per round up to 40 per cell)
    assert "rounds of 5 more seeds per cell up to 40: at most 80 runs" in proc.stdout
    assert "final fit: confirm runs and the baselines are fitted on train + validation" in proc.stdout


@pytest.mark.parametrize(("step", "note"), [("", "9 validation origins choose the configurations (noisy on one "
                                                "series); `origin_step: 3` would give 33"), (", origin_step: 3", None)])
def test_validate_says_when_one_series_has_few_validation_origins(tmp_path: Path, step: str, note: str | None) -> None:
    """elnino 12 months ahead from origins a year apart: 9 validation origins picked configurations by noise."""
    sweep = tmp_path / "s.yaml"
    sweep.write_text(f"name: s\ndatasets:\n  - {{name: elnino, source: elnino, horizon: 12, season: 12{step}}}\n")
    proc = run_gatesweep(["validate", str(sweep)], tmp_path)
    assert proc.returncode == 0, proc.stderr
    said = [ln for ln in proc.stdout.splitlines() if "note: dataset elnino" in ln]
    assert said == ([f"  note: dataset elnino: {note} (and more test origins)"] if note else []), proc.stdout


def test_bad_override_is_rejected_before_training(tmp_path: Path) -> None:
    proc = run_gatesweep(["train", str(DATA / "valid" / "minimal.yaml"), "--set", "hidden_size=-3"], tmp_path)
    assert proc.returncode == 2 and "hidden_size" in proc.stderr and "Traceback" not in proc.stderr


def test_override_that_the_data_cannot_take_is_one_line_exit_2(tmp_path: Path) -> None:
    """window 150 on the quickstart's 200-point series leaves no training windows: said before training."""
    proc = run_gatesweep(["train", str(ROOT / "search_spaces" / "quickstart.yaml"), "--set", "window=150"], tmp_path)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "--set window: window 150 leaves 0 training windows for dataset 'damped'" in lines[0]


def test_unknown_command_line_option_is_one_line(tmp_path: Path) -> None:
    proc = run_gatesweep(["run", "--no-such-flag"], tmp_path)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1


def test_train_runs_one_trial_in_process(tmp_path: Path) -> None:
    proc = run_gatesweep(["train", str(DATA / "valid" / "minimal.yaml"), "--arch", "lstm", "--set", "epochs=2",
                 "--set", "hidden_size=8"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads(proc.stdout)
    assert metrics["arch"] == "lstm" and metrics["hidden_size"] == 8 and metrics["epochs"] == 2
    assert metrics["n_params"] == 4 * (8 * 8 + 8 * 1 + 8) + 9 and metrics["test_mase"] > 0
    assert not (tmp_path / "mlflow.db").exists()


def test_report_of_unknown_run_is_bad_input(tmp_path: Path) -> None:
    proc = run_gatesweep(["report", "0123456789abcdef0123456789abcdef"], tmp_path)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr


@pytest.mark.parametrize("argv", [["report", "abc"], ["export", "abc"], ["forecast", "m"], ["resume", "abc"],
                                  ["run", str(ROOT / "search_spaces" / "quickstart.yaml")]], ids=lambda a: a[0])
@pytest.mark.parametrize("uri", ["file:///tmp/x/mlruns", "./mlruns"])
def test_a_file_store_is_one_line_exit_2_with_the_way_out(argv: list[str], uri: str, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """MLflow 3 refuses a file store in a traceback; gatesweep says it in one line, with the migration, before
    anything starts."""
    from pipeline.app.cli import main

    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main([*argv, "--tracking-uri", uri]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: --tracking-uri {uri}: a file store") and \
        "mlflow migrate-filestore --source" in err[0] and "MLFLOW_ALLOW_FILE_STORE=true" in err[0], err
    assert list(tmp_path.iterdir()) == []  # nothing made


@pytest.mark.parametrize("path", sorted((DATA / "invalid").glob("*.yaml")), ids=lambda p: p.name)
def test_every_invalid_file_exits_2_with_one_line(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pipeline.app.cli import main

    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {path}: ") and "Traceback" not in err[0]


@pytest.mark.slow
def test_bench_prints_the_three_loops_side_by_side(tmp_path: Path) -> None:
    proc = run_gatesweep(["bench", "--epochs", "2", "--arch", "gru", "--points", "3",
                          "--json", str(tmp_path / "b.json")], tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    figures = json.loads((tmp_path / "b.json").read_text())["gru"]
    for loop in ("seed_keras_fit", "gatesweep", "minimal_xla"):
        assert figures[loop]["ms_per_epoch"] > 0 and f"gru   {loop}" in proc.stdout
    assert figures["speedup_vs_seed"] == pytest.approx(
        figures["seed_keras_fit"]["ms_per_epoch"] / figures["gatesweep"]["ms_per_epoch"])


def _sweep_on_disk(tmp_path: Path, *, tag_dir: bool = True) -> tuple[str, str, Path]:
    """A parent run in a SQLite store and the output directory its sweep would have left."""
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    out = tmp_path / "out"
    tags = {"gatesweep.role": "sweep"} | ({"gatesweep.out_dir": str(out)} if tag_dir else {})
    run_id = client.create_run(client.create_experiment("s"), tags=tags).info.run_id
    _state(out, run_id)
    return uri, run_id, out


def _state(out: Path, parent_run_id: str, phase: str = "done") -> None:
    """A sweep state file as `gatesweep run` leaves it."""
    from pipeline.core.config import load_spec
    from pipeline.tracking.state import SweepState

    SweepState(tracking_uri="sqlite:///mlflow.db", experiment="s", parent_run_id=parent_run_id, phase=phase,
               spec_path="minimal.yaml", spec=load_spec(DATA / "valid" / "minimal.yaml")).save(out)


def test_resume_finds_the_sweep_by_directory_or_parent_run_id(tmp_path: Path) -> None:
    from pipeline.app.cli import sweep_dir

    uri, run_id, out = _sweep_on_disk(tmp_path)
    assert sweep_dir(str(out), uri) == out
    assert sweep_dir(run_id, uri) == out


@pytest.mark.parametrize("case", ["no_state", "unknown_run", "untagged", "moved", "reused"])
def test_resume_target_that_cannot_be_resumed_is_bad_input(tmp_path: Path, case: str) -> None:
    from pipeline.app.cli import UsageError, sweep_dir
    from pipeline.core.errors import BadReference

    uri, run_id, out = _sweep_on_disk(tmp_path, tag_dir=case != "untagged")
    target, expect = run_id, "gatesweep.out_dir"
    if case == "no_state":
        target, expect = str(tmp_path), "RUN_OR_DIR: neither"
    elif case == "unknown_run":
        target, expect = "0" * 32, f"run {'0' * 32}"
    elif case == "moved":
        (out / "sweep_state.json").unlink()
        expect = "no sweep_state.json"
    elif case == "reused":
        _state(out, "f" * 32)
        expect = "another sweep"
    with pytest.raises((UsageError, BadReference), match=expect):
        sweep_dir(target, uri)


@pytest.mark.parametrize("command", ["resume", "sync"])
def test_resume_and_sync_of_an_unknown_run_are_one_line_exit_2(tmp_path: Path, command: str,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from pipeline.app.cli import main

    uri, _, _ = _sweep_on_disk(tmp_path)
    capsys.readouterr()  # MLflow's own lines from creating the store above
    assert main([command, "0" * 32, "--tracking-uri", uri]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"run {'0' * 32}" in err[0] and "Traceback" not in err[0]


def test_run_into_a_home_with_an_unfinished_sweep_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "gatesweep-output" / "tiny-e2e"
    stopped = home / "20260101-000000-abcdef12"
    stopped.mkdir(parents=True)
    _state(stopped, "ab" * 16, phase="tune")
    (home / "latest").symlink_to(stopped.name)
    proc = run_gatesweep(["run", str(DATA / "valid" / "tiny_e2e.yaml")], tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "unfinished sweep" in lines[0] and f"gatesweep resume {stopped}" in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gatesweep-output"]  # no mlflow.db: nothing started


@pytest.mark.parametrize("argv, words", [(["--series", "0"], "--series must be >= 1"),
                                         (["--space", "no-such.yaml"], "no-such.yaml")])
def test_benchmark_bad_options_are_one_line_exit_2(argv: list[str], words: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from pipeline.main import main  # the console entry point: the only one that has `bench`

    assert main(["bench", "--benchmark", "m3-monthly", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0], err


def test_benchmark_baselines_on_a_sample_of_m3_monthly(tmp_path: Path) -> None:
    """The competition's protocol on 3 M3 monthly series: every baseline scored, the published figures beside."""
    from pipeline.dev.competition import competition_benchmark, format_competition

    r = competition_benchmark("m3-monthly", tmp_path, series=3, networks=False)
    assert r["series"] == 3 and r["horizon"] == 18 and r["final_fit"] == "train+validation"
    assert [b["method"] for b in r["baselines"]] == ["naive", "seasonal_naive", "ar", "ets", "arima", "theta"]
    assert all(0 < b["smape"] < 200 and b["mase"] > 0 for b in r["baselines"])
    text = format_competition(r)
    assert "m3-monthly: 3 series, h = 18, season 12" in text and "14.14" in text and "cf55bb0" in text


@pytest.mark.parametrize("argv", [["--trials", "1"], ["--trial-epochs", "0"]])
def test_orchestration_bench_bad_sizes_are_one_line_exit_2(argv: list[str],
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    from pipeline.main import main  # the console entry point: the only one that has `bench`

    assert main(["bench", "--orchestration", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--trials" in err[0], err


@pytest.mark.parametrize("command", ["run", "nightly"])
def test_an_output_home_that_cannot_be_made_is_one_line_exit_2_before_anything_starts(tmp_path: Path,
                                                                                       command: str) -> None:
    (tmp_path / "blocker").write_text("a file where the sweep's home should be\n")
    extra = ["--lock-dir", str(tmp_path / "locks")] if command == "nightly" else []
    proc = run_gatesweep([command, str(DATA / "valid" / "minimal.yaml"), "--out", "blocker/home", *extra], tmp_path)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert lines[0] == f"error: blocker/home: --out: {tmp_path / 'blocker'} is a file, not a directory"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker"]  # no mlflow.db, no Ray results, no lock
