"""Coverage of the hand-over's split conformal intervals on held-out origins of simulated series
(`python -m pipeline.dev.coverage [--replicates 3] [--seeds 3]`).

Each replicate simulates a seasonal AR(1) series of `N + HELD` points. A GRU seed ensemble is trained as a confirm
run is (`fit_and_score`, final fit on train + validation) on the first `N`; the half-widths come from the
ensemble's errors at that part's test origins (what `reports.handover` does), and coverage is measured from
`HELD` more origins after it, never seen by the networks or the calibration (the kept networks forecast them
through `pipeline.core.handover`, as `gatesweep forecast` would). The table: nominal level, step, coverage.
"""

from __future__ import annotations

import argparse
import base64

import numpy as np

from pipeline.core.config import SplitSpec
from pipeline.core.conformal import LEVELS, calibration_scores, conformal_half_widths
from pipeline.core.handover import History, Network, NetworkState, decode_weights
from pipeline.core.hparams import HParams
from pipeline.core.metrics import mase_scale
from pipeline.core.origins import targets
from pipeline.core.training import fit_and_score

N, HELD, SEASON, HORIZON = 240, 120, 12, 3
HP = HParams.of("gru", dict(hidden_size=16, window=24, batch_size=16, epochs=60, optimizer="adam",
                            learning_rate=0.01, transform="none"))


def simulate(seed: int, n: int = N + HELD) -> np.ndarray:
    """A seasonal AR(1): `y = 10 + 3 sin(2πt/12) + u`, `u_t = 0.6 u_{t-1} + e`, `e ~ N(0, 1)`."""
    rng = np.random.default_rng(seed)
    u = np.zeros(n)
    for t in range(1, n):
        u[t] = 0.6 * u[t - 1] + rng.normal()
    return 10 + 3 * np.sin(2 * np.pi * np.arange(n) / SEASON) + u


def replicate(seed: int, seeds: int) -> dict[int, np.ndarray]:
    """Per level, per step: whether each held-out origin's value fell inside its interval `(origins, H)`."""
    y = simulate(seed)
    part = y[:N]
    nets, test_preds, test_at = [], [], None
    for s in range(seeds):
        r = fit_and_score(HP, part, SplitSpec(train=0.6, validation=0.2, test=0.2), seed=s, evaluate_test=True,
                          horizon=HORIZON, origin_step=1, keep_model=True, refit=True)
        assert r.model is not None and r.forecasts is not None
        test_at = np.asarray(r.forecasts["test_origins"], int)
        test_preds.append(np.asarray(r.forecasts["test_pred"]).reshape(len(test_at), HORIZON))
        nets.append(Network(NetworkState.model_validate(r.model["state"]),
                            decode_weights(base64.b64decode(r.model["weights"]))))
    assert test_at is not None
    scale = mase_scale(part[:test_at[0]], None)
    pred = np.median(test_preds, axis=0)
    widths = conformal_half_widths(calibration_scores([pred], [targets(part, test_at, HORIZON)], [scale]))
    held = np.arange(N, N + HELD - HORIZON + 1)
    history = History("series", y, np.zeros((len(y), 0)), np.zeros((len(y), 0)))
    held_pred = np.median([net.forecast([history], [held])[0] for net in nets], axis=0)
    err = np.abs(targets(y, held, HORIZON) - held_pred)
    return {level: err <= w[None, :] * scale for level, w in widths.items()}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--replicates", type=int, default=3)
    p.add_argument("--seeds", type=int, default=3)
    args = p.parse_args(argv)
    hits = [replicate(100 + r, args.seeds) for r in range(args.replicates)]
    print(f"{args.replicates} simulated series x {HELD - HORIZON + 1} held-out origins, {args.seeds} GRU seeds each; "
          f"calibrated on {int(0.2 * N)} test origins per series")
    print("| nominal | " + " | ".join(f"step {h + 1}" for h in range(HORIZON)) + " | all steps |")
    print("|---|" + "---|" * (HORIZON + 1))
    for level in LEVELS:
        inside = np.concatenate([h[level] for h in hits])
        print(f"| {level}% | " + " | ".join(f"{100 * inside[:, k].mean():.1f}%" for k in range(HORIZON))
              + f" | {100 * inside.mean():.1f}% |")


if __name__ == "__main__":
    main()
