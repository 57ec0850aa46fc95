"""Coverage of the hand-over's split conformal intervals on held-out origins of simulated series
(`python -m pipeline.dev.coverage [--replicates 3] [--seeds 3]`).

Each replicate simulates a seasonal AR(1) series of `N + HELD` points. A GRU seed ensemble is trained as a confirm
run is (`fit_and_score`, final fit on train + validation) on the first `N`; the half-widths come from the
ensemble's errors at that part's test origins (what `reports.handover` does), and coverage is measured from
`HELD` more origins after it, never seen by the networks or the calibration (the kept networks forecast them
through `pipeline.core.handover`, as `gatesweep forecast` would). The table: nominal level, step, coverage.

`--dataset elnino|sunspots|nile|co2` does the same on a real built-in series instead (`sim`, the default: the
simulated ones): the networks and the calibration see its first three quarters, coverage is measured from origins in
its last quarter. Each table has four rows per level, all on the same held-out origins: `fixed`, the test origins'
errors (what the registered model's intervals are), `rolling`, the errors of the latest origins known at each origin,
as many as the test origins (a model recalibrated as new values arrive), `adaptive`, the same latest errors at ACI's
running level (`pipeline.core.conformal.adaptive_walk` through the test origins and then the held-out ones, what
`gatesweep forecast --data` does), and `adaptive-sweep`, ACI through the test origins only, its final level's
half-widths for every held-out origin (what ACI would make of the forecast right after the sweep).
"""

from __future__ import annotations

import argparse
import base64

import numpy as np

from pipeline.core.config import BundledDataset, SplitSpec
from pipeline.core.conformal import LEVELS, adaptive_walk, calibration_scores, conformal_half_widths
from pipeline.core.data import load_series
from pipeline.core.handover import History, Network, NetworkState, decode_weights
from pipeline.core.hparams import HParams
from pipeline.core.metrics import mase_scale
from pipeline.core.origins import targets
from pipeline.core.scoring import Scoring
from pipeline.core.training import fit_and_score

N, HELD, SEASON, HORIZON = 240, 120, 12, 3
BUILTIN_SEASONS = {"elnino": 12, "co2": 52}  # sunspots and nile: yearly, no season
HP = HParams.of("gru", dict(hidden_size=16, window=24, batch_size=16, epochs=60, optimizer="adam",
                            learning_rate=0.01, transform="none"))


def simulate(seed: int, n: int = N + HELD) -> np.ndarray:
    """A seasonal AR(1): `y = 10 + 3 sin(2πt/12) + u`, `u_t = 0.6 u_{t-1} + e`, `e ~ N(0, 1)`."""
    rng = np.random.default_rng(seed)
    u = np.zeros(n)
    for t in range(1, n):
        u[t] = 0.6 * u[t - 1] + rng.normal()
    return 10 + 3 * np.sin(2 * np.pi * np.arange(n) / SEASON) + u


def replicate(seed: int, seeds: int) -> dict[str, dict[int, np.ndarray]]:
    """See `held_out_hits`, on a simulated series."""
    return held_out_hits(simulate(seed), N, SEASON, seeds)


