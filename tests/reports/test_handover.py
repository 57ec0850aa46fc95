"""The hand-over from MLflow alone: confirm runs written by the sweep's own tracker (from their outbox records)
keep their networks; the registered seed ensemble, loaded by URI, forecasts the sweep's test origins exactly as
the runs' stored forecasts combine, forecasts past each series' end with intervals, and says what is wrong with
bad input in one line."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from pipeline.core.config import SplitSpec
from pipeline.core.handover import ForecastInputError
from pipeline.core.hparams import HParams
from pipeline.core.jobs import Job
from pipeline.core.outcome import TrialOutcome
from pipeline.core.scoring import Scoring
from pipeline.core.training import fit_and_score
from pipeline.tracking.records import RunRecord
from pipeline.tracking.tracker import SweepTracker

SEASON, N, HORIZON = 6, 150, 3
T = np.arange(N)
SERIES = 20 + 0.05 * T + 3 * np.sin(2 * np.pi * T / SEASON) + np.random.default_rng(5).normal(0, 0.5, N)
HP = HParams.of("gru", dict(hidden_size=8, window=12, batch_size=16, epochs=4, optimizer="adam",
                            learning_rate=0.01, transform="stl", normalize="window"))


def _store(tmp_path: Path, seeds: int = 3) -> tuple[Any, str, pd.DataFrame]:
    """A parent run and `seeds` confirm runs written by `SweepTracker.log_child` from JSON outbox records."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with contextlib.chdir(tmp_path):  # the store's artifact root, MLflow's ./mlruns when it opens: not the checkout
        tracker = SweepTracker(uri, "handover")
        tracker.check()
    parent = tracker.client.create_run(tracker.experiment_id, run_name="handover-sweep",
                                       tags={"gatesweep.role": "sweep"})
    tracker.parent_id, tracker.horizons = parent.info.run_id, {"sim": HORIZON}
    rows = []
    for seed in range(seeds):
        result = fit_and_score(HP, SERIES, Scoring(season=SEASON, horizon=HORIZON, origin_step=1), seed=seed,
                               evaluate_test=True, keep_model=True, refit=True)
        job = Job(phase="confirm", dataset="sim", hp=HP, index=seed, seed=seed)
        raw = json.loads(json.dumps({**result.metrics, "forecasts": result.forecasts, "model": result.model}))
        record = RunRecord.from_outcome(TrialOutcome.of(job, "FINISHED", None, raw), raw, history={})
        run_id = tracker.log_child(RunRecord.model_validate_json(record.model_dump_json()))
        run = tracker.client.get_run(run_id)
        rows.append({"run_id": run_id, "artifact_uri": run.info.artifact_uri, "dataset": "sim", "arch": "gru",
                     "test_pred": result.forecasts["test_pred"]})  # type: ignore[index]
    return tracker.client, parent.info.run_id, pd.DataFrame(rows)


@pytest.fixture(scope="module")
def registered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, str, pd.DataFrame, str]:
    from reports.handover import register_network

    client, parent, runs = _store(tmp_path_factory.mktemp("store"))
    tag = register_network(client, parent, "handover", "sim", "gru", "median", runs)
    return client, parent, runs, tag


def _sizes(client: Any, run_id: str, path: str) -> dict[str, int]:
    """Every file under `path` of a run's artifacts and its size."""
    out = {}
    for a in client.list_artifacts(run_id, path):
        out |= _sizes(client, run_id, a.path) if a.is_dir else {a.path: a.file_size}
    return out


