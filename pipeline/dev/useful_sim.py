"""Error rates of the usefulness rule (`reports.useful`): how often it calls a network useful when it forecasts
no better than the best baseline, and how often when it is better (`python -m pipeline.dev.useful_sim`).

Simulated errors: for a forecaster `f` on one series, `e_f(t) = s_f · (sqrt(rho)·c(t) + sqrt(1-rho)·u_f(t))`, with
`c` a shock every forecaster misses alike and `u_f` its own, both AR(1) with coefficient `phi` over time; the
forecast from origin `o` at step `h` has the error at time `o + h`, so overlapping horizons share errors. Two
networks (GRU, LSTM) and three baselines; `s` is 1 for the best baseline and the networks under H0, 1.3 for the
other baselines, and `1 - effect` for both networks under H1. The rule picks the network with the lower ensemble
MASE and tests it one-sided against every baseline at alpha/2: each rejection under H0 is a false "useful".
Panels: each series' MASE ratio carries, on top, a series effect (log-normal, sd 0.3, shared by all forecasters).
The defaults (2000 replications per cell) take about 75 s on one core here; the table is in the README.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
from scipy import stats
from scipy.signal import lfilter

from pipeline.verdict.horizon import Paths
from reports.useful import one_sided_dm, one_sided_panel

BASELINE_SCALES = (1.0, 1.3, 1.3)  # the best baseline, two worse ones


def _errors(rng: np.random.Generator, series: int, origins: int, horizon: int, step: int, scales: list[float],
            rho: float, phi: float) -> np.ndarray:
    """Every forecaster's errors on every series, `(series, forecasters, origins, horizon)` (truth 0, so the
    forecast is the error): a shock common to the forecasters plus each one's own, AR(1) paths of unit variance."""
    n = (origins - 1) * step + horizon
    z = rng.normal(size=(series, len(scales) + 1, n))
    z[..., 0] /= np.sqrt(1 - phi**2)  # start in the stationary law
    paths = lfilter([1.0], [1.0, -phi], z, axis=-1) * np.sqrt(1 - phi**2)
    e = np.asarray(scales)[None, :, None] * (np.sqrt(rho) * paths[:, :1] + np.sqrt(1 - rho) * paths[:, 1:])
    idx = (np.arange(origins) * step)[:, None] + np.arange(horizon)[None, :]
    return e[:, :, idx]


def rule_rejects(rng: np.random.Generator, series: int, origins: int, horizon: int, step: int, effect: float,
                 alpha: float, rho: float = 0.5, phi: float = 0.5, select: bool = True,
                 baselines: tuple[float, ...] = BASELINE_SCALES, panel_test: str = "wilcoxon") -> bool:
    """One replication: does the rule call a network useful? `select`: two networks, the better one tested at
    alpha/2 (the rule); else one network at alpha. `panel_test`: `wilcoxon` (the rule) or `t` (paired t on log
    MASE ratios, for comparison)."""
    nets = 2 if select else 1
    scales = [1 - effect] * nets + list(baselines)
    e = _errors(rng, series, origins, horizon, step, scales, rho, phi)
    level = alpha / 2 if select else alpha
    mase = np.abs(e).mean(axis=(2, 3))  # (series, forecasters), scale 1
    if series > 1:
        mase = mase * np.exp(rng.normal(0, 0.3, size=(series, 1)))  # series differ in difficulty
    best = int(np.argmin(mase[:, :nets].mean(axis=0)))
    at, truth = np.arange(origins) * step, np.zeros((origins, horizon))
    for b in range(nets, nets + len(baselines)):
        if series == 1:
            p = one_sided_dm(Paths(at, e[0, best], truth, 1.0), Paths(at, e[0, b], truth, 1.0))
        elif panel_test == "t":
            p = float(stats.ttest_1samp(np.log(mase[:, best] / mase[:, b]), 0.0, alternative="less").pvalue)
        else:
            p = one_sided_panel(mase[:, best], mase[:, b])
        if p >= level:
            return False
    return True


def rate(reps: int, seed: int = 0, **design: Any) -> float:
    """The share of `reps` replications in which the rule calls a network useful."""
    rng = np.random.default_rng(seed)
    return float(np.mean([rule_rejects(rng, **design) for _ in range(reps)]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=2000)
    ap.add_argument("--alpha", type=float, default=0.05)
    args = ap.parse_args(argv)
    designs: list[tuple[str, dict[str, int]]] = [
               ("one series, 1 step, 12 origins", dict(series=1, origins=12, horizon=1, step=1)),
               ("one series, 1 step, 40 origins", dict(series=1, origins=40, horizon=1, step=1)),
               ("one series, 6 steps, 4 origins 6 apart", dict(series=1, origins=4, horizon=6, step=6)),
               ("one series, 6 steps, 12 origins 2 apart", dict(series=1, origins=12, horizon=6, step=2)),
               ("panel of 5, 6 steps, 4 origins", dict(series=5, origins=4, horizon=6, step=6)),
               ("panel of 20, 6 steps, 4 origins", dict(series=20, origins=4, horizon=6, step=6)),
               ("panel of 100, 6 steps, 4 origins", dict(series=100, origins=4, horizon=6, step=6))]
    se = np.sqrt(args.alpha * (1 - args.alpha) / args.reps)
    print(f"alpha {args.alpha}, {args.reps} replications each (Monte Carlo se at alpha {se:.3f})\n")
    print("H0 columns: the networks forecast as well as the best baseline. 'rule' is the whole rule (better of two "
          "networks, every baseline, alpha/2 each); 'one test' is one network against one equal baseline at alpha "
          "(the component test's size). Power: both networks' errors that much smaller than the best baseline's.\n")
    print("| design | H0: rule | H0: one test at alpha | H0: one test, paired t | power 10% | power 20% | power 40% |")
    print("|---|---|---|---|---|---|---|")
    single: dict[str, Any] = {"select": False, "baselines": (1.0,)}
    for name, d in designs:
        row = [rate(args.reps, effect=0.0, alpha=args.alpha, **d),
               rate(args.reps, effect=0.0, alpha=args.alpha, **single, **d)]
        row.append(rate(args.reps, effect=0.0, alpha=args.alpha, panel_test="t", **single, **d)
                   if d["series"] > 1 else float("nan"))
        row += [rate(args.reps, effect=e, alpha=args.alpha, **d) for e in (0.1, 0.2, 0.4)]
        print(f"| {name} | " + " | ".join("–" if x != x else f"{x:.3f}" for x in row) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
