"""Report figures as PNG bytes (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pandas as pd

COLORS = {"gru": "#1f77b4", "lstm": "#d62728"}


def _png(fig: Any) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _figure(w: float = 7, h: float = 3.6) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(w, h))


def mase_strip(confirm: pd.DataFrame, dataset: str, naive: float | None) -> bytes:
    """Test MASE of every confirm seed, per architecture, with the naive baseline for scale."""
    fig, ax = _figure()
    d = confirm[confirm["dataset"] == dataset]
    rng = np.random.default_rng(0)
    for i, arch in enumerate(sorted(d["arch"].unique())):
        vals = d.loc[d["arch"] == arch, "test_mase"].dropna().to_numpy()
        ax.scatter(i + rng.uniform(-0.12, 0.12, len(vals)), vals, color=COLORS.get(arch), alpha=0.75, label=arch)
        ax.hlines(vals.mean(), i - 0.25, i + 0.25, color="black", lw=2)
    if naive is not None:
        ax.axhline(naive, ls="--", color="gray", label=f"naive baseline ({naive:.3g})")
    ax.set_xticks(range(len(d["arch"].unique())), [a.upper() for a in sorted(d["arch"].unique())])
    ax.set_ylabel("test MASE (lower is better)")
    ax.set_title(f"{dataset}: test MASE per confirm seed (bar = mean)")
    ax.legend(loc="best", fontsize=8)
    return _png(fig)


def closed_loop(curves: dict[str, dict[str, list[float]]], dataset: str) -> bytes:
    """The seed's figure: free-running generation fed with its own predictions, against the truth."""
    fig, ax = _figure(8, 3.8)
    truth = next(iter(curves.values()))["truth"]
    ax.plot(np.arange(len(truth)), truth, color="black", lw=1.5, label="truth")
    for arch, c in sorted(curves.items()):
        start = int(c["start"][0])
        ax.plot(np.arange(start, start + len(c["generated"])), c["generated"], color=COLORS.get(arch),
                lw=1.2, label=f"{arch.upper()} closed loop")
    test_start = int(next(iter(curves.values()))["test_start"][0])
    ax.axvline(test_start, color="gray", ls=":", label="test split starts")
    ax.set_xlabel("time step")
    ax.set_title(f"{dataset}: closed-loop generation from the first window (seed's figure)")
    ax.legend(loc="best", fontsize=8)
    return _png(fig)


def loss_curves(histories: dict[str, dict[str, list[float]]], dataset: str) -> bytes:
    """Training and validation loss per epoch of one confirm run per architecture (as the seed plots)."""
    fig, ax = _figure()
    for arch, h in sorted(histories.items()):
        ax.plot(h["loss"], color=COLORS.get(arch), label=f"{arch}_loss")
        ax.plot(h["val_loss"], color=COLORS.get(arch), ls="--", label=f"{arch}_val_loss")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("MSE (scaled)")
    ax.set_title(f"{dataset}: loss curves of the confirmed configuration")
    ax.legend(loc="best", fontsize=8)
    return _png(fig)


def effects(verdicts: list[Any], margin: float) -> bytes:
    """Effect (GRU/LSTM MASE ratio) with its 95% CI per dataset, and the equivalence band."""
    fig, ax = _figure(7, 0.6 + 0.6 * len(verdicts))
    for i, v in enumerate(verdicts):
        ax.errorbar(np.exp(v.effect), i, xerr=[[np.exp(v.effect) - np.exp(v.ci_low)],
                                                [np.exp(v.ci_high) - np.exp(v.effect)]], fmt="o", color="black")
    ax.axvspan(1 / (1 + margin), 1 + margin, color="green", alpha=0.15, label=f"equivalence ±{100 * margin:g}%")
    ax.axvline(1.0, color="gray", lw=1)
    ax.set_yticks(range(len(verdicts)), [v.dataset for v in verdicts])
    ax.set_xlabel("mean test MASE ratio GRU / LSTM (<1: GRU better)")
    ax.legend(loc="best", fontsize=8)
    return _png(fig)


def budget(curves: dict[str, dict[str, list[float]]], dataset: str, sampler: str) -> bytes:
    """Expected best validation loss after k trials per architecture, with 95% bootstrap bands."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    for ax, xkey, xlabel in ((axes[0], "k", "trials"), (axes[1], "seconds", "training seconds (one worker)")):
        for arch, c in sorted(curves.items()):
            ax.plot(c[xkey], c["mean"], color=COLORS.get(arch), label=arch.upper())
            ax.fill_between(c[xkey], c["low"], c["high"], color=COLORS.get(arch), alpha=0.2)
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.legend(loc="best", fontsize=8)
    axes[0].set_ylabel("expected best validation MASE")
    note = "" if sampler == "random" else f" ({sampler} sampler: approximate)"
    fig.suptitle(f"{dataset}: expected best score vs budget{note}")
    return _png(fig)


def trend(history: list[dict[str, Any]], dataset: str) -> bytes:
    """The effect (GRU/LSTM test MASE ratio) with its CI over nights, oldest left."""
    fig, ax = _figure(8, 3.4)
    rows = [h for h in reversed(history) if h["datasets"].get(dataset, {}).get("effect") is not None]
    x = np.arange(len(rows))
    eff = np.exp([r["datasets"][dataset]["effect"] for r in rows])
    lo = np.exp([r["datasets"][dataset]["ci"][0] for r in rows])
    hi = np.exp([r["datasets"][dataset]["ci"][1] for r in rows])
    ax.errorbar(x, eff, yerr=[eff - lo, hi - eff], fmt="o-", color="black", capsize=3)
    ax.axhline(1.0, color="gray", lw=1)
    ax.set_xticks(x, [r["date"][:10] for r in rows], rotation=30, fontsize=8)
    ax.set_ylabel("test MASE ratio GRU/LSTM")
    ax.set_title(f"{dataset}: effect over nightly runs (<1: GRU better)")
    return _png(fig)
