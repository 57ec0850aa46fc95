"""`gatesweep bench`: the source article's plain-Keras loop vs the project's trial loop vs a minimal XLA step.

All three do the same work on the source article's data: 180 windows of 20, the last 10% for validation
(`validation_split=0.1`), batch 10, SGD, MSE, validation every epoch; then 180 closed-loop points.
Figures are measured in this process, side by side; nothing is hard-coded.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.app.sweep import run_sweep
from pipeline.core.data import PreparedData, Scaler, damped_oscillation, load_sweep, make_windows
from pipeline.core.jobs import Job
from pipeline.core.models import build_model, configure_tensorflow
from pipeline.core.training import _CompiledLoop
from pipeline.core.transforms import Transform
from pipeline.dev.mlflow_server import MlflowServer
from pipeline.tracking.state import SweepState

WINDOW, HIDDEN, BATCH = 20, 40, 10


def _seed_data() -> tuple[np.ndarray, np.ndarray]:
    return make_windows(damped_oscillation(), WINDOW)  # (180, 20, 1) each, as in the seed


def _model(arch: str, seed: int) -> Any:
    import keras  # lazy: loads Keras

    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    return build_model(arch, HIDDEN, WINDOW)


def _per_epoch(times: list[float]) -> float:
    return float(np.median(times))


def seed_loop(arch: str, epochs: int, points: int, seed: int) -> dict[str, float]:
    """The article's code: `model.fit(validation_split=0.1)`, then one `model.predict` per generated point."""
    import keras  # lazy: loads Keras

    x, y = _seed_data()
    model = _model(arch, seed)
    model.compile(loss="mean_squared_error", optimizer=keras.optimizers.SGD(0.01))
    model.fit(x, y, epochs=1, batch_size=BATCH, validation_split=0.1, verbose=0)  # warm-up: tracing

    times: list[float] = []

    class _Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            times.append(time.perf_counter() - self.t0)

    hist = model.fit(x, y, epochs=epochs, batch_size=BATCH, validation_split=0.1, verbose=0, callbacks=[_Timer()])
    res = y[0].reshape(-1)
    t0 = time.perf_counter()
    for _ in range(points):
        nxt = model.predict(res[-WINDOW:].reshape(1, WINDOW, 1), verbose=0)
        res = np.append(res, nxt[0][WINDOW - 1][0])
    return {"ms_per_epoch": 1000 * _per_epoch(times), "final_val_loss": float(hist.history["val_loss"][-1]),
            "closed_loop_s": time.perf_counter() - t0}


def project_loop(arch: str, epochs: int, points: int, seed: int) -> dict[str, float]:
    """The project's trial loop (`pipeline.core.training._CompiledLoop`) on the same windows and split."""
    import keras  # lazy: loads Keras


    x, y = _seed_data()
    n_train = len(x) - int(len(x) * 0.1)  # Keras' validation_split takes the last 10%
    loop = _CompiledLoop(_model(arch, seed), keras.optimizers.SGD(0.01), (x[:n_train], y[:n_train]),
                         (x[n_train:], y[n_train:]), BATCH)
    rng = np.random.default_rng(seed)
    val = np.nan
    for _ in range(epochs + 1):  # the first epoch compiles; it is excluded like the article's warm-up
        loop.epoch(rng.permutation(n_train))
        val = loop.validation_mse()
    # the article generates on the raw series: no transform, no scaling
    series = damped_oscillation()
    data = PreparedData(raw=series, transform=Transform(), scaled=series, scaler=Scaler(0.0, 1.0), bounds=[],
                        window=WINDOW, train=(x, y), validation=(x, y))
    loop.generate(data, y[0].reshape(-1), 1)  # compile the generation step
    t0 = time.perf_counter()
    loop.generate(data, y[0].reshape(-1), points)
    return {"ms_per_epoch": 1000 * _per_epoch(loop.epoch_times[1:]), "final_val_loss": float(val),
            "closed_loop_s": time.perf_counter() - t0}


