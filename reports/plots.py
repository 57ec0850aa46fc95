"""Report figures as PNG bytes (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

import io
import math
import textwrap
from typing import Any

import numpy as np
import pandas as pd
from pandas.plotting import parallel_coordinates as draw

from pipeline.core.hparams import Arch
from pipeline.verdict.horizon import ENSEMBLE
from pipeline.verdict.model import BASELINE_NAMES, BudgetCurve, DatasetVerdict, Night
from reports.schema import Col, check_runs_table
from reports.series import most_important, series_views

COLORS = {"gru": "#1f77b4", "lstm": "#d62728"}
NARROW_WIDTH = 4.2  # inches: a figure this wide shows its 8-point text at about 9 CSS px across a phone's screen
NARROW_DPI = 180  # about 2 pixels per CSS pixel on a phone


class Png(bytes):
    """A figure's PNG as drawn for a desktop, and in `narrow` (None: it has none) the same figure laid out a phone's
    width. Text keeps its size in points, so on a phone's screen it reads about as large as the figure is narrower
    (a 7-inch figure shrunk to 360 px shows 8-point text at 6 px; drawn 4.2 inches wide, at 10 px). report.html
    offers `narrow` to narrow screens; everything else reads the bytes."""

    narrow: bytes | None = None


def _png(fig: Any, dpi: int = 160, tight: bool = True, narrow: bool = True) -> Png:
    import matplotlib.pyplot as plt  # lazy: loads matplotlib

    buf = io.BytesIO()
    # 160: sharp on a high-DPI screen
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight" if tight else None)
    out = Png(buf.getvalue())
    if narrow and fig.get_size_inches()[0] > 1.2 * NARROW_WIDTH:
        _lay_out_narrow(fig)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=NARROW_DPI, bbox_inches="tight")
        out.narrow = _small(buf.getvalue())  # a third of the bytes: the page carries both drawings
    plt.close(fig)
    return out


def _lay_out_narrow(fig: Any) -> None:
    """`fig` about a phone's width: a legend beside the plot moves under it, legends under a plot take two columns
    (three overflow the width), and side-by-side panels keep more of their width (they would be too thin to read)."""
    w, h = fig.get_size_inches()
    columns = len({round(ax.get_position().x0, 2) for ax in fig.axes})
    fig.set_size_inches(NARROW_WIDTH if columns == 1 else min(w, 6.0), h)
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        for text in (ax.xaxis.label, ax.title):  # a long axis label or title on two lines
            if text.get_window_extent(renderer).width > ax.bbox.width:
                text.set_text(textwrap.fill(text.get_text(), max(20, len(text.get_text()) // 2 + 5)))
        leg = ax.get_legend()
        if leg is None:
            continue
        anchor = leg.get_bbox_to_anchor()
        if anchor.x0 >= ax.bbox.x1 - 1 or anchor.y1 <= ax.bbox.y0 + 1:  # beside the plot, or under it
            below = ax.xaxis.get_tightbbox(renderer)  # the ticks' labels and the axis label
            y = (below.y0 - ax.bbox.y0) / ax.bbox.height - 0.03 if below is not None else -0.2
            ax.legend(*_entries(leg), loc="upper center", bbox_to_anchor=(0.5, y), ncol=2,
                      fontsize=leg.get_texts()[0].get_fontsize(), frameon=False)
    for leg in list(fig.legends):  # a figure's legend under its panels (`forecast_figure`)
        leg.remove()
        constrained = type(fig.get_layout_engine()).__name__ == "ConstrainedLayoutEngine"
        fig.legend(*_entries(leg), loc="outside lower center" if constrained else "lower center", ncol=2,
                   fontsize=leg.get_texts()[0].get_fontsize(), frameon=False)


def _entries(leg: Any) -> tuple[list[Any], list[str]]:
    """A legend's handles and labels, to draw it again laid out otherwise (matplotlib lays a legend out once)."""
    return list(leg.legend_handles), [t.get_text() for t in leg.get_texts()]