def test_each_confirm_run_is_a_pyfunc_model_that_forecasts_its_test_origins_as_it_did(
        registered: tuple[Any, str, pd.DataFrame, str], tmp_path: Path) -> None:
    """`runs:/<confirm run>/model`, loaded from MLflow alone (the history too: the run's forecasts.json), forecasts
    the run's test origins exactly as the run stored them; it keeps no copy of the series, and says it needs one."""
    import mlflow

    client, _, runs, _ = registered
    run_id = runs["run_id"][1]
    files = _sizes(client, run_id, "model")
    net = f"model/artifacts/ensemble/networks/{run_id}"
    assert {"model/MLmodel", "model/requirements.txt", f"{net}/state.json", f"{net}/weights.npz"} <= set(files)
    assert files[f"{net}/weights.npz"] < 10_000 and sum(files.values()) < 20_000  # a GRU of 8 units: a few KB
    stored = json.loads(Path(client.download_artifacts(run_id, "forecasts.json", str(tmp_path))).read_text())
    mlflow.set_tracking_uri(client.tracking_uri)
    try:
        model = mlflow.pyfunc.load_model(f"runs:/{run_id}/model")
    finally:
        mlflow.set_tracking_uri("")
    # logged from code (nothing pickled), with a signature and the requirements given, not inferred
    assert model.metadata.signature is not None
    assert model.metadata.flavors["python_function"]["loader_module"] == "mlflow.pyfunc.loaders.code_model"
    requirements = Path(client.download_artifacts(run_id, "model/requirements.txt", str(tmp_path))).read_text()
    assert [r.split("==")[0] for r in requirements.split()] == ["mlflow", "tensorflow", "keras", "numpy", "pandas",
                                                                "pydantic"]
    out = model.predict(pd.DataFrame({"id": "series", "value": stored["truth"]}), params={"origins": "test"})
    np.testing.assert_array_equal(out["forecast"].to_numpy(), stored["test_pred"])
    ensemble = model.unwrap_python_model().ensemble
    assert ensemble.info.runs == [run_id] and ensemble.info.series[0].values == []
    assert ensemble.info.test_mase == pytest.approx(client.get_run(run_id).data.metrics["test_mase"], rel=1e-9)
    with pytest.raises(ForecastInputError, match=r"the model keeps no history .*; pass --data$"):
        ensemble.default_frame()


def test_the_hand_over_reads_networks_kept_as_plain_files_before(registered: tuple[Any, str, pd.DataFrame, str],
                                                                 tmp_path: Path) -> None:
    """A store written before confirm runs were models: each run's network is `model/state.json` and
    `model/weights.npz`; the hand-over registers their ensemble from them all the same."""
    from pipeline.tracking.mlflow_io import write_artifact, write_artifact_bytes
    from pipeline.tracking.run_model import read_network
    from reports.handover import register_network

    client, parent, runs, _ = registered
    experiment = client.get_run(parent).info.experiment_id
    old, networks = [], {}
    for run_id, uri in zip(runs["run_id"], runs["artifact_uri"], strict=True):
        run = client.create_run(experiment)
        network = read_network(client, uri, run_id)
        assert network is not None
        write_artifact_bytes(client, run.info.artifact_uri, "model/state.json", network[0].encode())
        write_artifact_bytes(client, run.info.artifact_uri, "model/weights.npz", network[1])
        write_artifact(client, run.info.artifact_uri, "forecasts.json",
                       Path(client.download_artifacts(run_id, "forecasts.json", str(tmp_path))).read_text())
        old.append({**runs[runs["run_id"] == run_id].iloc[0].to_dict(), "run_id": run.info.run_id,
                    "artifact_uri": run.info.artifact_uri})
        networks[run.info.run_id] = network
    assert read_network(client, old[0]["artifact_uri"], old[0]["run_id"]) == networks[old[0]["run_id"]]
    before = client.create_run(experiment).info.run_id
    assert register_network(client, before, "handover-before", "sim", "gru", "median",
                            pd.DataFrame(old)) == "models:/handover-before.sim/1 (champion)"
    local = Path(client.download_artifacts(before, "models/sim/artifacts/ensemble/networks", str(tmp_path)))
    assert {p.name: (p / "weights.npz").read_bytes() for p in local.iterdir()} == {
        r: w for r, (_, w) in networks.items()}


