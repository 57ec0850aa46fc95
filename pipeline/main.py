"""The `gatesweep` console entry point: the application's commands and the developer tools' `bench`.

It sits above both, so that neither imports the other for the sake of the command line: `pipeline.app.cli`
knows nothing of `pipeline.dev`, and `pipeline.dev` (whose benchmarks run sweeps) imports the application.
"""

from __future__ import annotations

import os
import sys

from pipeline.app import cli
from pipeline.dev.cli import add_bench_parser, run_bench

BENCH = cli.Subcommand("bench", add_bench_parser, run_bench, stops_gracefully=True)


def main(argv: list[str] | None = None) -> int:
    """`gatesweep ARGS`: see `pipeline.app.cli.main`."""
    # TensorFlow reads this once, when a command first imports it (lazily, after this line): without it,
    # `gatesweep forecast` prints XLA's "Compiled cluster using XLA!" info line and, on a machine without a GPU,
    # cuInit's error among its own lines (a user's setting wins; the sweep's workers use 3 too)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return cli.main(argv, extra=(BENCH,))


def entry() -> None:
    sys.exit(main())