def minimal_xla(arch: str, epochs: int, seed: int) -> dict[str, float]:
    """The smallest hand-written equivalent: one XLA-compiled train step per batch, an XLA val step."""
    import keras  # lazy: loads Keras
    import tensorflow as tf  # lazy: loads TensorFlow

    x, y = _seed_data()
    n_train = len(x) - int(len(x) * 0.1)
    model = _model(arch, seed)
    opt = keras.optimizers.SGD(0.01)
    opt.build(model.trainable_variables)
    xt, yt = tf.constant(x[:n_train]), tf.constant(y[:n_train])
    xv, yv = tf.constant(x[n_train:]), tf.constant(y[n_train:])

    @tf.function(jit_compile=True)
    def step(idx: Any) -> Any:
        xb, yb = tf.gather(xt, idx), tf.gather(yt, idx)
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(xb, training=True) - yb))
        opt.apply(tape.gradient(loss, model.trainable_variables), model.trainable_variables)
        return loss

    @tf.function(jit_compile=True)
    def validate() -> Any:
        return tf.reduce_mean(tf.square(model(xv, training=False) - yv))

    rng = np.random.default_rng(seed)
    times, val = [], np.nan
    for epoch in range(epochs + 1):
        t0 = time.perf_counter()
        perm = rng.permutation(n_train).astype(np.int32)
        for start in range(0, n_train, BATCH):
            step(tf.constant(perm[start:start + BATCH]))
        val = float(validate())
        if epoch:  # the first epoch compiles
            times.append(time.perf_counter() - t0)
    return {"ms_per_epoch": 1000 * _per_epoch(times), "final_val_loss": val}


def run_benchmark(archs: list[str], epochs: int, points: int = 180, seed: int = 0) -> dict[str, dict[str, Any]]:
    configure_tensorflow(1)
    out: dict[str, dict[str, Any]] = {}
    for arch in archs:
        seed_r = seed_loop(arch, epochs, points, seed)
        proj = project_loop(arch, epochs, points, seed)
        mini = minimal_xla(arch, epochs, seed)
        out[arch] = {"seed_keras_fit": seed_r, "gatesweep": proj, "minimal_xla": mini,
                     "speedup_vs_seed": seed_r["ms_per_epoch"] / proj["ms_per_epoch"],
                     "ratio_vs_minimal_xla": proj["ms_per_epoch"] / mini["ms_per_epoch"]}
    return out


def format_benchmark(result: dict[str, dict[str, Any]], epochs: int, points: int) -> str:
    lines = [f"seed setting: window {WINDOW}, hidden {HIDDEN}, batch {BATCH}, SGD(0.01), validation_split 0.1, "
             f"{epochs} timed epochs, {points} closed-loop points; 1 TensorFlow thread", ""]
    head = f"{'arch':5} {'loop':15} {'ms/epoch':>9} {'final val_loss':>15} {'closed loop s':>14}"
    lines.append(head)
    for arch, r in result.items():
        for name in ("seed_keras_fit", "gatesweep", "minimal_xla"):
            m = r[name]
            cl = f"{m['closed_loop_s']:14.3f}" if "closed_loop_s" in m else f"{'-':>14}"
            lines.append(f"{arch:5} {name:15} {m['ms_per_epoch']:9.2f} {m['final_val_loss']:15.3e} {cl}")
        lines.append(f"{arch:5} gatesweep is {r['speedup_vs_seed']:.1f}x faster per epoch than the source "
                     f"article's loop (target >= 5x) and {r['ratio_vs_minimal_xla']:.2f}x the minimal XLA step "
                     f"(target <= 1.5x); "
                     f"closed loop {r['gatesweep']['closed_loop_s']:.3f} s "
                     f"vs {r['seed_keras_fit']['closed_loop_s']:.1f} s (target < 1 s)")
    return "\n".join(lines)