def _small(png: bytes, colors: int = 64) -> bytes:
    """A PNG reduced to a palette of `colors`: a line plot has few colours, and the file shrinks about threefold."""
    from PIL import Image  # lazy: loads Pillow

    buf = io.BytesIO()
    Image.open(io.BytesIO(png)).convert("RGB").quantize(colors).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def _figure(w: float = 7, h: float = 3.6) -> tuple[Any, Any]:
    import matplotlib  # lazy: loads matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # lazy: loads matplotlib

    return plt.subplots(figsize=(w, h))


def _time_axis(f: dict[str, Any]) -> tuple[Any, str]:
    """Index -> x value: the series' own times where the run recorded them (`forecasts.json` `time`), else the
    index; and the axis label."""
    return _times(f.get("time"))


def _times(labels: list[str] | None) -> tuple[Any, str]:
    """Index -> x value for a series' time labels (numbers or ISO dates; None: the index), and the axis label."""
    if not labels:
        return (lambda i: np.asarray(i)), "time step"
    try:
        t = np.asarray([float(x) for x in labels])
    except ValueError:
        t = pd.to_datetime(pd.Series(labels)).to_numpy()
    return (lambda i: t[np.asarray(i, int)]), "time"


def mase_strip(confirm: pd.DataFrame, dataset: str, baselines: dict[str, float]) -> bytes:
    """Test MASE of every confirm seed, per architecture, its geometric mean (what the verdict compares) and
    every baseline the headline compares with, on a log axis (the verdict compares ratios). A baseline far
    below every network (an exact AR on a noiseless recurrence) is named in the legend, not drawn."""
    fig, ax = _figure()
    d = confirm[confirm[Col.DATASET] == dataset]
    rng = np.random.default_rng(0)
    archs = sorted(d[Col.ARCH].unique())
    values = [d.loc[d[Col.ARCH] == arch, Col.TEST_MASE].dropna().to_numpy() for arch in archs]
    for i, (arch, vals) in enumerate(zip(archs, values, strict=True)):
        ax.scatter(i + rng.uniform(-0.12, 0.12, len(vals)), vals, color=COLORS.get(arch), alpha=0.75,
                   label=f"{arch.upper()}, one dot per seed")
        if len(vals) and (vals > 0).all():  # the verdict's own centre: the geometric mean
            ax.hlines(np.exp(np.log(vals).mean()), i - 0.25, i + 0.25, color="black", lw=2,
                      label="geometric mean" if i == 0 else None)
    shown = np.concatenate(values) if values else np.array([])
    low = float(shown[shown > 0].min()) / 30 if (shown > 0).any() else 0.0
    styles = iter(["--", "-.", ":", (0, (5, 2, 1, 2)), (0, (1, 1))])
    for name, x in sorted(baselines.items(), key=lambda kv: kv[1]):
        label = f"{BASELINE_NAMES.get(name, name)} baseline {x:#.3g}"
        if x > low:
            ax.axhline(x, ls=next(styles, "--"), color="gray", lw=1.2, label=label)
        else:
            ax.plot([], [], " ", label=label + " (far below, not drawn)")
    if (shown > 0).all() and len(shown):
        ax.set_yscale("log")
        _plain_log_ticks(ax.yaxis)
    ax.set_xticks(range(len(archs)), [a.upper() for a in archs])
    ax.set_xlim(-0.6, len(archs) - 0.4)
    ax.set_ylabel("test MASE, log scale (lower is better)")
    ax.set_title(f"{dataset}: test MASE per confirm seed")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)  # off the data
    return _png(fig)


def closed_loop(curves: dict[str, list[dict[str, list[float]]]], dataset: str) -> bytes:
    """The source article's figure for every random seed: free-running generation fed with its own
    predictions, against the truth (one thin line per seed, so no seed is singled out)."""
    fig, ax = _figure(8, 3.8)
    first = next(iter(curves.values()))[0]
    truth = first["truth"]
    x, xlabel = _time_axis(first)
    ax.plot(x(np.arange(len(truth))), truth, color="black", lw=1.6, label="truth")
    for arch, runs in sorted(curves.items()):
        for i, c in enumerate(runs):
            start = int(c["start"][0])
            ax.plot(x(np.arange(start, start + len(c["generated"]))), c["generated"], color=COLORS.get(arch),
                    lw=0.8, alpha=0.5, label=f"{arch.upper()} closed loop ({len(runs)} seeds)" if i == 0 else None)
    ax.axvline(x(int(first["test_start"][0])), color="gray", ls=":", label="test split starts")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("value (original units)")
    ax.set_title(f"{dataset}: closed-loop generation from the first window, every random seed")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)  # off the data
    return _png(fig)


