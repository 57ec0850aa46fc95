"""The Ray cluster a sweep runs on: starting or joining it, and the checks made before any trial starts
(can a node hold one trial; does every node run the driver's code)."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import Any

from pipeline.core.config import SweepSpec
from pipeline.core.errors import BadReference

# Ray Tune's console output is for Tune users: gatesweep prints its own progress. Its "experiment
# started" block (a TensorBoard hint for logs gatesweep does not write) goes with the new output engine;
# slow-step warnings stay, above 5 s instead of 0.5 s (a driver that busy is worth a warning).
os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
os.environ.setdefault("TUNE_WARN_THRESHOLD_S", "5")
# Ctrl-C is gatesweep's to handle (pipeline.engine.interrupts), which passes it to Tune as SIGUSR1
os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"


class _TuneNoise(logging.Filter):
    """Ray Tune's console lines that do not apply to gatesweep users: each failed trial's full traceback
    (shortened to one line: the whole story is the run's error.txt in MLflow), and its advice to resume
    with `Tuner.restore` (gatesweep says `gatesweep resume ...` instead)."""

    DROP = ("Stop signal received", "Experiment has been interrupted", "Trials did not complete",
            "Training has been interrupted", "Failed to fetch metrics for")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith(self.DROP):
            return False
        if message.startswith("Trial task failed for trial") and record.exc_info:
            error = record.exc_info[1]
            last = [ln for ln in str(error).splitlines() if "TrialFailed: " in ln] or str(error).splitlines()[-1:]
            record.msg, record.args, record.exc_info, record.exc_text = (
                f"{message}: {last[0].split('TrialFailed: ', 1)[-1].strip()} (traceback: error.txt of its run)",
                None, None, None)
        return True


def quiet_ray_logs() -> None:
    """Attach the filter where Ray's console lines are written (its own handlers on the `ray` logger)."""
    noise = _TuneNoise()
    for logger in (logging.getLogger("ray"), logging.getLogger("ray.tune")):
        for handler in logger.handlers:
            if noise not in handler.filters:
                handler.addFilter(noise)


class InfeasibleResources(BadReference):
    """No node of the cluster can ever hold one trial (exit 2: nothing started)."""


class CodeMismatch(BadReference):
    """A node runs other code than the driver (exit 2: nothing started)."""


def start_ray(address: str | None, after: Callable[[], None] | None = None) -> None:
    """Connect to the cluster at `address` (None: $RAY_ADDRESS, else a new local Ray); once per process.
    `after` runs once Ray is up (the sweep reinstalls its signal handlers: Ray sets its own)."""
    import ray

    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING,
                 runtime_env={"env_vars": {"TF_CPP_MIN_LOG_LEVEL": "3"}})
    quiet_ray_logs()
    if after is not None:
        after()


def _nodes() -> list[dict[str, Any]]:
    import ray

    return [n for n in ray.nodes() if n.get("Alive")]


def check_resources(spec: SweepSpec, *, wait_s: float, note: Callable[[str], None] | None = None) -> None:
    """Raise `InfeasibleResources` unless some node can hold one trial's request. With `wait_s` > 0 (an
    autoscaling cluster), wait that long for such a node to join, saying so through `note`."""
    cpus, gpus = spec.resources.cpus, spec.resources.gpus
    want = f"{cpus:g} CPU" + (f" and {gpus:g} GPU" if gpus else "")
    deadline = time.monotonic() + wait_s
    while True:
        nodes = _nodes()
        if any(n["Resources"].get("CPU", 0) >= cpus and n["Resources"].get("GPU", 0) >= gpus for n in nodes):
            return
        if time.monotonic() >= deadline:
            break
        if note is not None:
            note(f"waiting up to {deadline - time.monotonic():.0f} s more for a node with {want} (autoscaling)")
        time.sleep(min(5.0, max(0.0, deadline - time.monotonic())))
    largest = max(nodes, key=lambda n: (n["Resources"].get("GPU", 0), n["Resources"].get("CPU", 0)), default=None)
    biggest = (f"{largest['Resources'].get('CPU', 0):g} CPU and {largest['Resources'].get('GPU', 0):g} GPU"
               if largest else "no node at all")
    waited = f" after waiting {wait_s:g} s" if wait_s else ""
    raise InfeasibleResources(f"resources: each trial asks for {want}, but no node of the cluster has that{waited} "
                              f"({len(nodes)} nodes; the largest has {biggest}); lower resources, or set "
                              "resources.wait_for_nodes for a cluster that scales up")


def check_code_versions(expected: str) -> None:
    """Raise `CodeMismatch` if any node runs other gatesweep code than this driver (one tiny task per node)."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    from pipeline.core.version import node_code_version

    probe = ray.remote(num_cpus=0)(node_code_version)
    nodes = _nodes()
    refs = [probe.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)).remote()
            for n in nodes]
    for node, version in zip(nodes, ray.get(refs, timeout=120), strict=True):
        if version != expected:
            raise CodeMismatch(f"node {node.get('NodeManagerAddress')} ({node['NodeID'][:12]}) runs gatesweep "
                               f"{version}, the driver {expected}: install the same code on every node")
