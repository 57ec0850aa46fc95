"""`gatesweep bench --benchmark m3-monthly`: gatesweep's baselines and networks on a public benchmark, under the
competition's protocol, side by side with published figures.

The protocol is the M3's and Hewamalage, Bergmeir & Bandara's (2021): each series' last `h` points are the test
part (one origin), everything before them is what the final models are fitted on (`evaluation.final_fit:
train+validation`); the `h` points before the test part are the networks' validation part (their tuning and
early stopping, never the test part). sMAPE is the M3's (`200 |y - f| / (|y| + |f|)`, the mean over the horizon,
then over series); MASE divides by the in-sample seasonal naive error of everything before the test part; both
are means over all series. Forecasts of a series that never went below 0 are clipped at 0, as the competitions
did. Everything is measured in this run, on this machine; the published figures are quoted, never computed here.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from pipeline.core.data import load_sweep
from pipeline.core.metrics import smape
from pipeline.tracking.client import TrackingClient
from pipeline.tracking.contract import Artifacts, Tags

BENCHMARKS: dict[str, tuple[str, str]] = {  # name: (source, subset)
    "m3-monthly": ("m3", "monthly"), "m3-quarterly": ("m3", "quarterly"), "m3-yearly": ("m3", "yearly"),
    "m3-other": ("m3", "other"), "m1-monthly": ("m1", "monthly"), "m1-quarterly": ("m1", "quarterly"),
    "m1-yearly": ("m1", "yearly"),
}
SPACES = Path(__file__).resolve().parents[2] / "search_spaces"

# (what, sMAPE, MASE) on all 1428 M3 monthly series, h = 18; MASE scaled by the lag-12 in-sample naive error
PUBLISHED: dict[str, list[tuple[str, float, float | None]]] = {
    "m3-monthly": [
        ("ETS, R forecast::ets (Hewamalage et al. 2021, repository tables)", 14.14, 0.865),
        ("ARIMA, R auto.arima on log (ibid.)", 14.25, 0.872),
        ("best RNN, a 10-seed median ensemble (ibid.; sMAPE S2S GRU, MASE stacked LSTM)", 14.11, 0.862),
        ("Theta (M3 competition, Makridakis & Hibon 2000)", 13.85, None),
        ("Naive2 (M3's own forecasts, rescored here by the research note)", 16.89, 1.037),
    ],
}
SOURCES = ("Hewamalage, Bergmeir & Bandara (2021), 'Recurrent Neural Networks for Time Series Forecasting', "
           "IJF 37(1); figures from their repository's tables (HansikaPH/time-series-forecasting, commit cf55bb0, "
           "graph_plotter/ensemble_data/error_comparison_m3_mean_*.csv).")


def space_for(name: str) -> Path:
    """The shipped search space of a benchmark (`search_spaces/m3_monthly.yaml`), or the M3 monthly one."""
    path = SPACES / f"{name.replace('-', '_')}.yaml"
    return path if path.exists() else SPACES / "m3_monthly.yaml"


def bench_spec(name: str, space: Path, series: int | None, workdir: Path) -> Path:
    """`space` with its one dataset set to the benchmark's source and subset (and `series`: a seeded sample),
    written to `workdir`."""
    source, subset = BENCHMARKS[name]
    doc = yaml.safe_load(space.read_text(encoding="utf-8"))
    ds = doc["datasets"][0]
    if ds.get("source") != source or ds.get("subset") != subset:
        keep = {k: v for k, v in ds.items() if k not in ("horizon", "season", "split", "subset", "source")}
        ds = {**keep, "name": f"{source}_{subset}", "source": source, "subset": subset}
    if series is not None:
        ds["series"] = series
    doc["datasets"] = [ds]
    doc["name"] = f"bench-{name}" + (f"-{series}" if series else "")
    out = workdir / "bench.yaml"
    out.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return out


def competition_benchmark(name: str, workdir: Path, *, series: int | None = None, space: Path | None = None,
                          networks: bool = True) -> dict[str, Any]:
    """The baselines (and, with `networks`, a whole sweep) on benchmark `name`: per method mean sMAPE and MASE,
    the seconds each took, and the published figures."""
    from pipeline.app.sweep import dataset_baselines  # lazy: the sweep loads SciPy
    workdir.mkdir(parents=True, exist_ok=True)
    path = bench_spec(name, space or space_for(name), series, workdir)
    spec, panels = load_sweep(path)
    ds = spec.datasets[0]
    panel = panels[ds.name]
    nets: dict[str, Any] | None = None
    if networks:  # the sweep fits the baselines itself, once: read them back from its parent run
        nets, metrics, tags, seconds = _networks(spec, panels, path, workdir)
        fit_seconds, wall = seconds["baselines"], seconds.get("baselines_wall", math.nan)
    else:
        t0 = time.perf_counter()
        metrics, tags, fit_seconds, _ = dataset_baselines(spec, panels)
        wall = time.perf_counter() - t0
    prefix = f"baseline.{ds.name}."
    rows = []
    for method in ("naive", "seasonal_naive", "ar", "ets", "arima", "theta"):
        if prefix + method + "_mase" in metrics:
            rows.append({"method": method, "smape": metrics[prefix + method + "_smape"],
                         "mase": metrics[prefix + method + "_mase"]})
    out: dict[str, Any] = {
        "benchmark": name, "space": str(path), "series": len(panel.series), "horizon": ds.horizon,
        "season": ds.season, "final_fit": spec.evaluation.final_fit, "baselines": rows,
        "baseline_wall_s": wall, "baseline_fit_s": fit_seconds, "baseline_failed": {
            k: v for k, v in tags.items() if k.startswith("gatesweep.baseline_failed.")},
        "published": [{"what": w, "smape": s, "mase": m} for w, s, m in PUBLISHED.get(name, [])]}
    if nets is not None:
        out["networks"] = nets
    return out


def _networks(spec: Any, panels: dict[str, Any], path: Path, workdir: Path
              ) -> tuple[dict[str, Any], dict[str, float], dict[str, str], dict[str, float]]:
    """A whole sweep on the benchmark: each confirm seed's mean sMAPE and MASE over the series, per architecture;
    the parent run's metrics and tags (the baselines the sweep fitted), and its timings."""
    from mlflow import MlflowClient  # lazy: loads MLflow

    import reports  # lazy: loads MLflow
    from pipeline.app.sweep import run_sweep  # lazy: the sweep loads SciPy

    uri = f"sqlite:///{(workdir / 'mlflow.db').resolve()}"
    outcome = run_sweep(spec, panels, path, tracking_uri=uri, address=None, home=workdir / "out", reporter=reports)
    client = MlflowClient(uri)
    parent = client.get_run(outcome.parent_run_id).data
    return {"parent_run_id": outcome.parent_run_id, "wall_s": outcome.seconds.get("total", math.nan),
            "verdict": outcome.verdict.overall.label, "tracking_uri": uri,
            "arms": confirm_arms(client, outcome.parent_run_id)}, parent.metrics, parent.tags, outcome.seconds