def loss_curves(histories: dict[str, list[dict[str, list[float]]]], dataset: str) -> bytes:
    return _png(loss_figure(histories, dataset))


def loss_figure(histories: dict[str, list[dict[str, list[float]]]], dataset: str) -> Any:
    """Training (solid) and one-step validation (dashed) loss per epoch of every confirm seed. A run fitted on
    train + validation has no validation loss: nothing dashed is drawn or named for it."""
    fig, ax = _figure()
    for arch, runs in sorted(histories.items()):
        with_val = [h for h in runs if h.get("val_loss")]
        for i, h in enumerate(runs):
            ax.plot(h["loss"], color=COLORS.get(arch), lw=0.8, alpha=0.5,
                    label=f"{arch} loss ({len(runs)} seeds)" if i == 0 else None)
        for i, h in enumerate(with_val):
            ax.plot(h["val_loss"], color=COLORS.get(arch), lw=0.8, alpha=0.5, ls="--",
                    label=f"{arch} val_loss ({len(with_val)} seeds)" if i == 0 else None)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("MSE (scaled, transformed)")
    ax.set_title(f"{dataset}: loss curves of the confirmed configuration, every random seed")
    ax.legend(loc="best", fontsize=8)
    return fig


def run_forecast(f: dict[str, Any], name: str, arch: str | None = None) -> bytes:
    """`run_forecast_figure` as a PNG, small enough for the run page."""
    return _png(run_forecast_figure(f, name, arch), dpi=120, narrow=False)


def run_forecast_figure(f: dict[str, Any], name: str, arch: str | None = None) -> Any:
    """One confirm run's `forecasts.json`: per series (a panel's `SHOWN_SERIES` largest), on the data's own time
    axis, the history before the test part, the actuals, the run's test forecasts from each origin, a dotted line
    at the first forecast origin, and on a single series without covariates its free-running generation."""
    import matplotlib  # lazy: loads matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # lazy: loads matplotlib

    views = series_views({"run": [f]}, None)
    shown = most_important(views)
    fig, axes = plt.subplots(len(shown), 1, figsize=(6.4, 0.7 + 2.1 * len(shown)), squeeze=False)
    color = COLORS.get(arch or "", "#2ca02c")
    for ax, v in zip(axes[:, 0], shown, strict=True):
        x, xlabel = _times(v.time)
        h, o0 = v.horizon, int(v.origins[0])
        end = int(v.origins[-1]) + h
        start = max(0, o0 - max(3 * (end - o0), 24))
        ax.plot(x(np.arange(start, o0)), v.truth[start:o0], color="black", lw=1.1, label="history")
        ax.plot(x(np.arange(max(o0 - 1, 0), end)), v.truth[max(o0 - 1, 0):end], color="black", lw=1.6, marker="o",
                ms=2.5, label="actual")
        pred = v.seeds["run"][0]
        for j, (pos, cells) in enumerate(_segments(v.origins, h)):
            ax.plot(x(pos), pred[cells[:, 0], cells[:, 1]], color=color, lw=1.4,
                    label=("one-step test forecasts" if h == 1 else f"test forecasts, {h} steps from each origin")
                    if j == 0 else None)
        if "generated" in f and len(views) == 1:  # a single series without covariates: clipped to the window
            g0 = int(f["start"][0])
            at = np.arange(g0, g0 + len(f["generated"]))
            keep = (at >= start) & (at < min(end, len(v.truth)))
            if keep.any():
                ax.plot(x(at[keep]), np.asarray(f["generated"], float)[keep], color="#9467bd", lw=0.9, ls="--",
                        label="closed loop (own forecasts fed back)")
        ax.axvline(x(o0), color="gray", ls=":", lw=1, label="first forecast origin")
        _time_ticks(ax, x, xlabel, o0)
        ax.set_ylabel("value", fontsize=8)
        if len(views) > 1:
            ax.set_title(f"series {v.id}", fontsize=9)
    more = "" if len(shown) == len(views) else f" — {len(shown)} of {len(views)} series, the largest"
    fig.suptitle(f"{name}: test forecasts against actuals{more}", fontsize=10)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.tight_layout(rect=(0, 0.12 / len(shown) + 0.03, 1, 1))
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=7, frameon=False)
    return fig


