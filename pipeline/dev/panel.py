"""What a global model over many series costs (`python -m pipeline.dev.panel`): one trial on a panel of
`--series` series of `--points` points each, against one trial on a single series long enough to give the same
number of training windows, with the same network and batch size. Printed: training windows, steps and steady
seconds per epoch of each, and their ratio.

The panel's windows are batched across series (one training set, shuffled as one), so an epoch costs what its
windows cost; what a panel adds is per-series preparation (scaling, windows, origins) once per trial and the
forecasts of each series' origins at validation.
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np

from pipeline.core.data import Panel, Series
from pipeline.core.hparams import HParams
from pipeline.core.models import configure_tensorflow
from pipeline.core.scoring import Scoring
from pipeline.core.training import fit_and_score


def _panel(series: int, points: int, seed: int = 0) -> object:
    rng = np.random.default_rng(seed)
    t = np.arange(points)
    out = []
    for k in range(series):
        level, amp, period = rng.uniform(10, 1000), rng.uniform(1, 50), rng.integers(6, 20)
        y = level + amp * np.sin(2 * np.pi * t / period) + rng.normal(0, amp / 10, points)
        price = 10 + rng.normal(0, 0.2, points).cumsum()
        out.append(Series(f"s{k}", y, price[:, None], ((t % 12) + 1.0)[:, None]))
    return Panel(tuple(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=40)
    parser.add_argument("--points", type=int, default=100)
    parser.add_argument("--horizon", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--arch", default="lstm")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    configure_tensorflow(1)

    hp = HParams.of(args.arch, {"hidden_size": 32, "window": 12, "optimizer": "adam", "learning_rate": 0.005,
                                "batch_size": 32, "epochs": args.epochs, "strategy": "direct"})
    panel = _panel(args.series, args.points)
    assert isinstance(panel, Panel)
    scoring = Scoring(horizon=args.horizon)
    many = fit_and_score(hp, panel, scoring, seed=0, evaluate_test=False)
    # one series giving the same number of training windows: its training part (70%) holds them all
    windows = int(many.metrics["train_windows"])
    n = int(np.ceil((windows + hp.window + args.horizon - 1) / 0.7)) + 1
    long = _panel(1, n, seed=1)
    assert isinstance(long, Panel)
    first = long.series[0]
    one = fit_and_score(hp, Panel((Series("one", first.y, first.past, first.future),)), scoring, seed=0,
                        evaluate_test=False)
    rows = {f"panel ({args.series} x {args.points})": many.metrics, f"one series ({n} points)": one.metrics}
    out = {name: {k: m[k] for k in ("train_windows", "steps_per_epoch", "seconds_per_epoch", "compile_seconds")}
           for name, m in rows.items()}
    out["ratio (panel / one series), seconds per epoch"] = {
        "value": many.metrics["seconds_per_epoch"] / one.metrics["seconds_per_epoch"]}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