def test_the_registered_ensemble_reproduces_the_runs_test_forecasts(
        registered: tuple[Any, str, pd.DataFrame, str]) -> None:
    import mlflow

    client, _, runs, tag = registered
    assert tag == "models:/handover.sim/1 (champion)"
    mlflow.set_tracking_uri(client.tracking_uri)
    try:
        model = mlflow.pyfunc.load_model("models:/handover.sim@champion")
    finally:
        mlflow.set_tracking_uri("")
    frame = pd.DataFrame({"id": "series", "value": SERIES})
    out = model.predict(frame, params={"origins": "test"})
    expected = np.median(np.stack([np.asarray(p) for p in runs["test_pred"]]), axis=0)
    np.testing.assert_array_equal(out["forecast"].to_numpy(), expected)
    assert out["step"].tolist()[:HORIZON] == [1, 2, 3]
    ahead = model.predict(frame)
    assert len(ahead) == HORIZON and (ahead["origin"] == N).all()
    assert (ahead["lo_95"] <= ahead["lo_80"]).all() and (ahead["lo_80"] < ahead["forecast"]).all()
    assert (ahead["forecast"] < ahead["hi_80"]).all() and (ahead["hi_80"] <= ahead["hi_95"]).all()


def test_bad_input_is_one_line(registered: tuple[Any, str, pd.DataFrame, str], tmp_path: Path) -> None:
    from pipeline.core.ensemble import SeedEnsemble

    client, parent, _, _ = registered
    local = Path(client.download_artifacts(parent, "models/sim", str(tmp_path)))
    ensemble = SeedEnsemble.load(local / "artifacts" / "ensemble")
    with pytest.raises(ForecastInputError, match=r"^series 'series': 5 values; the model reads the last 12"):
        ensemble.predict_frame(pd.DataFrame({"id": "series", "value": SERIES[:5]}))
    with pytest.raises(ForecastInputError, match=r"^series 'elsewhere': the model was not trained on it"):
        ensemble.predict_frame(pd.DataFrame({"id": "elsewhere", "value": SERIES}))
    with pytest.raises(ForecastInputError, match=r"^missing column 'value'"):
        ensemble.predict_frame(pd.DataFrame({"id": "series", "y": SERIES}))


def test_a_missing_covariate_is_one_line(registered: tuple[Any, str, pd.DataFrame, str], tmp_path: Path) -> None:
    from pipeline.core.ensemble import SeedEnsemble

    client, parent, _, _ = registered
    local = Path(client.download_artifacts(parent, "models/sim", str(tmp_path)))
    ensemble = SeedEnsemble.load(local / "artifacts" / "ensemble")
    ensemble.info = ensemble.info.model_copy(update={"covariates": (["price"], [])})
    with pytest.raises(ForecastInputError, match=r"^missing covariate 'price' \(the frame has id, value\)$"):
        ensemble.predict_frame(pd.DataFrame({"id": "series", "value": SERIES}))


