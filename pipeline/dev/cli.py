"""`gatesweep bench`: the developer tools' command-line options and what runs them (kept out of the
application's CLI, which only registers the subcommand)."""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from pipeline.core.data import load_sweep
from pipeline.core.errors import UsageError
from pipeline.core.hparams import ARCHITECTURES
from pipeline.dev.competition import BENCHMARKS, bench_spec, competition_benchmark, format_competition, space_for


def add_bench_parser(sub: Any) -> None:
    """The `bench` subcommand and its options, on the CLI's subparsers."""
    b = sub.add_parser("bench", help="time the source article's Keras loop, gatesweep's loop and a minimal XLA step")
    b.add_argument("--epochs", type=int, default=100, help="timed epochs per loop (default 100)")
    b.add_argument("--arch", choices=ARCHITECTURES, action="append", help="default: both")
    b.add_argument("--points", type=int, default=180, help="closed-loop points to generate (default 180)")
    b.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    b.add_argument("--benchmark", choices=sorted(BENCHMARKS),
                   help="instead: the baselines and a sweep on a public benchmark under the competition's protocol, "
                        "beside published figures (m3-monthly: search_spaces/m3_monthly.yaml)")
    b.add_argument("--series", type=int, help="with --benchmark: a seeded sample of this many series (default all)")
    b.add_argument("--space", type=Path, help="with --benchmark: another search space (its first dataset is set to "
                                              "the benchmark's)")
    b.add_argument("--baselines-only", action="store_true", help="with --benchmark: no sweep, the baselines only")
    b.add_argument("--workdir", type=Path, help="with --benchmark: keep the sweep (MLflow store, outputs) here "
                                                "(default: a temporary directory)")
    b.add_argument("--orchestration", action="store_true",
                   help="instead: a real sweep's tune-phase wall time vs the sum of its trial times / slots")
    b.add_argument("--trials", type=int, default=16,
                   help="with --orchestration: trials, half per architecture, odd rounds down (default 16)")
    b.add_argument("--trial-epochs", type=int, default=700,
                   help="with --orchestration: epochs per trial (default 700, ~16 s here; 30 is 1.5-2 s)")
    b.add_argument("--mlflow", type=Path, metavar="SPACE",
                   help="instead: run SPACE.yaml against a local mlflow server it starts, and report the time "
                        "and CPU spent in MLflow (e.g. search_spaces/quickstart.yaml)")
    b.add_argument("--scale", action="store_true",
                   help="instead: the driver path (searcher, callback, outbox, writer, a real store) at N "
                        "concurrent synthetic trials; figures per store and N")
    b.add_argument("--slots", default="16,64,256,1024", help="with --scale: the Ns (default 16,64,256,1024)")
    b.add_argument("--stores", default="sqlite,server,postgres",
                   help="with --scale: sqlite (embedded), server (mlflow server on SQLite), postgres (mlflow "
                        "server on a throwaway PostgreSQL); default all three")
    b.add_argument("--writers", default="1,4", help="with --scale: outbox writer threads to compare (default 1,4)")
    b.add_argument("--history-every", type=int, default=1,
                   help="with --scale: log every k-th epoch's rows, as tracking.history_every (default 1)")
    b.add_argument("--sampler", choices=("tpe", "random", "qmc"), default="tpe",
                   help="with --scale: the sweep's sampler (TPE's suggest grows with the trials seen)")
    b.add_argument("--seconds", type=float, default=60.0, help="with --scale: seconds of load per N (default 60)")
    b.add_argument("--trial-seconds", type=float, default=10.0,
                   help="with --scale: one synthetic trial's length (default 10, a quickstart trial on one core)")


def run_bench(args: argparse.Namespace) -> int:
    from pipeline.dev.bench import format_benchmark, run_benchmark  # lazy: the sweep loads SciPy

    if args.epochs < 2 or args.points < 1:
        raise UsageError("(command line): --epochs must be >= 2 and --points >= 1")
    if args.benchmark:
        if args.series is not None and args.series < 1:
            raise UsageError("(command line): --series must be >= 1")
        space = args.space or space_for(args.benchmark)
        load_sweep(space)  # bad input: exit 2 at once
        with tempfile.TemporaryDirectory() as tmp:
            load_sweep(bench_spec(args.benchmark, space, args.series, Path(tmp)))
            work = args.workdir or Path(tmp)
            r = competition_benchmark(args.benchmark, work, series=args.series, space=space,
                                      networks=not args.baselines_only)
            return _bench_output(args, format_competition(r), r)
    if args.mlflow:
        from pipeline.dev.bench import format_mlflow_benchmark, mlflow_benchmark  # lazy: the sweep loads SciPy

        load_sweep(args.mlflow)  # bad input: exit 2 before a server starts
        with tempfile.TemporaryDirectory() as tmp:
            r = mlflow_benchmark(args.mlflow, Path(tmp))
        return _bench_output(args, format_mlflow_benchmark(r), r)
    if args.scale:
        from pipeline.dev.scale import format_scale, scale_benchmark  # lazy: loads MLflow, Ray

        try:
            slots = [int(x) for x in args.slots.split(",")]
            writers = tuple(int(x) for x in args.writers.split(","))
        except ValueError:
            raise UsageError("(command line): --slots and --writers: comma-separated whole numbers") from None
        stores = args.stores.split(",")
        if min(slots) < 1 or min(writers) < 1 or not set(stores) <= {"sqlite", "server", "postgres"}:
            raise UsageError("(command line): --slots and --writers must be >= 1, --stores among sqlite, server, "
                             "postgres")
        if args.history_every < 1:
            raise UsageError("(command line): --history-every must be >= 1")
        if args.seconds <= args.trial_seconds or args.trial_seconds < 2:
            raise UsageError("(command line): --trial-seconds must be >= 2 and --seconds longer than it")
        print(format_scale([]), flush=True)  # the header; a line per store and N as each is measured
        with tempfile.TemporaryDirectory() as tmp:
            rows = scale_benchmark(Path(tmp), slots, stores, args.seconds, args.trial_seconds, writers,
                                   args.history_every, args.sampler,
                                   on_row=lambda row: print(format_scale([row]).splitlines()[1], flush=True))
        if args.json:
            args.json.write_text(json.dumps({"rows": rows}, indent=2))
        return 0
    if args.orchestration:
        from pipeline.dev.bench import orchestration_benchmark  # lazy: the sweep loads SciPy

        if args.trials < 2 or args.trial_epochs < 1:
            raise UsageError("(command line): --trials must be >= 2 and --trial-epochs >= 1")
        with tempfile.TemporaryDirectory() as tmp:
            r = orchestration_benchmark(Path(tmp), args.trials, args.trial_epochs)
        return _bench_output(args, f"{r['trials']:.0f} trials of {r['mean_trial_s']:.1f} s on average (Tune's "
                             f"time_total_s), {r['slots']:.0f} at a time: sum / slots = {r['ideal_s']:.1f} s; tune "
                             f"phase wall time {r['tune_wall_s']:.1f} s; ratio {r['ratio']:.2f} (target <= 1.25); "
                             f"overhead {r['overhead_per_trial_s']:.2f} s per trial", r)
    result = run_benchmark(args.arch or list(ARCHITECTURES), args.epochs, args.points)
    return _bench_output(args, format_benchmark(result, args.epochs, args.points), result)


def _bench_output(args: argparse.Namespace, text: str, figures: dict[str, Any]) -> int:
    print(text)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0
