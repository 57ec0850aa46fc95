"""Runs logged by hand with MLflow's ordinary API, following the README's contract (no sweep involved)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def log_hand_made_runs(uri: str) -> tuple[Any, str, pd.DataFrame]:
    """A parent with 6 confirm runs per architecture on dataset `sines`; GRU about 20% better."""
    import mlflow

    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("by-hand")
    rng = np.random.default_rng(4)
    rows = []
    with mlflow.start_run(run_name="by-hand-sweep", tags={"gatesweep.role": "sweep"}) as parent:
        mlflow.log_metrics({"baseline.sines.naive_mase": 1.4, "baseline.sines.ar_mase": 1.2})
        for arch, centre in (("gru", 0.8), ("lstm", 1.0)):
            for seed in range(6):
                mase = float(centre * rng.lognormal(0, 0.05))
                with mlflow.start_run(nested=True, run_name=f"{arch}-confirm-seed-{seed}",
                                      tags={"gatesweep.role": "confirm", "gatesweep.arch": arch,
                                            "gatesweep.dataset": "sines", "gatesweep.seed": str(seed)}):
                    mlflow.log_params({"hidden_size": 32, "window": 12, "optimizer": "adam", "epochs": 5})
                    for epoch in range(5):
                        mlflow.log_metrics({"loss": 1.0 / (epoch + 1), "val_loss": 1.2 / (epoch + 1)}, step=epoch)
                    slower = 1.3 if arch == "lstm" else 1.0
                    mlflow.log_metrics({"test_mase": mase, "val_rmse": 0.1, "n_params": 3000.0 * slower,
                                        "seconds_per_epoch": 0.01 * slower + 1e-4 * seed})
                rows.append({"dataset": "sines", "arch": arch, "seed": seed, "test_mase": mase})
    mlflow.set_tracking_uri("")
    return mlflow.MlflowClient(uri), parent.info.run_id, pd.DataFrame(rows)


PANEL_IDS = ("north", "south")
PANEL_ORIGINS = np.array([39, 42, 45])  # 3 test origins, 3 steps each: the last 9 of 48 monthly points
PANEL_HORIZON = 3


def panel_truth(extra: int = 0) -> dict[str, np.ndarray]:
    """Two monthly series of 48 points: a large seasonal one and a small one; and `extra` more, `s000`, `s001`, ...,
    of levels 10 to 60."""
    t = np.arange(48)
    rng = np.random.default_rng(7)
    out = {"north": 100 + 10 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 1, 48),
           "south": 20 + 3 * np.cos(2 * np.pi * t / 12) + rng.normal(0, 0.5, 48)}
    for k in range(extra):
        level = rng.uniform(10, 60)
        out[f"s{k:03d}"] = level * (1 + 0.1 * np.sin(2 * np.pi * t / 12 + k)) + rng.normal(0, 0.02 * level, 48)
    return out


def _targets(y: np.ndarray) -> np.ndarray:
    return y[PANEL_ORIGINS[:, None] + np.arange(PANEL_HORIZON)[None, :]]


def _scale(y: np.ndarray) -> float:
    return float(np.mean(np.abs(np.diff(y[:PANEL_ORIGINS[0]]))))


def log_hand_made_panel(uri: str, with_baselines: bool = True,
                        extra: int = 0) -> tuple[Any, str, dict[str, dict[str, list[Any]]]]:
    """A parent with 4 confirm runs per architecture on a 2-series monthly panel `shop` (horizon 3), each with its
    `forecasts.json`; GRU more accurate on `north`, LSTM on `south`. With `with_baselines`, the parent's
    `baselines.json` holds naive and ETS forecasts on the same origins. The confirm runs are final fits on
    train + validation: no val_loss. `extra` adds as many series (`panel_truth`), each architecture as accurate on
    them as a random draw. Returns the client, the parent's id and, per architecture and series, each seed's
    forecasts `(origins, horizon)`."""
    import json

    import mlflow

    truth = panel_truth(extra)
    ids = list(truth)
    times = [str(d.date()) for d in pd.date_range("2019-01-01", periods=48, freq="MS")]
    noise = {("gru", "north"): 0.3, ("lstm", "north"): 1.2, ("gru", "south"): 1.5, ("lstm", "south"): 0.5}
    rng = np.random.default_rng(11)
    noise |= {(arch, sid): float(rng.uniform(0.2, 2.0)) for sid in ids[2:] for arch in ("gru", "lstm")}
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("panel-by-hand")
    preds: dict[str, dict[str, list[Any]]] = {a: {s: [] for s in ids} for a in ("gru", "lstm")}
    with mlflow.start_run(run_name="panel-by-hand", tags={"gatesweep.role": "sweep"}) as parent:
        mlflow.log_params({"final_fit": "train+validation"})
        base: dict[str, Any] = {"schema_version": 1, "datasets": {"shop": {"horizon": PANEL_HORIZON, "series": []}}}
        scores: dict[str, list[float]] = {"naive": [], "ets": []}
        for sid in ids:
            y, scale = truth[sid], _scale(truth[sid])
            naive = np.repeat(y[PANEL_ORIGINS - 1][:, None], PANEL_HORIZON, axis=1)
            ets = _targets(y) + rng.normal(0, 0.9 * scale, _targets(y).shape)
            mase = {k: float(np.mean(np.abs(p - _targets(y))) / scale) for k, p in (("naive", naive), ("ets", ets))}
            for k, x in mase.items():
                scores[k].append(x)
            base["datasets"]["shop"]["series"].append({
                "id": sid, "test_origins": PANEL_ORIGINS.tolist(), "mase_scale": scale,
                "truth": _targets(y).reshape(-1).tolist(), "mase": mase,
                "pred": {"naive": naive.reshape(-1).tolist(), "ets": ets.reshape(-1).tolist()}})
        mlflow.log_metrics({f"baseline.shop.{k}_mase": float(np.mean(v)) for k, v in scores.items()})
        if with_baselines:
            mlflow.log_text(json.dumps(base), "baselines.json")
        for arch in ("gru", "lstm"):
            for seed in range(4):
                series, mases = [], []
                for sid in ids:
                    y, scale = truth[sid], _scale(truth[sid])
                    p = _targets(y) + rng.normal(0, noise[arch, sid] * scale, _targets(y).shape)
                    preds[arch][sid].append(p)
                    mases.append(float(np.mean(np.abs(p - _targets(y))) / scale))
                    series.append({"id": sid, "truth": y.tolist(), "test_pred": p.reshape(-1).tolist(),
                                   "mase_scale": [scale], "test_origins": PANEL_ORIGINS.astype(float).tolist(),
                                   "time": times})
                f = {"truth": truth["north"].tolist(), "test_start": [39.0], "test_pred": series[0]["test_pred"],
                     "mase_scale": series[0]["mase_scale"], "horizon": [float(PANEL_HORIZON)],
                     "test_origins": series[0]["test_origins"], "time": times, "series": series}
                with mlflow.start_run(nested=True, run_name=f"{arch}-confirm-seed-{seed}",
                                      tags={"gatesweep.role": "confirm", "gatesweep.arch": arch,
                                            "gatesweep.dataset": "shop", "gatesweep.seed": str(seed)}):
                    mlflow.log_params({"hidden_size": 16, "window": 12, "optimizer": "adam", "epochs": 4,
                                       "horizon": PANEL_HORIZON, "fit_on": "train+validation"})
                    for epoch in range(4):
                        mlflow.log_metric("loss", 1.0 / (epoch + 1), step=epoch)
                    mlflow.log_metrics({"test_mase": float(np.mean(mases)), "n_params": 1000.0,
                                        "seconds_per_epoch": 0.01 + 1e-4 * seed})
                    mlflow.log_text(json.dumps(f), "forecasts.json")
    mlflow.set_tracking_uri("")
    return mlflow.MlflowClient(uri), parent.info.run_id, preds
