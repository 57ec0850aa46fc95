"""Which code a process runs: the driver's and every worker's must match, and every run records its own."""

from __future__ import annotations

import functools
import subprocess
from importlib.metadata import version
from pathlib import Path


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """The git commit of the code that runs (with `-dirty` when it has local changes), or the installed
    package's version when it does not run from a git checkout."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return f"gatesweep-{version('gatesweep')}"
    return commit + ("-dirty" if dirty else "")


def node_code_version() -> str:
    """`code_version`, as a plain function that Ray can run as a task on each node."""
    return code_version()