def _time_ticks(ax: Any, x: Any, xlabel: str, at: int) -> None:
    """Readable ticks on a forecast panel's x axis: concise dates on a date axis, at most 6 numbers otherwise."""
    if xlabel == "time" and np.issubdtype(np.asarray(x(np.array([at]))).dtype, np.datetime64):
        import matplotlib.dates as mdates  # lazy: loads matplotlib

        locator = mdates.AutoDateLocator(minticks=3, maxticks=8)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    else:
        from matplotlib.ticker import MaxNLocator  # lazy: loads matplotlib

        ax.xaxis.set_major_locator(MaxNLocator(6))
    ax.set_xlabel(xlabel, fontsize=8)
    ax.tick_params(labelsize=8)


def tune_history(trials: pd.DataFrame, dataset: str) -> bytes:
    """Every tune-phase trial's validation MASE in the order the trials started, and each architecture's best
    so far (the optimisation history Optuna draws, in the report's colours)."""
    fig, ax = _figure()
    for arch, d in trials.groupby(Col.ARCH, sort=True):
        d = d.assign(score=pd.to_numeric(d[Col.VAL_MASE], errors="coerce"),
                     order=pd.to_numeric(d[Col.INDEX], errors="coerce")).dropna(subset=["score", "order"])
        d = d[d["score"] > 0].sort_values("order")
        color = COLORS.get(str(arch))
        ax.scatter(d["order"], d["score"], color=color, alpha=0.6, s=18, label=f"{str(arch).upper()} trial")
        ax.step(d["order"], d["score"].cummin(), where="post", color=color, lw=1.6,
                label=f"{str(arch).upper()} best so far")
    ax.set_yscale("log")
    _plain_log_ticks(ax.yaxis)
    from matplotlib.ticker import MaxNLocator  # lazy: loads matplotlib

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("tune trial (in the order started)")
    ax.set_ylabel("validation MASE, log scale")
    ax.set_title(f"{dataset}: tune phase, each trial and the best so far")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    return _png(fig)


def parallel_coordinates(trials: pd.DataFrame, space: Any, dataset: str) -> bytes:
    """Every tune-phase trial as a line across its (scaled) hyperparameters and score, coloured by architecture."""
    # a trial stopped early by ASHA may have no final score: it has no place on the score axis
    trials = check_runs_table(trials, needs=(Col.ARCH, Col.VAL_MASE))
    trials = trials[pd.to_numeric(trials[Col.VAL_MASE], errors="coerce") > 0]
    names = [n for n in space.searched() if n in trials]
    frame = pd.DataFrame({Col.ARCH: trials[Col.ARCH].str.upper()})
    for name in [*names, Col.VAL_MASE]:
        col = trials[name]
        num = pd.to_numeric(col, errors="coerce")
        if num.notna().all():
            vals = np.log(num) if name in (Col.LEARNING_RATE, Col.VAL_MASE) else num
        else:  # a choice of names: their order in the search space
            vals = col.map({str(c): i for i, c in enumerate(space.values(name))}).astype(float)
        span = vals.max() - vals.min()
        frame[name] = (vals - vals.min()) / span if span > 0 else 0.5
    fig, ax = _figure(8, 3.6)
    archs = sorted(frame[Col.ARCH].unique())
    draw(frame, Col.ARCH, cols=[*names, Col.VAL_MASE], color=[COLORS[a.lower()] for a in archs], ax=ax, alpha=0.6)
    cols = [*names, Col.VAL_MASE]
    for j, name in enumerate(cols):  # each axis's own values, where the 0-1 scale hides them
        last = j == len(cols) - 1  # the score axis is the right edge: its labels go inside
        for text, y in _axis_marks(trials[name], space, name):
            ax.text(j - 0.03 if last else j + 0.03, y, text, fontsize=7, va="center", ha="right" if last else "left",
                    bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.8})
    ax.set_yticks([])
    ax.set_ylabel("low to high on each axis\n(log: learning rate, MASE)", fontsize=8)
    ax.set_title(f"{dataset}: tune-phase trials by architecture (low validation MASE is good)")
    ax.tick_params(axis="x", labelsize=8)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8)  # off the data and the score axis
    return _png(fig)