def confirm_arms(client: TrackingClient, parent_run_id: str) -> dict[str, Any]:
    """Per architecture: each confirm seed's test sMAPE and MASE, their mean and geometric mean, and the seed
    ensembles' scores (from the runs' stored forecasts)."""
    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"  # a bar per run's download buries the table
    exp_id = client.get_run(parent_run_id).info.experiment_id
    runs = client.search_runs([exp_id], f"tags.`{Tags.PARENT}` = '{parent_run_id}' and tags.`{Tags.ROLE}` = 'confirm'",
                              max_results=10000)
    arms: dict[str, list[dict[str, float]]] = {}
    paths: dict[str, list[list[np.ndarray]]] = {}
    truth: list[np.ndarray] = []
    scales: list[float] = []
    for r in runs:
        if r.info.status == "FINISHED" and "test_mase" in r.data.metrics and not r.data.tags.get(Tags.VARIANT):
            arch = r.data.tags[Tags.ARCH]
            arms.setdefault(arch, []).append({"seed": int(r.data.tags[Tags.SEED]), "mase": r.data.metrics["test_mase"],
                                              "smape": r.data.metrics.get("test_smape", math.nan)})
            with tempfile.TemporaryDirectory() as tmp:
                f = json.loads(Path(client.download_artifacts(r.info.run_id, Artifacts.FORECASTS, tmp)).read_text())
            per_series = f.get("series") or [f]
            horizon = int(f["horizon"][0])
            paths.setdefault(arch, []).append([np.asarray(s["test_pred"], float) for s in per_series])
            truth = [np.asarray(s["truth"], float)[-horizon:] for s in per_series]  # one origin: the last h points
            scales = [float(s["mase_scale"][0]) for s in per_series]
    return {arch: {"seeds": sorted(rows, key=lambda x: x["seed"]),
                   "gmean_mase": float(np.exp(np.mean(np.log([x["mase"] for x in rows])))),
                   "mean_smape": float(np.mean([x["smape"] for x in rows])),
                   **ensemble_scores(paths[arch], truth, scales)}
            for arch, rows in sorted(arms.items())}


