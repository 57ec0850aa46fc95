"""Choosing ACI's step `gamma` (`pipeline.core.conformal.GAMMA_SHARE`) on simulated error sequences only
(`python -m pipeline.dev.aci_gamma [--replicates 100]`, pure numpy, 2 CPU minutes).

Each replicate is an AR(1) series (`phi` 0.6) forecast 3 steps ahead by its own recursion from every origin; the
first `k` origins are a sweep's test origins (the calibration), the next ones held out, as in
`pipeline.dev.coverage`: 48 + 118 (its simulated series) and 109 + 181 (elnino's sizes). The innovations' standard
deviation is constant (`stationary`), grows linearly from 1 to 2 over the origins (`drift`), or doubles halfway
through the held-out part (`jump`): the ways a real series' later errors outgrow its test origins'. Coverage on the
held-out origins, per calibration: `fixed` (the test origins' scores), `rolling` (the latest `k` known at each
origin), `aci` (ACI over the test and held-out origins in time order, on the latest `k` known, or all known with
`aci-all`), and `aci-sweep` (ACI through the test origins only, its final level applied to every held-out origin:
the forecast right after the sweep). Each cell: mean coverage over replicates, and in brackets the spread
(standard deviation) of a replicate's coverage, what a user of one series sees, and the share of infinite
intervals (ACI's `alpha <= 0`) when there are any. `share` is `gamma` over the level's miscoverage (0.1: 0.02 at
80%, 0.005 at 95%).
"""

from __future__ import annotations

import argparse

import numpy as np

from pipeline.core.conformal import LEVELS, adaptive_walk, conformal_half_widths

HORIZON, PHI = 3, 0.6
SIZES = ((48, 118), (109, 181))
SCENARIOS = ("stationary", "drift", "jump")
SHARES = (0.025, 0.05, 0.1, 0.25)  # gamma / (1 - level): 0.005-0.05 at 80%


def scores_of(scenario: str, k: int, held: int, rng: np.random.Generator) -> np.ndarray:
    """Absolute errors `(k + held, HORIZON)` of the recursion's forecasts from consecutive origins."""
    n = k + held + HORIZON + 50  # 50 values of burn-in before the first origin
    sd = np.ones(n)
    if scenario == "drift":
        sd[50:] = np.linspace(1, 2, n - 50)
    elif scenario == "jump":
        sd[50 + k + held // 2:] = 2.0
    y = np.zeros(n)
    e = rng.normal(size=n) * sd
    for t in range(1, n):
        y[t] = PHI * y[t - 1] + e[t]
    at = np.arange(50, 50 + k + held)
    pred = y[at - 1][:, None] * PHI ** np.arange(1, HORIZON + 1)[None, :]
    return np.abs(y[at[:, None] + np.arange(HORIZON)[None, :]] - pred)


CALIBRATIONS = ("fixed", "rolling", "aci", "aci-all", "aci-sweep")


def held_out_coverage(scores: np.ndarray, k: int, shares: tuple[float, ...]) -> dict[tuple[str, float], np.ndarray]:
    """Per calibration and gamma's share (0 for fixed and rolling), per level: the share of held-out scores inside their
    interval (all steps), and the share of those intervals that are infinite `(levels, 2)`."""
    origins, held = np.arange(len(scores)), scores[k:]

    def rate(widths: np.ndarray) -> list[float]:
        widths = np.broadcast_to(widths, held.shape)
        return [float(np.mean(held <= widths)), float(np.mean(np.isinf(widths)))]

    fixed = conformal_half_widths(scores[:k])
    out = {("fixed", 0.0): np.array([rate(fixed[level]) for level in LEVELS]),
           ("rolling", 0.0): np.array([rate(adaptive_walk(scores, origins, HORIZON, level, 0.0, k).widths[k:])
                                       for level in LEVELS])}
    for g in shares:
        out["aci", g] = np.array([rate(adaptive_walk(scores, origins, HORIZON, level, g * (1 - level / 100), k)
                                       .widths[k:]) for level in LEVELS])
        out["aci-all", g] = np.array([rate(adaptive_walk(scores, origins, HORIZON, level, g * (1 - level / 100))
                                           .widths[k:]) for level in LEVELS])
        out["aci-sweep", g] = np.array([rate(adaptive_walk(scores[:k], origins[:k], HORIZON, level,
                                                           g * (1 - level / 100), k).final_widths)
                                        for level in LEVELS])
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--replicates", type=int, default=100)
    p.add_argument("--share", type=float, action="append", help="gamma / (1 - level), instead of the default grid")
    args = p.parse_args(argv)
    shares = tuple(args.share or SHARES)
    print(f"{args.replicates} replicates per scenario and size; coverage of the held-out origins: mean (spread), "
          "and the share of infinite intervals where there are any")
    for k, held in SIZES:
        for scenario in SCENARIOS:
            runs = [held_out_coverage(scores_of(scenario, k, held, np.random.default_rng(r)), k, shares)
                    for r in range(args.replicates)]
            print(f"\n{scenario}, {k} test + {held} held-out origins")
            print("| calibration | share | " + " | ".join(f"{level}%" for level in LEVELS) + " |")
            print("|---|---|" + "---|" * len(LEVELS))
            for name, g in runs[0]:
                got = 100 * np.array([run[name, g] for run in runs])  # (replicates, levels, 2)
                cells = [f"{got[:, i, 0].mean():.1f}% ({got[:, i, 0].std():.1f})"
                         + (f", inf {got[:, i, 1].mean():.1f}%" if got[:, i, 1].any() else "")
                         for i in range(len(LEVELS))]
                print(f"| {name} | {g if name.startswith('aci') else '-'} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