def _axis_marks(col: pd.Series, space: Any, name: str) -> list[tuple[str, float]]:
    """Labels on a parallel-coordinates axis at their scaled heights: every category of a choice of names,
    the lowest and highest value of a number."""
    num = pd.to_numeric(col, errors="coerce")
    if num.notna().all():
        lo, hi = float(num.min()), float(num.max())
        return [(f"{lo:.3g}", 0.0), (f"{hi:.3g}", 1.0)] if hi > lo else [(f"{lo:.3g}", 0.5)]
    order = {str(c): i for i, c in enumerate(space.values(name))}
    used = sorted({str(c) for c in col}, key=lambda c: order.get(c, 0))
    idx = [order.get(c, 0) for c in used]
    span = max(idx) - min(idx)
    return [(c, (i - min(idx)) / span if span else 0.5) for c, i in zip(used, idx, strict=True)]


def importance_bars(importance: dict[Arch, dict[str, float] | None], dataset: str, n_trials: int) -> bytes:
    """fANOVA importance of each searched hyperparameter, per architecture, as bars."""
    fig, ax = _figure()
    archs = [a for a in sorted(importance) if importance[a]]
    names = sorted({n for a in archs for n in (importance[a] or {})})
    width = 0.8 / max(len(archs), 1)
    for i, arch in enumerate(archs):
        vals = [(importance[arch] or {}).get(n, 0.0) for n in names]
        ax.barh(np.arange(len(names)) + i * width, vals, height=width, color=COLORS.get(arch), label=arch.upper())
    ax.set_yticks(np.arange(len(names)) + width * (len(archs) - 1) / 2, names)
    ax.set_xlabel("share of the validation MASE's variance")
    caveat = f" — only {n_trials} trials: a rough guide" if n_trials < 20 else ""
    ax.set_title(f"{dataset}: hyperparameter importance (fANOVA){caveat}", fontsize=10)
    ax.legend(loc="best", fontsize=8)
    return _png(fig)


def effects(verdicts: list[DatasetVerdict], margin: float) -> bytes:
    """Effect (GRU/LSTM MASE ratio) with its 95% CI per dataset, and the equivalence band."""
    fig, ax = _figure(7, 0.6 + 0.6 * len(verdicts))
    for i, v in enumerate(verdicts):
        lo, hi = v.ratio_ci
        if not math.isfinite(v.ratio):  # no ratio (an architecture without finished runs): its row stays empty
            continue
        if math.isfinite(lo) and math.isfinite(hi):
            ax.errorbar(v.ratio, i, xerr=[[v.ratio - lo], [hi - v.ratio]], fmt="o", color="black")
        else:  # an interval not defined, or past what a float holds: the estimate alone
            ax.plot(v.ratio, i, "o", color="black")
    ax.axvspan(1 / (1 + margin), 1 + margin, color="green", alpha=0.3, label=f"equivalence ±{100 * margin:g}%")
    for edge in (1 / (1 + margin), 1 + margin):  # the band's edges stay visible however wide the axis is
        ax.axvline(edge, color="green", lw=1)
    ax.axvline(1.0, color="gray", lw=1)
    ax.set_xscale("log")  # a ratio: 0.5 and 2 are the same distance from 1
    _plain_log_ticks(ax.xaxis)
    ax.set_yticks(range(len(verdicts)), [v.dataset for v in verdicts])
    ax.set_xlabel("geometric-mean test MASE ratio GRU / LSTM, log scale (<1: GRU better)")
    ax.legend(loc="best", fontsize=8)
    return _png(fig)


