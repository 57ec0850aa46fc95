"""Nightly comparison: this night's verdict against the earlier nightly runs of the same sweep in MLflow.

Only runs that started before this one are read, so rebuilding an old night's report gives the same
answer later.
"""

from __future__ import annotations

import math
import time
from typing import Any

MAX_NIGHTS = 30


def history_metrics(verdict: dict[str, Any]) -> dict[str, float]:
    """The per-dataset figures each parent run keeps as metrics (what an analyst compares in the MLflow UI,
    and what later nights read cheaply): the GRU/LSTM ratio with its CI, p after Holm, P(GRU seed better)
    with its CI, the seeds needed when undecided, and each architecture's mean test MASE with its CI."""
    out: dict[str, float] = {}
    for v in verdict["datasets"]:
        ds = v["dataset"]
        out |= {f"verdict.{ds}.ratio": math.exp(v["effect"]), f"verdict.{ds}.ratio_ci_low": math.exp(v["ci_low"]),
                f"verdict.{ds}.ratio_ci_high": math.exp(v["ci_high"]), f"verdict.{ds}.p_holm": v["p_holm"],
                f"verdict.{ds}.prob_gru_better": v["prob_gru_better"],
                f"verdict.{ds}.prob_ci_low": v["prob_ci_low"], f"verdict.{ds}.prob_ci_high": v["prob_ci_high"]}
        if v.get("seeds_needed"):
            out[f"verdict.{ds}.seeds_needed"] = float(v["seeds_needed"])
        for arch, (lo, hi) in v["mase_ci"].items():
            out |= {f"test_mase.{ds}.{arch}.mean": v[f"mean_mase_{arch}"], f"test_mase.{ds}.{arch}.ci_low": lo,
                    f"test_mase.{ds}.{arch}.ci_high": hi}
    return out


def _log(x: float | None) -> float | None:
    return None if x is None or x <= 0 else math.log(x)


def _night(run: Any, datasets: list[str]) -> dict[str, Any]:
    m, t = run.data.metrics, run.data.tags
    row: dict[str, Any] = {
        "run_id": run.info.run_id,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(run.info.start_time / 1000)),
        "overall": t.get("gatesweep.verdict"), "code_version": t.get("gatesweep.code_version"),
        "datasets": {},
    }
    for ds in datasets:
        v, tm = f"verdict.{ds}", f"test_mase.{ds}"
        row["datasets"][ds] = {
            "label": t.get(f"gatesweep.verdict.{ds}"), "data": t.get(f"gatesweep.data.{ds}"),
            "effect": _log(m.get(f"{v}.ratio")), "ci": [_log(m.get(f"{v}.ratio_ci_low")),
                                                        _log(m.get(f"{v}.ratio_ci_high"))],
            "test_mase": {arch: {"mean": m.get(f"{tm}.{arch}.mean"),
                                 "ci": [m.get(f"{tm}.{arch}.ci_low"), m.get(f"{tm}.{arch}.ci_high")]}
                          for arch in ("gru", "lstm")},
        }
    return row


def tonight(parent: Any, verdict: dict[str, Any]) -> dict[str, Any]:
    """This night's row, from the verdict just computed (its metrics are logged after the report)."""
    t = parent.data.tags
    return {
        "run_id": parent.info.run_id,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(parent.info.start_time / 1000)),
        "overall": verdict["overall"]["label"], "code_version": t.get("gatesweep.code_version"),
        "datasets": {v["dataset"]: {
            "label": v["label"], "data": t.get(f"gatesweep.data.{v['dataset']}"), "effect": v["effect"],
            "ci": [v["ci_low"], v["ci_high"]],
            "test_mase": {arch: {"mean": v[f"mean_mase_{arch}"], "ci": list(v["mase_ci"][arch])}
                          for arch in ("gru", "lstm")}} for v in verdict["datasets"]},
    }


def compare_nights(client: Any, parent: Any, verdict: dict[str, Any]) -> dict[str, Any]:
    """History (newest first) and the flags a scheduler or a person acts on."""
    datasets = [v["dataset"] for v in verdict["datasets"]]
    earlier = client.search_runs(
        [parent.info.experiment_id],
        f"tags.`gatesweep.nightly` = 'true' and attributes.start_time < {parent.info.start_time} "
        "and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"], max_results=MAX_NIGHTS)
    now = tonight(parent, verdict)
    history = [now] + [_night(r, datasets) for r in earlier]
    flags: dict[str, Any] = {"verdict_changed": False, "mase_worse": False, "details": []}
    if len(history) > 1:
        last = history[1]
        if last["overall"] != now["overall"]:
            flags["verdict_changed"] = True
            flags["details"].append(f"overall verdict changed since the last night: {last['overall']} -> "
                                    f"{now['overall']}")
        for ds in datasets:
            a, b = last["datasets"][ds], now["datasets"][ds]
            if a["label"] != b["label"]:
                flags["verdict_changed"] = True
                flags["details"].append(f"{ds}: verdict changed since the last night: {a['label']} -> {b['label']}")
            for arch in ("gru", "lstm"):
                hi = a["test_mase"][arch]["ci"][1]
                if hi is not None and b["test_mase"][arch]["mean"] > hi:
                    flags["mase_worse"] = True
                    flags["details"].append(
                        f"{ds}: {arch.upper()} mean test MASE {b['test_mase'][arch]['mean']:.4g} is worse than last "
                        f"night's 95% CI (upper bound {hi:.4g})")
            if a["data"] != b["data"]:
                flags["details"].append(f"{ds}: the data changed since the last night (fingerprint {a['data']} -> "
                                        f"{b['data']})")
        if last["code_version"] != now["code_version"]:
            flags["details"].append(f"code changed since the last night ({last['code_version']} -> "
                                    f"{now['code_version']})")
    else:
        flags["details"].append("first nightly run of this sweep: nothing to compare with yet")
    return {"previous_run_id": history[1]["run_id"] if len(history) > 1 else None, "history": history,
            "flags": flags}
