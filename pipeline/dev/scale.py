"""`gatesweep bench --scale`: the driver path at N concurrent trials, without training.

What a large cluster sends the driver is synthesised here at the rate N slots of real trials send it, and
goes through the code a sweep runs on the driver: `CellSearcher` (one Optuna TPE study per cell) suggests
each trial and hears its results, `OutboxCallback` buffers the per-epoch history and puts each finished
trial on disk, and the outbox's writer pushes it to a real tracking store (`SweepTracker.push_record`).
Ray Tune's own event loop is not in the loop (see Ray's scalability release tests for its limits), and
neither are workers: a "trial" is a schedule of results, not a process.

A quickstart-sized trial: 150 epochs over `trial_s` seconds, a result about once a second (as the
trainable reports), its last result carrying the final metrics; one child run of 450 per-epoch rows.

Measured per N: driver CPU per result (the thread that plays Tune's driver, in the calls above), the
results per second offered and absorbed, the outbox's lag (age of the oldest finished run not yet in
MLflow, sampled every second), the writer's runs/s and rows/s, driver memory, and how long the writer
needed after the last result to empty the outbox.
"""

from __future__ import annotations

import heapq
import itertools
import resource
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.core.config import SweepSpec
from pipeline.core.hparams import ARCHITECTURES
from pipeline.core.jobs import Job
from pipeline.core.outcome import FINAL_MARK
from pipeline.dev.mlflow_server import MlflowServer
from pipeline.dev.postgres import LocalPostgres
from pipeline.engine.callbacks import OutboxCallback
from pipeline.engine.tuning import CellSearcher, HistoryRows, drain_history
from pipeline.tracking.outbox import Outbox
from pipeline.tracking.tracker import SweepTracker

EPOCHS = 150
REPORT_EVERY_S = 1.0


@dataclass
class _Trial:
    """What the driver's callbacks read from a Tune trial."""

    trial_id: str
    config: dict[str, Any]
    started: float
    last_result: dict[str, Any] = field(default_factory=dict)
    num_failures: int = 0
    error_file: str | None = None
    epochs_sent: int = 0
    pending: dict[str, list[float]] = field(default_factory=lambda: {
        "epoch": [], "loss": [], "val_loss": [], "epoch_val_mase": [], "time_ms": []})
    rows: HistoryRows | None = None  # the trainable's own thinning, over `pending`
    rows_logged: int = 0  # epochs whose rows the run will hold


def _rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _result(trial: _Trial, upto: int, now: float, final: bool) -> dict[str, Any]:
    """The epochs since the last result, through the trainable's `HistoryRows` (so thinned as it thins)."""
    assert trial.rows is not None
    ms = int(now * 1000)
    for e in range(trial.epochs_sent, upto):
        d = 1.0 / (1 + 0.05 * e)
        trial.rows.add((e, 0.1 * d, 0.12 * d, 0.5 * d, ms))
    trial.epochs_sent = upto
    if final:
        trial.rows.finish()
    history = drain_history(trial.pending)
    trial.rows_logged += len(history["epoch"])
    score = 0.5 / (1 + 0.05 * upto) * (1 + int(trial.trial_id[1:]) % 97 / 100)
    result: dict[str, Any] = {"epochs_done": upto, "loss": 0.1 / (1 + 0.05 * upto),
                              "val_loss": 0.12 / (1 + 0.05 * upto), "val_mase": score,
                              "history": history, "training_iteration": upto}
    if final:
        result.update({"val_rmse": score / 3, "n_params": 5000, "seconds_per_epoch": 0.05,
                       "train_seconds": now - trial.started, "compile_seconds": 1.5, "epochs_trained": EPOCHS,
                       "train_windows": 120, "steps_per_epoch": 12, "node": "bench", "code_version": "bench",
                       FINAL_MARK: True})
    return result