def _plain_log_ticks(axis: Any) -> None:
    """Log-axis ticks as plain numbers (0.6, 1, 2), not powers of ten. Minor ticks are labelled only as far as
    they fit: all of them on an axis under half a decade, those at 2 and 5 times a power of ten up to two
    decades, none beyond (a wider axis labelled every 0.01, 0.02, ... 0.09 prints them on top of each other)."""
    from matplotlib.ticker import FuncFormatter  # lazy: loads matplotlib

    def minor(x: float, _: Any) -> str:
        lo, hi = sorted(float(v) for v in axis.get_view_interval())
        decades = math.log10(hi / lo) if lo > 0 and hi > 0 else math.inf
        lead = round(x / 10 ** math.floor(math.log10(x) + 1e-9), 6) if x > 0 else 0.0
        show = decades < 0.5 or (decades < 2 and lead in (2.0, 5.0))
        return f"{x:.3g}" if show else ""

    axis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:.3g}"))
    axis.set_minor_formatter(FuncFormatter(minor))


def rounds_path(v: DatasetVerdict, margin: float) -> bytes:
    """The GRU/LSTM ratio after each confirm round with its repeated 95% interval (valid over all looks at
    once), against the equivalence band: a winner once the interval leaves 1 at the round's boundary and the
    margin, equivalence once it fits inside the band."""
    assert v.rounds is not None
    fig, ax = _figure(7, 3.2)
    path = v.rounds.path
    n = [step.n_gru for step in path]
    ratio = [step.ratio for step in path]
    # an early round's repeated interval can span decades: keep the ratios and the band readable
    top = max(max(ratio, default=1.0), 1 + margin) * 4
    bottom = min(min(ratio, default=1.0), 1 / (1 + margin)) / 4
    # an interval is capped where it ends; where it runs past the plot (an early round's can span decades, an
    # unbounded one (None) has no end) an arrow at the plot's edge says so instead of a line through the axis
    ax.plot(n, ratio, "-", color="black", lw=1)
    cap = 0.012 * (v.rounds.max_seeds + 1)
    beyond = False
    for k, step in zip(n, path, strict=True):
        low = step.ci_low if step.ci_low is not None else 0.0
        high = step.ci_high if step.ci_high is not None else math.inf
        a, b = max(low, bottom), min(high, top)
        ax.plot([k, k], [a, b], color="black", lw=1)
        for y, past, marker in ((a, low < bottom, "v"), (b, high > top, "^")):
            if past:
                ax.plot(k, y, marker=marker, color="black", ms=7, clip_on=False, zorder=4)
                beyond = True
            else:
                ax.plot([k - cap, k + cap], [y, y], color="black", lw=1)
    if beyond:
        ax.plot([], [], "^", color="black", ms=7, label="interval continues beyond the plot")
    bounded = [step.ci_low is not None and step.ci_high is not None for step in path]
    for filled, label in ((True, "ratio, repeated 95% CI"), (False, "repeated CI unbounded or not defined")):
        at = [(k, r) for k, r, b in zip(n, ratio, bounded, strict=True) if b == filled]
        if at:
            ax.plot([k for k, _ in at], [r for _, r in at], "o", color="black", mfc="black" if filled else "white",
                    label=label, zorder=3)
    ax.axhspan(1 / (1 + margin), 1 + margin, color="green", alpha=0.25, label=f"equivalence ±{100 * margin:g}%")
    ax.axhline(1.0, color="gray", lw=1)
    ax.set_yscale("log")
    _plain_log_ticks(ax.yaxis)
    ax.set_ylim(bottom, top)
    ax.set_xlabel("confirm seeds per architecture (after each round)")
    ax.set_ylabel("GRU / LSTM test MASE ratio (log)")
    ax.set_xlim(0, v.rounds.max_seeds + 1)
    ax.set_title(f"{v.dataset}: confirm rounds; stopped: {v.rounds.why}")
    ax.legend(loc="best", fontsize=8)
    return _png(fig)


def budget(curves: dict[Arch, BudgetCurve], dataset: str, sampler: str) -> bytes:
    """Expected best validation loss after k trials per architecture, with 95% bootstrap bands."""
    import matplotlib.pyplot as plt  # lazy: loads matplotlib

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    for ax, xkey, xlabel in ((axes[0], "k", "trials"), (axes[1], "seconds", "training seconds (one worker)")):
        for arch, c in sorted(curves.items()):
            x = getattr(c, xkey)
            ax.plot(x, c.mean, color=COLORS.get(arch), label=arch.upper())
            ax.fill_between(x, c.low, c.high, color=COLORS.get(arch), alpha=0.2)
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.legend(loc="best", fontsize=8)
    axes[0].set_ylabel("expected best validation MASE")
    note = "" if sampler == "random" else f" ({sampler} sampler: approximate)"
    fig.suptitle(f"{dataset}: expected best score vs budget{note}")
    return _png(fig)