def test_gatesweep_forecast_from_a_model_or_a_parent_run(registered: tuple[Any, str, pd.DataFrame, str],
                                                          tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pipeline.app.cli import main
    from pipeline.tracking.contract import Tags

    client, parent, runs, tag = registered
    uri = ["--tracking-uri", client.tracking_uri]
    out = tmp_path / "f.csv"
    assert main(["forecast", "models:/handover.sim@champion", "--out", str(out), *uri]) == 0
    table = pd.read_csv(out)
    assert table.columns.tolist() == ["id", "step", "forecast", "lo_80", "hi_80", "lo_95", "hi_95"]
    assert table["step"].tolist() == [1, 2, 3]
    # a parent run from before models were logged (the upload tagged it; take the tag away): one line, exit 2
    client.delete_tag(parent, Tags.model_of("sim"))
    capsys.readouterr()
    assert main(["forecast", parent, *uri]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "this sweep was written before models were logged" in err[0]
    client.set_tag(parent, Tags.model_of("sim"), tag)
    assert main(["forecast", parent, "--out", str(tmp_path / "g.csv"), *uri]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "g.csv"), table)
    # a history shorter than the window, and a series the model does not know
    short = tmp_path / "short.csv"
    pd.DataFrame({"value": SERIES[:5]}).to_csv(short, index=False)
    other = tmp_path / "other.csv"
    pd.DataFrame({"id": "elsewhere", "value": SERIES}).to_csv(other, index=False)
    for data, says in ((short, "the model reads the last 12"), (other, "the model was not trained on it")):
        capsys.readouterr()
        assert main(["forecast", "handover.sim/1", "--data", str(data), *uri]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and says in err[0], err
    # one confirm run's network: it keeps no history, so it forecasts the data it is given
    run = f"runs:/{runs['run_id'][0]}/model"
    capsys.readouterr()
    assert main(["forecast", run, *uri]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "the model keeps no history" in err[0] and "pass --data" in err[0], err
    whole = tmp_path / "whole.csv"
    pd.DataFrame({"value": SERIES}).to_csv(whole, index=False)
    assert main(["forecast", run, "--data", str(whole), "--out", str(tmp_path / "h.csv"), *uri]) == 0
    assert pd.read_csv(tmp_path / "h.csv")["step"].tolist() == [1, 2, 3]
    assert f"(GRU network of confirm run {runs['run_id'][0]})" in capsys.readouterr().err
    # two more years of the same process: the registered ensemble recalibrates its intervals on the newer origins
    t = np.arange(N + 2 * SEASON)
    later = 20 + 0.05 * t + 3 * np.sin(2 * np.pi * t / SEASON) + np.random.default_rng(6).normal(0, 0.5, len(t))
    longer = tmp_path / "longer.csv"
    pd.DataFrame({"value": np.concatenate([SERIES, later[N:]])}).to_csv(longer, index=False)
    assert main(["forecast", "handover.sim/1", "--data", str(longer), "--out", str(tmp_path / "l.csv"), *uri]) == 0
    said = capsys.readouterr().err
    assert "intervals recalibrated (adaptive conformal) on the 12 origins past the sweep's" in said, said
    assert "recalibrated" not in main_line(["forecast", "handover.sim/1", *uri], capsys)  # the sweep's own history


def test_a_series_that_never_went_below_zero_gets_no_interval_below_zero() -> None:
    """Intervals are clipped at 0 for a non-negative history (counts, sales), as the baselines' forecasts are;
    a series with negative values keeps its symmetric interval."""
    from pipeline.core.ensemble import EnsembleInfo, SeedEnsemble, SeriesHistory
    from pipeline.core.handover import History

    info = EnsembleInfo(sweep="s", dataset="d", arch="gru", parent_run_id="p", runs=["r"], horizon=2,
                        half_widths={"80": [1.0, 2.0], "95": [3.0, None]}, calibration_origins=10, test_mase=1.0,
                        series=[SeriesHistory(id=i, values=[0.0], mase_scale=1.0, test_origins=[1])
                                for i in ("sales", "temp")])
    ens = SeedEnsemble(info, [])
    hist = [History("sales", np.array([0.0, 2.0, 1.0]), np.zeros((3, 0)), np.zeros((5, 0))),
            History("temp", np.array([-1.0, 2.0, 1.0]), np.zeros((3, 0)), np.zeros((5, 0)))]
    out = ens._frame(hist, [None, None], [np.array([3]), np.array([3])], [np.array([[0.5, 0.5]])] * 2,
                     info.half_widths)
    sales, temp = out[out["id"] == "sales"], out[out["id"] == "temp"]
    assert sales["lo_80"].tolist() == [0.0, 0.0] and sales["hi_80"].tolist() == [1.5, 2.5]
    assert sales["lo_95"].tolist() == [0.0, 0.0] and sales["hi_95"].tolist() == [3.5, np.inf]
    assert temp["lo_80"].tolist() == [-0.5, -1.5] and temp["lo_95"].tolist() == [-2.5, -np.inf]


def test_deploy_refit_trains_the_same_seeds_on_the_full_history(registered: tuple[Any, str, pd.DataFrame, str]) -> None:
    """`deploy: {refit: true}`: the registered networks are the confirm seeds trained again on every value; the
    model says so, forecasts differently from the confirm runs' ensemble, from after the series' true end, and
    keeps the confirm runs' test MASE and intervals."""
    import mlflow

    from pipeline.tracking.ensemble import REFIT_TAG
    from reports.handover import register_network

    client, parent, runs, _ = registered
    refit_parent = client.create_run(client.get_run(parent).info.experiment_id).info.run_id
    tag = register_network(client, refit_parent, "handover-refit", "sim", "gru", "median",
                           runs.assign(seed=range(len(runs))), refit=SplitSpec())
    assert tag == "models:/handover-refit.sim/1 (champion)"
    version = client.get_model_version("handover-refit.sim", "1")
    assert version.tags[REFIT_TAG] == "true" and "Refit (deploy.refit)" in version.description
    assert client.get_model_version("handover.sim", "1").tags[REFIT_TAG] == "false"
    mlflow.set_tracking_uri(client.tracking_uri)
    try:
        plain = mlflow.pyfunc.load_model("models:/handover.sim/1").unwrap_python_model().ensemble
        refit = mlflow.pyfunc.load_model("models:/handover-refit.sim/1").unwrap_python_model().ensemble
    finally:
        mlflow.set_tracking_uri("")
    assert refit.info.refit and refit.info.refit_through == {"series": f"value {N - 1}"}
    assert refit.info.test_mase == plain.info.test_mase and refit.info.half_widths == plain.info.half_widths
    assert {net.state.series[0].fit for net in refit.networks} == {(0, N)}
    assert all(net.state.series[0].fit[1] < N for net in plain.networks)
    frame = pd.DataFrame({"id": "series", "value": SERIES})
    ahead, before = refit.predict_frame(frame), plain.predict_frame(frame)
    assert (ahead["origin"] == N).all() and ahead["step"].tolist() == [1, 2, 3]
    assert not np.allclose(ahead["forecast"], before["forecast"], rtol=1e-3)


def test_the_report_hands_over_through_the_model_outbox(registered: tuple[Any, str, pd.DataFrame, str],
                                                        tmp_path: Path) -> None:
    """`hand_over`, as the report stage calls it: the useful network's model saved in the sweep's directory, pushed
    through its outbox, the parent tagged; a dataset no network is useful on is tagged why; a second report on the
    same parent registers nothing again."""
    from pipeline.verdict.model import Usefulness
    from reports.handover import hand_over
    from tests.reports.verdicts import stored_verdict

    client, parent, runs, _ = registered
    sweep = client.create_run(client.get_run(parent).info.experiment_id).info.run_id
    useful = Usefulness(useful="gru", ensemble="median", ensemble_mase={"gru": 0.5, "lstm": 0.6}, arch="gru",
                        level=0.025, sentence="sim: use the GRU")
    stored = stored_verdict()
    datasets = [stored.datasets[0].model_copy(update={"dataset": "sim", "useful": useful}),
                stored.datasets[1].model_copy(update={"dataset": "other", "useful": useful.model_copy(
                    update={"useful": "baseline:ets"})})]
    verdict = stored.model_copy(update={"datasets": datasets, "sweep": "outbox"})
    tags = hand_over(client, sweep, verdict, runs, {}, tmp_path)
    assert tags == {"gatesweep.model.other": "none: no network is useful on other (the baseline ets forecasts at "
                                              "least as well)",
                    "gatesweep.model.sim": "models:/outbox.sim/1 (champion)"}
    assert {k: v for k, v in client.get_run(sweep).data.tags.items() if k.startswith("gatesweep.model.")} == tags
    assert (tmp_path / "models" / sweep / "sim" / "MLmodel").exists()
    assert [p.name for p in (tmp_path / "outbox" / "models" / sweep / "done").iterdir()] == ["sim.json"]
    assert hand_over(client, sweep, verdict, runs, client.get_run(sweep).data.tags, tmp_path) == {}
    assert len(client.search_model_versions("name = 'outbox.sim'")) == 1


def main_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """What `gatesweep ARGV` says on stderr (it must succeed)."""
    from pipeline.app.cli import main

    capsys.readouterr()
    assert main(argv) == 0
    return capsys.readouterr().err


def test_gatesweep_forecast_prints_no_tensorflow_info_lines(registered: tuple[Any, str, pd.DataFrame, str],
                                                             tmp_path: Path) -> None:
    """Run as a user runs it (a fresh process, TensorFlow imported by the command): only gatesweep's own lines."""
    client, *_ = registered
    done = subprocess.run([sys.executable, "-m", "pipeline", "forecast", "models:/handover.sim@champion",
                           "--tracking-uri", client.tracking_uri, "--out", str(tmp_path / "f.csv")],
                          capture_output=True, text=True, timeout=300,
                          env={k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"})
    assert done.returncode == 0, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("models:/handover.sim@champion: 1 series x 3 steps"), lines
    assert len(pd.read_csv(tmp_path / "f.csv")) == 3