def scale_run(store: str, slots: int, seconds: float, trial_s: float, workdir: Path,
              writers: int = 1, drain_limit_s: float = 30.0, history_every: int = 1,
              sampler: str = "tpe") -> dict[str, Any]:
    """N = `slots` trials always running for `seconds`, each `trial_s` long, into the tracking store at URI
    `store`, logging every `history_every`-th epoch's rows; then the outbox drains for at most
    `drain_limit_s` (what is left is counted, and the time to write it estimated from the writers' rate).
    Returns the measured figures."""
    spec = SweepSpec.model_validate({
        "name": f"bench-scale-{slots}-{writers}-{history_every}-{sampler}",
        "tracking": {"history_every": history_every}, "sampler": sampler,
        "datasets": [{"name": "damped", "source": "damped_oscillation"}],
        "architectures": list(ARCHITECTURES), "budget": {"trials_per_cell": 9999},
        "search_space": {"hidden_size": {"choice": [16, 32, 40, 64]}, "window": {"choice": [10, 20]},
                         "optimizer": {"choice": ["sgd", "adam", "rmsprop"]},
                         "learning_rate": {"low": 0.001, "high": 0.05, "log": True},
                         "batch_size": {"choice": [10, 20]}, "epochs": EPOCHS}})
    tracker = SweepTracker(store, spec.name)
    tracker.check()
    tracker.start_parent(spec, "(gatesweep bench --scale)", "bench")
    assert tracker.parent_id is not None
    outbox = Outbox(workdir / f"outbox-{slots}-{writers}", tracker.push_record, tracker.parent_id, writers=writers)
    callback = OutboxCallback(outbox)
    searcher = CellSearcher(spec)
    outbox.start()

    end_ms: dict[str, int] = {}  # key -> when its trial finished (for the lag)
    lag_samples: list[tuple[float, float]] = []
    stop_sampling = threading.Event()

    def sample() -> None:
        t0 = time.monotonic()
        while not stop_sampling.wait(1.0):
            now_ms = time.time() * 1000
            oldest = min((end_ms.get(k, now_ms) for k in outbox.queued_keys()), default=now_ms)
            lag_samples.append((time.monotonic() - t0, (now_ms - oldest) / 1000))

    lag_thread = threading.Thread(target=sample, daemon=True)
    lag_thread.start()

    t_start = time.monotonic()
    heap: list[tuple[float, int, _Trial]] = []  # (next event time, tiebreak, trial)
    ids = itertools.count()
    order = itertools.count()  # tiebreak for events due at the same time
    results = finished = steady = 0
    synth_cpu = 0.0  # making the synthetic results: not the driver's work, taken out of its CPU
    rows_per_run = 0
    behind_s = 0.0  # how far the driver fell behind the schedule, at worst

    def start_trial(now: float) -> None:
        trial_id = f"t{next(ids):06d}"
        config = searcher.suggest(trial_id)
        assert isinstance(config, dict)
        trial = _Trial(trial_id, config, started=now)
        trial.rows = HistoryRows(trial.pending, history_every)
        callback.on_trial_start(0, [], trial)
        heapq.heappush(heap, (now + REPORT_EVERY_S, next(order), trial))

    cpu0 = time.thread_time()
    # the slots fill over one trial's length (as Tune launches them), so that trials end evenly spread
    for i in range(slots):
        start_trial(t_start + trial_s * i / slots)
    deadline = t_start + seconds
    while heap:
        due, _, trial = heap[0]
        now = time.monotonic()
        if due > now:
            if due > deadline:
                break
            time.sleep(min(due - now, 0.05))
            continue
        behind_s = max(behind_s, now - due)
        heapq.heappop(heap)
        done = min(EPOCHS, int(EPOCHS * (due - trial.started) / trial_s))
        final = due - trial.started >= trial_s - 1e-9 or done >= EPOCHS
        c0 = time.thread_time()
        result = _result(trial, EPOCHS if final else done, time.time(), final)
        synth_cpu += time.thread_time() - c0
        trial.last_result = result
        searcher.on_trial_result(trial.trial_id, result)
        callback.on_trial_result(0, [], trial, result)
        results += 1
        steady += due >= t_start + trial_s  # after the slots have filled
        if final:
            rows_per_run = 3 * trial.rows_logged + 11  # loss, val_loss, epoch_val_mase + the final metrics
            key = Job.from_config(trial.config).key
            end_ms[key] = int(time.time() * 1000)
            callback.on_trial_complete(0, [], trial)
            searcher.on_trial_complete(trial.trial_id, result)
            finished += 1
            if due < deadline:
                start_trial(due)
        else:
            heapq.heappush(heap, (due + REPORT_EVERY_S, next(order), trial))
    driver_cpu = time.thread_time() - cpu0 - synth_cpu
    load_s = time.monotonic() - t_start
    rss = _rss_mb()
    done_at_end = len(outbox.done_keys())
    t_drain = time.monotonic()
    left = outbox.flush(timeout_s=drain_limit_s)
    drain_s = time.monotonic() - t_drain
    stop_sampling.set()
    lag_thread.join(timeout=5)
    outbox.close()
    written = len(outbox.done_keys())
    in_mlflow = len(tracker.child_keys())
    tracker.finish_parent("FINISHED" if left == 0 else "KILLED")
    lags = [lag for _, lag in lag_samples]
    total_s = load_s + drain_s
    return {"store": store.split("://")[0] if "://" in store else store, "slots": slots, "trial_s": trial_s,
            "writers": writers, "history_every": history_every, "sampler": sampler, "rows_per_run": rows_per_run,
            "load_s": load_s, "results": results, "offered_results_per_s": slots / REPORT_EVERY_S,
            "absorbed_results_per_s": steady / max(load_s - trial_s, 1e-9),  # once every slot is busy
            "driver_cpu_s": driver_cpu,
            "driver_cpu_ms_per_result": 1000 * driver_cpu / max(results, 1), "driver_busy_share": driver_cpu / load_s,
            "behind_s": behind_s, "finished_trials": finished, "written_during_load": done_at_end,
            "written": written, "in_mlflow": in_mlflow, "left_unwritten": left, "drain_s": drain_s,
            "runs_per_s": done_at_end / load_s, "rows_per_s": done_at_end * rows_per_run / load_s,  # during load
            "offered_runs_per_s": slots / trial_s,
            "drain_estimate_s": drain_s + left / max(written / total_s, 1e-9) if left else drain_s,
            "lag_max_s": max(lags, default=0.0), "lag_end_of_load_s": _lag_at(lag_samples, load_s),
            "lag_samples": lag_samples, "driver_rss_mb": rss, "writer_cpu_s": outbox.cpu_seconds,
            "dead": len(outbox.dead())}