def held_out_hits(y: np.ndarray, n: int, season: int | None, seeds: int,
                  hp: HParams = HP) -> dict[str, dict[int, np.ndarray]]:
    """Per calibration (`fixed`: the test origins' errors, as the registered model has them; `rolling`: the
    errors of the latest origins whose values are known at each origin, as many as the test origins; `adaptive`:
    those at ACI's running level; `adaptive-sweep`: ACI's final level after the test origins), per level, per step:
    whether each origin after `y[:n]`, the part the networks see, has its value inside its interval
    `(origins, H)`."""
    part = y[:n]
    nets, test_preds, test_at = [], [], None
    scoring = Scoring(split=SplitSpec(train=0.6, validation=0.2, test=0.2), season=season, horizon=HORIZON,
                      origin_step=1)
    for s in range(seeds):
        r = fit_and_score(hp, part, scoring, seed=s, evaluate_test=True, keep_model=True, refit=True)
        assert r.model is not None and r.forecasts is not None
        test_at = np.asarray(r.forecasts["test_origins"], int)
        test_preds.append(np.asarray(r.forecasts["test_pred"]).reshape(len(test_at), HORIZON))
        nets.append(Network(NetworkState.model_validate(r.model["state"]),
                            decode_weights(base64.b64decode(r.model["weights"]))))
    assert test_at is not None
    scale = mase_scale(part[:test_at[0]], season)
    held = np.arange(n, len(y) - HORIZON + 1)
    history = History("series", y, np.zeros((len(y), 0)), np.zeros((len(y), 0)))
    held_pred = np.median([net.forecast([history], [held])[0] for net in nets], axis=0)
    at = np.concatenate([test_at, held])
    scores = calibration_scores([np.concatenate([np.median(test_preds, axis=0), held_pred])],
                                [targets(y, at, HORIZON)], [scale])
    k = len(test_at)
    fixed = conformal_half_widths(scores[:k])
    # rolling is ACI standing still (gamma 0): the plain quantile of the latest k errors known at each origin
    rolling = {level: adaptive_walk(scores, at, HORIZON, level, gamma=0, window=k).widths[k:] for level in LEVELS}
    adaptive = {level: adaptive_walk(scores, at, HORIZON, level, window=k).widths[k:] for level in LEVELS}
    sweep = {level: adaptive_walk(scores[:k], at[:k], HORIZON, level, window=k).final_widths for level in LEVELS}
    return {"fixed": {level: scores[k:] <= w[None, :] for level, w in fixed.items()},
            "rolling": {level: scores[k:] <= w for level, w in rolling.items()},
            "adaptive": {level: scores[k:] <= w for level, w in adaptive.items()},
            "adaptive-sweep": {level: scores[k:] <= w[None, :] for level, w in sweep.items()}}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--replicates", type=int, default=3)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--dataset", choices=("sim", "elnino", "sunspots", "nile", "co2"), default="sim",
                   help="a real built-in series instead of simulated ones (sim)")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="a hyperparameter of the networks instead of the default (e.g. normalize=window)")
    args = p.parse_args(argv)
    hp = HParams.of("gru", HP.values() | dict(pair.split("=", 1) for pair in args.set))
    if args.dataset != "sim":
        # co2 misses a few weeks: interpolated as a sweep file's `missing: interpolate` does
        y = load_series(BundledDataset(name=args.dataset, source=args.dataset, missing="interpolate"))
        n = len(y) - len(y) // 4
        hits = [held_out_hits(y, n, BUILTIN_SEASONS.get(args.dataset), args.seeds, hp)]
        print(f"{args.dataset}: {len(y)} values, the first {n} for the networks and the calibration "
              f"({int(0.2 * n)} test origins), {len(y) - n - HORIZON + 1} held-out origins, {args.seeds} GRU seeds; "
              f"{' '.join(args.set) or 'the default networks'}")
    else:
        hits = [replicate(100 + r, args.seeds) for r in range(args.replicates)]
        print(f"{args.replicates} simulated series x {HELD - HORIZON + 1} held-out origins, {args.seeds} GRU seeds "
              f"each; calibrated on {int(0.2 * N)} test origins per series")
    print("| calibration | nominal | " + " | ".join(f"step {h + 1}" for h in range(HORIZON)) + " | all steps |")
    print("|---|---|" + "---|" * (HORIZON + 1))
    for mode in ("fixed", "rolling", "adaptive", "adaptive-sweep"):
        for level in LEVELS:
            inside = np.concatenate([h[mode][level] for h in hits])
            print(f"| {mode} | {level}% | " + " | ".join(f"{100 * inside[:, k].mean():.1f}%" for k in range(HORIZON))
                  + f" | {100 * inside.mean():.1f}% |")


if __name__ == "__main__":
    main()