ORCHESTRATION_SPEC = """\
# gatesweep bench --orchestration: TRIALS trials (half per architecture) of EPOCHS epochs each
name: bench-orchestration
datasets:
  - {name: damped, source: damped_oscillation}
search_space:
  hidden_size: 40
  window: 20
  optimizer: sgd
  learning_rate: {choice: [0.005, 0.01, 0.02]}
  batch_size: 10
  epochs: EPOCHS
budget: {trials_per_cell: PER_CELL}
confirm: {seeds: 2}
resources: {cpus: 1}
"""


def orchestration_benchmark(workdir: Path, trials: int = 16, epochs: int = 700) -> dict[str, float]:
    """Tune-phase wall time against the ideal: the sum of Tune's own per-trial times / parallel slots.

    The per-trial overhead is what each trial cost the tune phase beyond its own time: (wall - ideal) x slots /
    trials. 16 trials of 700 epochs are ~16 s each here; 200 trials of 30 epochs are 1.5-2 s each."""
    import ray  # lazy: loads Ray
    from ray.tune import ExperimentAnalysis  # lazy: loads Ray

    import reports  # lazy: loads MLflow

    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "orchestration.yaml"
    path.write_text(ORCHESTRATION_SPEC.replace("EPOCHS", str(epochs)).replace("PER_CELL", str(trials // 2))
                    .replace("TRIALS", str(trials // 2 * 2)))
    spec, series = load_sweep(path)
    outcome = run_sweep(spec, series, path, tracking_uri=f"sqlite:///{(workdir / 'mlflow.db').resolve()}",
                        address=None, home=workdir / "out", reporter=reports)
    slots = int(ray.cluster_resources().get("CPU", 1) // spec.resources.cpus)
    tune_dir = next((outcome.out_dir / "ray_results").glob("bench-orchestration-tune-*")).resolve()
    trial_seconds = [t.last_result["time_total_s"] for t in ExperimentAnalysis(str(tune_dir)).trials]
    ideal = sum(trial_seconds) / slots
    return {"trials": float(len(trial_seconds)), "slots": float(slots), "sum_trial_s": sum(trial_seconds),
            "mean_trial_s": sum(trial_seconds) / len(trial_seconds), "ideal_s": ideal,
            "tune_wall_s": outcome.seconds["tune"], "ratio": outcome.seconds["tune"] / ideal,
            "overhead_per_trial_s": (outcome.seconds["tune"] - ideal) * slots / len(trial_seconds)}


def mlflow_benchmark(space: Path, workdir: Path) -> dict[str, Any]:
    """A sweep against a real local `mlflow server`: what MLflow costs it, and the same writes on an idle server.

    Measured in this run: the sweep's wall time; the time the sweep waited on MLflow (calls on the driver's
    main thread plus the final outbox flush); the time inside every MLflow call, including the background
    writer's; the CPU the server and the writer used. Then, with the sweep done and the server idle, every
    run is written again into a fresh experiment (same records, same code), and one run's metric rows are
    logged the naive way, one call per metric, next to gatesweep's batched write of the same run.
    """
    from mlflow import MlflowClient  # lazy: loads MLflow

    import reports  # lazy: loads MLflow
    from pipeline.tracking.tracker import SweepTracker  # lazy: loads MLflow

    spec, series = load_sweep(space)
    server = MlflowServer(workdir / "server").start()
    try:
        cpu0 = server.cpu_seconds()
        outcome = run_sweep(spec, series, space, tracking_uri=server.url, address=None, home=workdir / "out",
                            reporter=reports)
        cpu1 = server.cpu_seconds()
        s = outcome.seconds
        records = [json.loads(p.read_text(encoding="utf-8"))
                   for p in sorted((outcome.out_dir / "outbox" / "done").glob("*.json"))]

        replay = SweepTracker(server.url, f"{spec.name}-replay")
        replay.check()
        replay.start_parent(spec, space.read_text(encoding="utf-8"), str(space))
        before = replay.times.seconds
        t0 = time.perf_counter()
        for record in records:
            replay.push_record({**record, "parent": replay.parent_id}, maybe_partial=False)  # a copy of the run
        replay_wall = time.perf_counter() - t0
        replay_calls = replay.times.seconds - before

        # the naive baseline: one call per metric row, for the run with the most rows
        record = max(records, key=lambda r: len(r["history"]["epoch"]))
        rows = [(name, v, step) for name in ("loss", "val_loss")
                for step, v in zip(record["history"]["epoch"], record["history"][name], strict=True)]
        client = MlflowClient(tracking_uri=server.url)
        assert replay.experiment_id is not None
        run_id = client.create_run(replay.experiment_id, run_name="per-metric-baseline").info.run_id
        now = int(time.time() * 1000)
        t0 = time.perf_counter()
        for name, v, step in rows:
            client.log_metric(run_id, name, float(v), timestamp=now, step=int(step))
        per_metric = time.perf_counter() - t0
        client.set_terminated(run_id)
        before = replay.times.seconds
        again = Job.model_validate(record["job"])
        again = again.model_copy(update={"index": again.index + 1_000_000})  # the same run under another key
        replay.push_record(record | {"job": again.model_dump(mode="json"), "key": again.key,
                                     "parent": replay.parent_id}, maybe_partial=False)
        batched = replay.times.seconds - before
    finally:
        server.stop()
    server_cpu = None if cpu0 is None or cpu1 is None else cpu1 - cpu0
    return {"space": str(space), "server": server.url, "runs": len(records), "wall_s": s["total"],
            "waited_s": s["mlflow_blocking"], "waited_share": s["mlflow_blocking_share"],
            "main_thread_calls_s": s["mlflow_blocking"] - s.get("mlflow_flush_wait", 0.0),
            "flush_wait_s": s.get("mlflow_flush_wait", 0.0),
            "all_calls_s": s["mlflow_calls"], "all_calls_share": s["mlflow_calls"] / s["total"],
            "server_cpu_s": server_cpu, "writer_cpu_s": s.get("mlflow_writer_cpu"),
            "cpus": os.cpu_count(), "replay_calls_s": replay_calls, "replay_wall_s": replay_wall,
            "baseline_rows": len(rows), "per_metric_s": per_metric, "batched_s": batched,
            "by_method": SweepState.load(outcome.out_dir).mlflow_calls_by_method}


def format_mlflow_benchmark(r: dict[str, Any]) -> str:
    cpu = "n/a" if r["server_cpu_s"] is None else f"{r['server_cpu_s']:.1f}"
    return "\n".join([
        f"{r['space']} against a real mlflow server at {r['server']} (SQLite, 1 worker), on this machine:",
        f"  sweep wall time                               {r['wall_s']:7.1f} s",
        f"  sweep waited on MLflow                        {r['waited_s']:7.2f} s  {100 * r['waited_share']:4.1f}% "
        f"of wall (target <= 3%): main-thread calls {r['main_thread_calls_s']:.2f} s, "
        f"final outbox flush {r['flush_wait_s']:.2f} s",
        f"  inside all MLflow calls, incl. the writer     {r['all_calls_s']:7.2f} s  "
        f"{100 * r['all_calls_share']:4.1f}% of wall, mostly overlapping training",
        f"  {'the same ' + str(r['runs']) + ' runs written again, idle server':45} {r['replay_calls_s']:7.2f} s  "
        f"{100 * r['replay_calls_s'] / r['wall_s']:4.1f}% of the sweep's wall, in calls",
        f"  CPU used by MLflow during the sweep: server {cpu} s, gatesweep's writer thread "
        f"{r['writer_cpu_s']:.1f} s (of {r['cpus']} CPUs x {r['wall_s']:.0f} s)",
        f"  baseline, one run's {r['baseline_rows']} per-epoch rows: one call per metric {r['per_metric_s']:.2f} s; "
        f"gatesweep's whole run (create, batched rows, artifacts, status) {r['batched_s']:.3f} s "
        f"({r['per_metric_s'] / r['batched_s']:.0f}x)",
    ])
