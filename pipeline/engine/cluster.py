"""The Ray cluster a sweep runs on: starting or joining it, and the checks made before any trial starts
(can a node hold one trial; does every node run the driver's code)."""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipeline.core.config import SweepSpec
from pipeline.core.errors import BadReference
from pipeline.core.version import node_code_version

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


def start_ray(address: str | None, after: Callable[[], None] | None = None,
              stop: Callable[[], None] | None = None) -> None:
    """Connect to the cluster at `address` (None: $RAY_ADDRESS, else a new local Ray: `LocalHead`); once per
    process. `after` runs once Ray is up (the sweep reinstalls its signal handlers: Ray sets its own); `stop`
    is called while waiting for a local head, and raises to give up (a signal came)."""
    import ray  # lazy: loads Ray

    if not ray.is_initialized():
        if address is None and not os.environ.get("RAY_ADDRESS"):
            address = LocalHead.start(stop).address
        ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING,
                 runtime_env={"env_vars": {"TF_CPP_MIN_LOG_LEVEL": "3"}})
    quiet_ray_logs()
    if after is not None:
        after()


class LocalHead:
    """The local Ray a sweep starts when given no cluster: `ray start --head --block` in a session of its own.

    Why not `ray.init()` in the driver: its Ray processes would share the driver's process group, and a signal
    to the whole group (systemd stopping a unit, a closed terminal, `kill -- -PGID`) would kill them at the
    moment the driver needs them to stop Tune and save its state. In its own session the group signal reaches
    only the driver, which stops gracefully and then stops this head (at exit). If the driver dies without
    running its exit handlers (SIGKILL, a second signal), the head goes too: it is started with the kernel's
    parent-death signal, and its processes share its fate the same way (Ray's reaper)."""

    READY = "Ray runtime started"
    START_TIMEOUT_S = 120.0

    def __init__(self, process: subprocess.Popen[bytes], address: str, log: Path) -> None:
        self.process, self.address, self.log = process, address, log

    @classmethod
    def start(cls, stop: Callable[[], None] | None = None) -> LocalHead:
        import ray._private.utils as ray_utils  # lazy: loads Ray

        port = _free_port()
        # a temp dir of its own: `ray start` records its address in its temp dir, and a later `ray.init()` on
        # this machine (the user's, a test's) would connect to that address instead of starting its own Ray
        temp = Path(tempfile.mkdtemp(prefix="gatesweep-ray-"))
        log = temp / "ray-start.log"
        ray_cli = Path(sys.executable).with_name("ray")
        command = [str(ray_cli) if ray_cli.exists() else "ray", "start", "--head", f"--port={port}",
                   f"--temp-dir={temp}", "--include-dashboard=false", "--disable-usage-stats", "--block"]

        def fate_share() -> None:  # runs in the child: die with the driver
            if ray_utils.detect_fate_sharing_support():
                ray_utils.set_kill_on_parent_death_linux()

        # token authentication with a fresh token: only this driver (and the head's own workers) can connect
        token = secrets.token_hex(32)
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token}
        env.pop("RAY_AUTH_TOKEN_PATH", None)
        with log.open("wb") as out:
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       start_new_session=True, preexec_fn=fate_share, env=env)
        head = cls(process, f"127.0.0.1:{port}", log)
        atexit.register(head.stop)
        deadline = time.monotonic() + cls.START_TIMEOUT_S
        while cls.READY not in log.read_text(encoding="utf-8", errors="replace"):
            if stop is not None:
                try:
                    stop()
                except BaseException:
                    head.stop()
                    raise
            if process.poll() is not None or time.monotonic() > deadline:
                head.stop()
                tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-3:]
                raise RuntimeError(f"local Ray did not start (exit {process.returncode}): " + " | ".join(tail))
            time.sleep(0.1)
        _use_token(token)
        return head

    def stop(self, grace_s: float = 3.0) -> None:
        """Stop the head and every process of its session: SIGTERM, then SIGKILL after `grace_s` (Ray would
        drain for 30 s, but by now the driver has saved everything: nothing runs there).

        The driver disconnects first. Ray registers its own exit handler when it is imported, before this one,
        so at exit this one runs first; a head killed under a connected driver makes Ray's core worker end the
        process with status 1 (CI saw a finished nightly exit 1, and a SIGTERM'd sweep exit 1 instead of 143)."""
        import ray  # lazy: loads Ray

        if ray.is_initialized():
            ray.shutdown()
        if _group_alive(self.process.pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            deadline = time.monotonic() + grace_s
            while _group_alive(self.process.pid) and time.monotonic() < deadline:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.process.wait(timeout=0.1)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        if self.log.parent.exists():
            try:  # its sessions' logs: trial output that matters is in each run's error.txt
                shutil.rmtree(self.log.parent)
            except OSError as exc:
                logging.getLogger(__name__).warning("could not remove the local Ray's temp dir %s: %s",
                                                    self.log.parent, exc)


def _use_token(token: str) -> None:
    """This process authenticates to Ray with `token` from now on. Ray reads its authentication settings
    into a cached config when it is imported, so the cache is refreshed (as Ray's own tests do)."""
    os.environ["RAY_AUTH_MODE"], os.environ["RAY_AUTH_TOKEN"] = "token", token
    os.environ.pop("RAY_AUTH_TOKEN_PATH", None)
    from ray._raylet import AuthenticationTokenLoader, Config  # type: ignore[attr-defined]  # lazy: loads Ray

    Config.initialize("")
    AuthenticationTokenLoader.instance().reset_cache()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _nodes() -> list[dict[str, Any]]:
    import ray  # lazy: loads Ray

    return [n for n in ray.nodes() if n.get("Alive")]


def check_resources(spec: SweepSpec, *, wait_s: float, note: Callable[[str], None] | None = None,
                    stop: Callable[[], None] | None = None) -> None:
    """Raise `InfeasibleResources` unless some node can hold one trial's request. With `wait_s` > 0 (an
    autoscaling cluster), wait that long for such a node to join, saying so through `note`; `stop` is called
    between looks, and raises to give up."""
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
        for _ in range(50):  # 5 s in steps, so that a stop request is seen within 0.1 s
            if stop is not None:
                stop()
            time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
    largest = max(nodes, key=lambda n: (n["Resources"].get("GPU", 0), n["Resources"].get("CPU", 0)), default=None)
    biggest = (f"{largest['Resources'].get('CPU', 0):g} CPU and {largest['Resources'].get('GPU', 0):g} GPU"
               if largest else "no node at all")
    waited = f" after waiting {wait_s:g} s" if wait_s else ""
    raise InfeasibleResources(f"resources: each trial asks for {want}, but no node of the cluster has that{waited} "
                              f"({len(nodes)} nodes; the largest has {biggest}); lower resources, or set "
                              "resources.wait_for_nodes for a cluster that scales up")


def check_code_versions(expected: str) -> None:
    """Raise `CodeMismatch` if any node runs other gatesweep code than this driver (one tiny task per node)."""
    import ray  # lazy: loads Ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy  # lazy: loads Ray

    probe = ray.remote(num_cpus=0)(node_code_version)
    nodes = _nodes()
    refs = [probe.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)).remote()
            for n in nodes]
    for node, version in zip(nodes, ray.get(refs, timeout=120), strict=True):
        if version != expected:
            raise CodeMismatch(f"node {node.get('NodeManagerAddress')} ({node['NodeID'][:12]}) runs gatesweep "
                               f"{version}, the driver {expected}: install the same code on every node")