def trend(history: list[Night], dataset: str) -> bytes:
    """The effect (GRU/LSTM test MASE ratio) with its CI over nights, oldest left."""
    fig, ax = _figure(8, 3.4)
    dates, ratios, lows, highs = [], [], [], []
    for h in reversed(history):
        d = h.datasets.get(dataset)
        if d is None or d.effect is None or d.ci[0] is None or d.ci[1] is None:
            continue
        dates.append(h.date)
        ratios.append(d.effect)
        lows.append(d.ci[0])
        highs.append(d.ci[1])
    x = np.arange(len(dates))
    eff, lo, hi = np.exp(ratios), np.exp(lows), np.exp(highs)
    ax.errorbar(x, eff, yerr=[eff - lo, hi - eff], fmt="o-", color="black", capsize=3)
    ax.axhline(1.0, color="gray", lw=1)
    ax.set_xticks(x, [date[:10] for date in dates], rotation=30, fontsize=8)
    ax.set_ylabel("test MASE ratio GRU/LSTM")
    ax.set_title(f"{dataset}: effect over nightly runs (<1: GRU better)")
    return _png(fig)


def _segments(origins: np.ndarray, horizon: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The (origin, step) cells of a forecast grouped into stretches drawn as one line: origins `horizon` apart
    join end to end; overlapping or gapped origins each make their own. Each: (positions, (origin, step) rows)."""
    out: list[tuple[list[int], list[tuple[int, int]]]] = []
    for i, o in enumerate(origins):
        cells = [(i, h) for h in range(horizon)]
        if out and out[-1][0][-1] + 1 == o:
            out[-1][0].extend(range(o, o + horizon))
            out[-1][1].extend(cells)
        else:
            out.append((list(range(o, o + horizon)), cells))
    return [(np.asarray(pos), np.asarray(cells)) for pos, cells in out]


def forecasts(views: list[Any], dataset: str, total: int, better: str | None, best_baseline: str | None) -> bytes:
    """`forecast_figure` as a PNG, at a lower resolution: several panels stay small in the page."""
    return _png(forecast_figure(views, dataset, total, better, best_baseline), dpi=120)


def one_series(view: Any, dataset: str, better: str | None, best_baseline: str | None) -> bytes:
    """One series' `forecast_figure`, drawn a phone's width (one picture that reads on a phone and a desktop) and
    kept to a small palette PNG: a panel's report holds one of these per series."""
    fig = forecast_figure([view], dataset, 1, better, best_baseline, width=NARROW_WIDTH, layout=None)
    # a fixed layout, saved as drawn: one drawing per picture, not three (a panel of 200 series draws 200)
    fig.subplots_adjust(left=0.13, right=0.93, top=0.84, bottom=0.36)
    fig.legends[0].set_bbox_to_anchor((0, 0.02, 1, 1))
    return _small(_png(fig, dpi=100, tight=False, narrow=False), colors=32)


def forecast_figure(views: list[Any], dataset: str, total: int, better: str | None,
                    best_baseline: str | None, width: float = 7, layout: str | None = "constrained") -> Any:
    """Per series (`reports.series.SeriesView`), on its own time axis: the history before the test part, the
    actuals, every seed's forecast of the better architecture as a min-max band with its seed ensemble (median)
    as a line, the other architecture's ensemble, and the best baseline's forecasts."""
    import matplotlib  # lazy: loads matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # lazy: loads matplotlib

    # constrained layout keeps the legend under the panels clear of them at any width (`_png`'s narrow variant)
    fig, axes = plt.subplots(len(views), 1, figsize=(width, 1.0 + 2.3 * len(views)), squeeze=False, layout=layout)
    for ax, v in zip(axes[:, 0], views, strict=True):
        x, xlabel = _times(v.time)
        h, o0 = v.horizon, int(v.origins[0])
        end = int(v.origins[-1]) + h
        start = max(0, o0 - max(3 * (end - o0), 24))  # enough history to see the series' shape
        ax.plot(x(np.arange(start, o0)), v.truth[start:o0], color="black", lw=1.1, label="history")
        ax.plot(x(np.arange(o0 - 1 if o0 else 0, end)), v.truth[o0 - 1 if o0 else 0:end], color="black", lw=1.6,
                marker="o", ms=2.5, label="actual")
        ax.axvline(x(o0), color="gray", ls=":", lw=1)
        archs = sorted(v.seeds, key=lambda a: (a != better, a))
        for k, arch in enumerate(archs):
            seeds = v.seeds[arch]
            mid = np.median(seeds, axis=0) if ENSEMBLE == "median" else np.mean(seeds, axis=0)
            for j, (pos, cells) in enumerate(_segments(v.origins, h)):
                rows, steps = cells[:, 0], cells[:, 1]
                first = j == 0
                if k == 0:  # the better architecture: its seeds' spread as a band
                    ax.fill_between(x(pos), seeds[:, rows, steps].min(axis=0), seeds[:, rows, steps].max(axis=0),
                                    color=COLORS.get(arch), alpha=0.22, lw=0,
                                    label=f"{arch.upper()} seeds, min-max ({len(seeds)})" if first else None)
                ax.plot(x(pos), mid[rows, steps], color=COLORS.get(arch), lw=1.6 if k == 0 else 1.0,
                        ls="-" if k == 0 else "--", label=f"{arch.upper()} ensemble ({ENSEMBLE})" if first else None)
        if best_baseline is not None and best_baseline in v.baselines:
            pred = v.baselines[best_baseline].pred
            name = BASELINE_NAMES.get(best_baseline, best_baseline)
            for j, (pos, cells) in enumerate(_segments(v.origins, h)):
                ax.plot(x(pos), pred[cells[:, 0], cells[:, 1]], color="#555", lw=1.1, ls="-.",
                        label=f"{name} (best baseline)" if j == 0 else None)
        _time_ticks(ax, x, xlabel, o0)
        ax.set_title((f"series {v.id}" if v.id else dataset) + "  (dotted line: first forecast origin)", fontsize=9)
    shown = "" if total == len(views) else f" — {len(views)} of {total} series, the most important"
    fig.suptitle(f"{dataset}: test forecasts against actuals{shown}", fontsize=10)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center" if layout else "lower center", ncol=3 if width > 5 else 2,
               fontsize=8, frameon=False)
    return fig