def ensemble_scores(paths: list[list[np.ndarray]], truth: list[np.ndarray], scales: list[float]) -> dict[str, Any]:
    """The seeds' mean and median forecasts of every series, scored (sMAPE, MASE, means over series)."""
    out: dict[str, Any] = {}
    for name, combine in (("mean", np.mean), ("median", np.median)):
        fc = [combine(np.stack([seed[i] for seed in paths]), axis=0) for i in range(len(truth))]
        out[f"ensemble_{name}"] = {
            "smape": float(np.mean([smape(f, t) for f, t in zip(fc, truth, strict=True)])),
            "mase": float(np.mean([np.mean(np.abs(f - t)) / sc for f, t, sc in zip(fc, truth, scales, strict=True)]))}
    return out


NAMES = {"naive": "naive", "seasonal_naive": "seasonal naive", "ar": "AR (least squares, the smallest window)",
         "ets": "ETS (statsforecast AutoETS)", "arima": "ARIMA (statsforecast AutoARIMA, log)",
         "theta": "Theta (statsforecast, the M3 method)"}


def format_competition(r: dict[str, Any]) -> str:
    lines = [f"{r['benchmark']}: {r['series']} series, h = {r['horizon']}, season {r['season'] or 'none'}, the last "
             f"h points of each series as the test part, models fitted on everything before it "
             f"(final_fit: {r['final_fit']}); means over series, measured in this run",
             f"  {'method':58} {'sMAPE':>7} {'MASE':>7}"]
    lines += [f"  {NAMES[b['method']]:58} {b['smape']:7.2f} {b['mase']:7.3f}" for b in r["baselines"]]
    lines.append(f"  baselines: {r['baseline_wall_s']:.1f} s wall for all series ({r['baseline_fit_s']:.1f} s of "
                 "ETS, ARIMA and Theta fits summed over the worker processes"
                 + ("; read back from the cache)" if r["baseline_wall_s"] < 0.2 * r["baseline_fit_s"] else ")"))
    for key, why in r["baseline_failed"].items():
        lines.append(f"  failed: {key.rsplit('.', 1)[-1]}: {why[:300]}")
    if nets := r.get("networks"):
        for arch, arm in nets["arms"].items():
            seeds = ", ".join(f"{x['smape']:.2f}/{x['mase']:.3f}" for x in arm["seeds"])
            what = f"{arch.upper()}, {len(arm['seeds'])} seeds alone (mean sMAPE, geometric-mean MASE)"
            lines.append(f"  {what:58} {arm['mean_smape']:7.2f} {arm['gmean_mase']:7.3f}")
            lines.append(f"    {arch.upper()}, {len(arm['seeds'])} seeds, per seed sMAPE/MASE: {seeds}")
            for name in ("mean", "median"):
                e = arm[f"ensemble_{name}"]
                lines.append(f"  {arch.upper() + ', the ' + name + ' of its seeds forecasts':58} {e['smape']:7.2f} "
                             f"{e['mase']:7.3f}")
        lines.append(f"  networks: the sweep took {nets['wall_s'] / 60:.1f} min; verdict {nets['verdict']}; parent "
                     f"run {nets['parent_run_id']} in {nets['tracking_uri']}")
    if r["published"]:
        lines.append("  published (all 1428 series; not computed here):")
        lines += [f"    {p['what']:78} {p['smape']:6.2f} " + (f"{p['mase']:6.3f}" if p["mase"] else "     -")
                  for p in r["published"]]
        lines.append(f"    source: {SOURCES}")
    return "\n".join(lines)
