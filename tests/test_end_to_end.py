"""A tiny real sweep: `gatesweep run` with real Ray, real Keras and an embedded SQLite MLflow store."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import DATA, run_gatesweep

SPACE = DATA / "valid" / "tiny_e2e.yaml"
EPOCHS, TRIALS, SEEDS = 6, 2, 3
HPARAMS = {"hidden_size", "num_layers", "window", "optimizer", "learning_rate", "batch_size", "epochs", "transform"}


def _run(cwd: Path, *extra: str) -> tuple[str, Path]:
    """`gatesweep run` of the tiny sweep: its parent run id and its report directory."""
    proc = run_gatesweep(["run", str(SPACE), *extra], cwd)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (cwd / "stdout.txt").write_text(proc.stdout, encoding="utf-8")  # what the user saw
    parent = re.search(r"parent run: ([0-9a-f]{32})", proc.stdout)
    report = re.search(r"report: (.+)/report\.html", proc.stdout)
    assert parent and report, proc.stdout
    return parent.group(1), cwd / report.group(1)


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    cwd = tmp_path_factory.mktemp("sweep")
    parent, report = _run(cwd)
    assert report == cwd / "gatesweep-output" / "tiny-e2e" / report.parent.name / "report"
    assert (cwd / "gatesweep-output" / "tiny-e2e" / "latest" / "report").resolve() == report.resolve()
    return cwd, parent


def _client(cwd: Path):  # noqa: ANN202
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=f"sqlite:///{cwd / 'mlflow.db'}")


@pytest.mark.slow
def test_one_parent_with_children_for_both_architectures_and_phases(sweep: tuple[Path, str]) -> None:
    cwd, parent_id = sweep
    client = _client(cwd)
    exp = client.get_experiment_by_name("tiny-e2e")
    assert exp.tags["mlflow.note.content"].startswith("**gatesweep: GRU or LSTM?** Sweep `tiny-e2e`")
    parents = client.search_runs([exp.experiment_id], "tags.`gatesweep.role` = 'sweep'")
    assert [p.info.run_id for p in parents] == [parent_id]
    children = client.search_runs([exp.experiment_id], f"tags.mlflow.parentRunId = '{parent_id}'")
    counts: dict[tuple[str, ...], int] = {}
    for run in children:
        key = (run.data.tags["gatesweep.arch"], run.data.tags["gatesweep.role"])
        key += (run.data.tags["gatesweep.variant"],) if "gatesweep.variant" in run.data.tags else ()
        counts[key] = counts.get(key, 0) + 1
        assert run.info.status == "FINISHED"
    # both tune trials of each cell are candidates, each retrained with 3 selection seeds
    assert counts == {("gru", "trial"): TRIALS, ("lstm", "trial"): TRIALS,
                      ("gru", "select"): TRIALS * 3, ("lstm", "select"): TRIALS * 3,
                      ("gru", "confirm"): SEEDS, ("lstm", "confirm"): SEEDS,
                      ("gru", "confirm", "param_matched"): SEEDS}


@pytest.mark.slow
def test_tune_keeps_its_json_and_csv_logs_but_writes_no_tensorboard_files(sweep: tuple[Path, str]) -> None:
    cwd, _ = sweep
    trial_dirs = [d for d in (cwd / "gatesweep-output" / "tiny-e2e" / "latest" / "ray_results").glob("*/*")
                  if d.is_dir() and (d / "params.json").exists()]
    assert len(trial_dirs) >= 2 * TRIALS
    for d in trial_dirs:
        assert (d / "result.json").stat().st_size > 0 and (d / "progress.csv").exists(), d
        assert not list(d.glob("events.out.tfevents*")), d


@pytest.mark.slow
def test_children_follow_the_mlflow_contract(sweep: tuple[Path, str]) -> None:
    cwd, parent_id = sweep
    client = _client(cwd)
    exp = client.get_experiment_by_name("tiny-e2e")
    for run in client.search_runs([exp.experiment_id], f"tags.mlflow.parentRunId = '{parent_id}'"):
        tags, params, metrics = run.data.tags, run.data.params, run.data.metrics
        assert tags["gatesweep.dataset"] == "damped" and tags["gatesweep.seed"].isdigit()
        assert HPARAMS <= set(params)
        assert params["strategy"] == "direct" and params["horizon"] == "1"
        confirm = tags["gatesweep.role"] == "confirm"
        # a confirm run is the final fit on train + validation: for the epochs early stopping chose, no validation
        assert params["fit_on"] == ("train+validation" if confirm else "train")
        assert int(params["epochs"]) == EPOCHS if not confirm else 1 <= int(params["epochs"]) <= EPOCHS
        assert params["patience"] == ("none" if confirm else "4")
        for key in ("n_params", "seconds_per_epoch", "train_seconds") + (() if confirm else ("val_rmse",)):
            assert key in metrics, key  # the design's names, bare
        if confirm:
            assert not {"val_rmse", "val_mase"} & set(metrics)
            assert metrics["system/epochs_trained"] == int(params["epochs"])  # no early stop in a final fit
        # how the run went sits on MLflow's System metrics tab, so the run page opens on curves and scores
        assert {"system/epochs_trained", "system/compile_seconds", "system/train_windows"} <= set(metrics)
        assert not {"epochs_trained", "compile_seconds", "train_windows"} & set(metrics)
        if tags["gatesweep.role"] == "confirm":
            for key in ("test_rmse", "test_mase", "closed_loop_rmse"):
                assert key in metrics, key
        else:
            assert "test_mase" not in metrics  # the tune and selection phases never see the test split
        for name in ("loss",) if confirm else ("loss", "val_loss", "epoch_val_mase"):  # (patience 4 may stop early)
            history = sorted(client.get_metric_history(run.info.run_id, name), key=lambda m: m.step)
            assert [m.step for m in history] == list(range(int(metrics["system/epochs_trained"])))
            # each row stamped with the time its epoch ended, within the run's span
            stamps = [m.timestamp for m in history]
            assert stamps == sorted(stamps) and run.info.start_time <= stamps[0] <= stamps[-1] <= run.info.end_time
            assert len(stamps) < 2 or stamps[0] < stamps[-1]  # not all stamped at the end of the run
        expected = {"gru": 3 * (h := int(params["hidden_size"])) * (h + 1 + 2), "lstm": 4 * h * (h + 1 + 1)}
        assert metrics["n_params"] == expected[tags["gatesweep.arch"]] + h + 1


@pytest.mark.slow
def test_report_artifacts_tags_and_copy_in_out(sweep: tuple[Path, str]) -> None:
    cwd, parent_id = sweep
    client = _client(cwd)
    names = {a.path for a in client.list_artifacts(parent_id, "report")}
    assert names == {"report/report.html", "report/summary.md", "report/verdict.json", "report/figures"}
    figures = {a.path for a in client.list_artifacts(parent_id, "report/figures")}
    assert {"report/figures/forecasts_damped.png"} <= figures  # the forecasts against actuals, for summary.md
    assert "report.html" in {a.path for a in client.list_artifacts(parent_id)}  # also at the root, one click away
    tags = client.get_run(parent_id).data.tags
    verdict = json.loads((cwd / "gatesweep-output" / "tiny-e2e" / "latest" / "report" / "verdict.json").read_text())
    assert tags["gatesweep.verdict.damped"] == verdict["datasets"][0]["label"]
    assert tags["gatesweep.verdict"] == verdict["overall"]["label"]
    assert verdict["datasets"][0]["label"] in {"gru", "lstm", "equivalent", "inconclusive"}
    assert verdict["datasets"][0]["n_gru"] == SEEDS  # the parameter-matched GRU runs stay out of the verdict
    matched = verdict["sensitivity"]["param_matched"]["damped"]
    assert matched["label"] in {"gru", "lstm", "equivalent", "inconclusive"}
    assert verdict["datasets"][0]["dm"]["available"] is True
    html = (cwd / "gatesweep-output" / "tiny-e2e" / "latest" / "report" / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 3 and "closed-loop generation" in html
    # the seed ensemble tested against every baseline of baselines.json; the tag and the run name carry the answer
    useful = verdict["datasets"][0]["useful"]
    assert tags["gatesweep.useful.damped"] == useful["useful"] and useful["ensemble_mase"]["gru"] is not None
    assert useful["useful"] == "untestable" or set(useful["p_values"]) == set(useful["baseline_mase"])
    assert f"useful: {useful['useful']}" in client.get_run(parent_id).info.run_name
    # schema 4: nothing a reader sees is NaN or infinity; the report stage finished the parent, untagged
    assert verdict["schema_version"] == 6 and not re.search(r"\b(nan|inf)\b", re.sub(r"base64,[^']+", "", html))
    assert client.get_run(parent_id).info.status == "FINISHED" and "gatesweep.report_failed" not in tags


@pytest.mark.slow
def test_report_command_rebuilds_the_same_verdict_from_mlflow_alone(sweep: tuple[Path, str]) -> None:
    cwd, parent_id = sweep
    proc = run_gatesweep(["report", parent_id, "--out", "rebuilt"], cwd)
    assert proc.returncode == 0, proc.stderr[-3000:]
    original = (cwd / "gatesweep-output" / "tiny-e2e" / "latest" / "report" / "verdict.json").read_bytes()
    assert (cwd / "rebuilt" / "report" / "verdict.json").read_bytes() == original


def _child_keys(uri: str, parent_id: str) -> list[str]:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("tiny-e2e")
    runs = client.search_runs([exp.experiment_id], f"tags.mlflow.parentRunId = '{parent_id}'")
    assert all(r.info.status == "FINISHED" for r in runs)
    return sorted(r.data.tags["gatesweep.key"] for r in runs)


@pytest.mark.slow
def test_the_same_sweep_again_in_the_same_directory_loses_nothing(sweep: tuple[Path, str]) -> None:
    """Run twice in one directory and one store: both parents keep every child, each its own report.
    (A third run into another store was dropped to keep CI under 45 minutes; the outbox's per-parent
    records are what made both cases work, and `tests/pipeline/tracking/test_outbox.py` covers them directly.)"""
    cwd, first = sweep
    first_dir = Path(_client(cwd).get_run(first).data.tags["gatesweep.out_dir"])
    original = (first_dir / "report" / "verdict.json").read_bytes()
    second, second_report = _run(cwd)
    assert second != first and second_report.resolve() != (first_dir / "report").resolve()
    expected = _child_keys(f"sqlite:///{cwd / 'mlflow.db'}", first)
    assert len(expected) == 2 * TRIALS + 2 * TRIALS * 3 + 3 * SEEDS
    assert _child_keys(f"sqlite:///{cwd / 'mlflow.db'}", second) == expected
    # the first sweep's report, rebuilt from MLflow after the others ran, is the same to the byte
    proc = run_gatesweep(["report", first, "--out", "first-again"], cwd)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (cwd / "first-again" / "report" / "verdict.json").read_bytes() == original


@pytest.mark.slow
def test_the_printed_mlflow_link_opens_on_the_verdict_and_leads_to_the_report_and_the_runs(
        sweep: tuple[Path, str]) -> None:
    """The `MLflow:` line as printed, in headless Chromium against `mlflow ui` over the sweep's store: the
    run page in the machine-learning view with the verdict at the top, the description's report link
    opening the report in MLflow's artifact viewer, and the runs table one click from the run and from the
    experiment's description (the experiment page itself opens on MLflow's GenAI overview)."""
    import os
    import signal
    import subprocess
    import sys
    import time
    import urllib.parse
    import urllib.request

    from pipeline.dev.mlflow_server import free_port, stop_group
    from pipeline.tracking.contract import RunsView
    from tests.reports.test_report_browser import FLAGS, _chromium_or_skip

    chromium = _chromium_or_skip()
    from playwright.sync_api import sync_playwright

    cwd, _ = sweep
    printed = re.search(r"MLflow: mlflow ui (--backend-store-uri \S+) \(then http://127\.0\.0\.1:5000(/\S+)\)",
                        (cwd / "stdout.txt").read_text(encoding="utf-8"))
    assert printed, "no MLflow line printed"
    port = free_port()
    ui = subprocess.Popen([str(Path(sys.executable).with_name("mlflow")), "ui", *printed.group(1).split(),
                           "--host", "127.0.0.1", "--port", str(port), "--workers", "1"], cwd=cwd,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                          env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"{url}/health", timeout=2).close()
                break
            except OSError:
                assert time.monotonic() < deadline and ui.poll() is None, "mlflow ui did not come up"
                time.sleep(0.3)
        parent_id = printed.group(2).split("/runs/")[1].split("?")[0]
        note = _client(cwd).get_run(parent_id).data.tags["mlflow.note.content"]
        # the verdict's line (after "Worth using?", whose markdown renders its code spans without backticks)
        verdict_line = next(ln for ln in note.splitlines() if ln.startswith("**gatesweep verdict:")).replace("**", "")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=FLAGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(url + printed.group(2))
            top = page.get_by_text("gatesweep verdict:").first
            top.wait_for(timeout=60_000)
            body = page.inner_text("body")
            assert verdict_line in body
            assert "Model metrics" in body and "Evaluation runs" not in body  # not the GenAI view
            top.scroll_into_view_if_needed()  # MLflow 3.17 puts the description below the run's details
            assert top.is_visible()
            # the description's report link (MLflow opens description links in a new tab): the artifact
            # viewer with the report in its frame
            with page.context.expect_page() as opened:
                page.get_by_role("link", name="report.html").first.click()
            tab = opened.value
            deadline = time.monotonic() + 60
            while not any("Decision" in (f.content() or "") for f in tab.frames[1:]):
                assert time.monotonic() < deadline, "the report did not open in the artifact viewer"
                tab.wait_for_timeout(300)
            # one click to every run of the sweep from the run page
            page.goto(url + printed.group(2))
            with page.context.expect_page() as opened:
                page.get_by_role("link", name="every run of the sweep").first.click()
            tab = opened.value
            tab.get_by_text("tiny-e2e-sweep").first.wait_for(timeout=60_000)
            assert "Run Name" in tab.inner_text("body")
            # the experiment page opens on MLflow's GenAI overview, whose first-visit popup covers the page;
            # its description carries the link to the runs table (followed here by its address)
            experiment = printed.group(2).split("/experiments/")[1].split("/")[0]
            page.goto(f"{url}/#/experiments/{experiment}")
            link = page.locator("a", has_text="Open the runs table").first  # the popup hides the page from roles
            link.wait_for(timeout=60_000)
            # the runs table opens on gatesweep's columns (MLflow's shared view, written on the experiment)
            assert link.get_attribute("href") == f"#/experiments/{experiment}/runs?{RunsView.query()}"
            page.goto(f"{url}/{link.get_attribute('href')}")
            page.get_by_text("tiny-e2e-sweep").first.wait_for(timeout=60_000)
            assert "Run Name" in page.inner_text("body") and "Evaluation runs" not in page.inner_text("body")
            # a confirm run's charts: the Model metrics tab holds the curves and the scores, in one section
            # (MLflow draws any `<prefix>/` section above it); how the run went is on the System metrics tab
            runs = _client(cwd).search_runs([experiment], f"tags.mlflow.parentRunId = '{parent_id}' and "
                                            "tags.`gatesweep.role` = 'confirm'")
            confirm = f"{url}/#/experiments/{experiment}/runs/{runs[0].info.run_id}"
            page.goto(f"{confirm}/model-metrics?workflowType=machine_learning")
            page.get_by_text("test_mase").first.wait_for(timeout=60_000)
            charts = page.inner_text("body")
            assert "Model metrics" in charts and "loss" in charts and "epochs_trained" not in charts
            assert "Add section" in charts and charts.count("Add chart") == 1, charts  # one section
            page.goto(f"{confirm}/system-metrics?workflowType=machine_learning")
            page.get_by_text("epochs_trained").first.wait_for(timeout=60_000)
            # the compare view's parallel coordinates open on the score the runs are judged by
            ids = urllib.parse.quote(json.dumps([r.info.run_id for r in runs[:2]]))
            page.goto(f"{url}/#/compare-runs?runs={ids}&experiments={urllib.parse.quote(json.dumps([experiment]))}")
            page.get_by_text("Metrics:").first.wait_for(timeout=60_000)
            assert re.search(r"Metrics:\s*test_mase\s*Clear All", page.inner_text("body")), page.inner_text("body")
            browser.close()
    finally:
        stop_group(ui, signal.SIGTERM)