def step_errors(table: Any, dataset: str) -> bytes:
    """Test MASE at each step of the horizon (a panel's: the mean over series) of each architecture's seed
    ensemble and per seed (geometric mean) and every baseline (`pipeline.verdict.model.ScoreTable`)."""
    fig, ax = _figure(7, 3.4)
    steps = np.arange(1, len(table.per_step) + 1)
    values = np.array([[np.nan if x is None else x for x in row] for row in table.per_step], float)
    styles = iter(["--", "-.", ":", (0, (5, 2, 1, 2)), (0, (1, 1)), (0, (3, 1))])
    for j, name in enumerate(table.forecasters):
        arch = name.removesuffix("_ensemble")
        if arch in COLORS:
            ens = name.endswith("_ensemble")
            ax.plot(steps, values[:, j], color=COLORS[arch], lw=1.8 if ens else 1.0, ls="-" if ens else ":",
                    marker="o" if ens else ".", label=f"{arch.upper()} ensemble" if ens else f"{arch.upper()} per "
                    "seed (geometric mean)")
        else:
            ax.plot(steps, values[:, j], color="gray", lw=1.1, ls=next(styles, "--"), marker="s", ms=3,
                    label=BASELINE_NAMES.get(name, name))
    finite = values[np.isfinite(values)]
    if len(finite) and (finite > 0).all() and finite.max() / finite.min() > 20:
        ax.set_yscale("log")
        _plain_log_ticks(ax.yaxis)
    else:
        ax.set_ylim(bottom=0)
    ax.set_xticks(steps)
    ax.set_xlabel("step of the horizon")
    ax.set_ylabel("test MASE at the step\n(lower is better)")
    ax.set_title(f"{dataset}: error by step ahead", fontsize=10)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, fontsize=8, frameon=False)  # under: phones
    return _png(fig)