def _lag_at(samples: list[tuple[float, float]], t: float) -> float:
    before = [lag for at, lag in samples if at <= t]
    return before[-1] if before else 0.0


def format_scale(rows: list[dict[str, Any]]) -> str:
    """One line per store, N and writer count. `*`: the drain was cut off, its time estimated."""
    head = (f"{'store':8} {'N':>5} {'writers':>7} {'rows/run':>8} {'results/s in/offered':>20} "
            f"{'driver ms/result':>16} {'driver busy':>11} {'runs/s out/offered':>18} {'rows/s':>7} "
            f"{'lag end':>8} {'lag max':>8} {'drain':>7} {'RSS MB':>6} {'CPU ms/run':>16} {'in MLflow':>11}")
    lines = [head]
    for r in rows:
        lines.append(
            f"{r['label']:8} {r['slots']:>5} {r['writers']:>7} {r['rows_per_run']:>8} "
            f"{r['absorbed_results_per_s']:>10.0f} / {r['offered_results_per_s']:<7.0f} "
            f"{r['driver_cpu_ms_per_result']:>16.2f} {100 * r['driver_busy_share']:>10.0f}% "
            f"{r['runs_per_s']:>8.1f} / {r['offered_runs_per_s']:<7.1f} {r['rows_per_s']:>7.0f} "
            f"{r['lag_end_of_load_s']:>7.1f}s {r['lag_max_s']:>7.1f}s {_drain(r):>7} {r['driver_rss_mb']:>6.0f} "
            f"{_per_run(r):>16} {r['in_mlflow']:>5}/{r['finished_trials']:<5}")
    return "\n".join(lines)


def _drain(r: dict[str, Any]) -> str:
    return f"{r['drain_s']:.1f}s" if not r["left_unwritten"] else f"~{r['drain_estimate_s']:.0f}s*"


def _per_run(r: dict[str, Any]) -> str:
    """CPU per written run: the writer threads' (in this process), and the server's when there is one."""
    n = max(r["written"], 1)
    writer = f"{1000 * r['writer_cpu_s'] / n:.0f}"
    server = r.get("server_cpu_s")
    return writer + ("" if server is None else f" + srv {1000 * server / n:.0f}")


def scale_benchmark(workdir: Path, slots: list[int], stores: list[str], seconds: float, trial_s: float,
                    writers: tuple[int, ...] = (1,), history_every: int = 1, sampler: str = "tpe",
                    on_row: Callable[[dict[str, Any]], None] = lambda row: None) -> list[dict[str, Any]]:
    """Every N in `slots` with every writer count in `writers` on every store in `stores` (`sqlite`:
    embedded file; `server`: `mlflow server` on SQLite; `postgres`: `mlflow server` on a throwaway
    PostgreSQL); each store started once and fresh, each run in its own experiment."""
    rows = []
    for store in stores:
        root = workdir / store
        root.mkdir(parents=True)
        db = server = None
        try:
            if store == "sqlite":
                uri = f"sqlite:///{root / 'mlflow.db'}"
            elif store == "server":
                server = MlflowServer(root / "server").start(timeout_s=180)
                uri = server.url
            elif store == "postgres":
                db = LocalPostgres(root / "postgres").start()
                server = MlflowServer(root / "server", backend_store_uri=db.create_database("mlflow")
                                      ).start(timeout_s=180)
                uri = server.url
            else:
                raise ValueError(f"unknown store {store!r}")
            for n in slots:
                for w in writers:
                    cpu0 = server.cpu_seconds() if server is not None else None
                    row = scale_run(uri, n, seconds, trial_s, root, writers=w, history_every=history_every,
                                    sampler=sampler)
                    cpu1 = server.cpu_seconds() if server is not None else None
                    row["server_cpu_s"] = None if cpu0 is None or cpu1 is None else cpu1 - cpu0
                    row["label"] = store
                    rows.append(row)
                    on_row(row)
        finally:
            if server is not None:
                server.stop()
            if db is not None:
                db.stop()
    return rows
