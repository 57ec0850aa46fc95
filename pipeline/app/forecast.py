"""`gatesweep forecast MODEL_OR_PARENT`: the next H values after each series' end, with intervals, from a
registered ensemble (`models:/<sweep>.<dataset>@champion`, `models:/<name>/<version>`, or `<name>/<version>`),
a sweep's parent run (its tag `gatesweep.model.<dataset>`) or one confirm run's network (`runs:/<run id>/model`,
which needs `--data`). Bad input is one line (`UsageError`, exit 2)."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.core.errors import UsageError
from pipeline.core.handover import ForecastInputError
from pipeline.tracking.client import TrackingClient
from pipeline.tracking.contract import Tags

_RUN_ID = re.compile(r"[0-9a-f]{32}")


def model_uri(client: TrackingClient, ref: str, dataset: str | None) -> str:
    """The model a reference names: a model URI as it is, `NAME/VERSION` or `NAME@ALIAS` as `models:/...`, or a
    parent run id through its `gatesweep.model.<dataset>` tag."""
    if ref.startswith(("models:/", "runs:/")):
        return ref
    if not _RUN_ID.fullmatch(ref):
        if "/" in ref or "@" in ref:
            return f"models:/{ref}"
        raise UsageError(f"{ref}: expected models:/<name>@<alias>, models:/<name>/<version>, <name>/<version> or "
                         "a sweep's parent run id")
    try:
        run = client.get_run(ref)
    except Exception as exc:  # the store says no such run, or is unreachable: the same line for the user
        raise UsageError(f"{ref}: no such run in {client.tracking_uri} ({str(exc).splitlines()[0][:200]})") from None
    prefix = Tags.model_of("")
    models = {k.removeprefix(prefix): v for k, v in run.data.tags.items() if k.startswith(prefix)}
    if not models:
        from pipeline.tracking.ensemble import BEFORE_MODELS  # lazy: loads MLflow

        raise UsageError(f"{ref}: {BEFORE_MODELS} (no {prefix}<dataset> tag); run the sweep again with this "
                         "release to get one")
    if dataset is None:
        if len(models) > 1:
            raise UsageError(f"{ref}: --dataset: the sweep has {len(models)} datasets ({', '.join(sorted(models))})")
        dataset = next(iter(models))
    if dataset not in models:
        raise UsageError(f"{ref}: --dataset {dataset}: not in the sweep ({', '.join(sorted(models))})")
    value = models[dataset]
    if value.startswith("none:"):
        raise UsageError(f"{ref}: dataset {dataset}: no model registered ({value.removeprefix('none:').strip()})")
    return value.split()[0]


def read_frame(path: Path, ensemble: Any) -> Any:
    """A CSV in long format (`id`, `time`, `value` and the covariates by name; `id` may be left out for a model
    of one series)."""
    try:
        frame = pd.read_csv(path, dtype={"id": str, "time": str})
    except FileNotFoundError:
        raise UsageError(f"{path}: --data: no such file") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: --data: cannot read it ({str(exc).splitlines()[0][:200]})") from None
    if "id" not in frame.columns:
        ids = [s.id for s in ensemble.info.series]
        if len(ids) > 1:
            raise UsageError(f"{path}: --data: no 'id' column, and the model forecasts {len(ids)} series")
        frame.insert(0, "id", ids[0])
    return frame


def forecast(tracking_uri: str, ref: str, dataset: str | None, data: Path | None, out: Path | None) -> str:
    """Load the model, forecast, write the CSV (stdout without `out`); returns the summary line."""
    import mlflow  # lazy: loads MLflow
    from mlflow.exceptions import MlflowException  # lazy: loads MLflow

    t0 = time.perf_counter()
    client = mlflow.MlflowClient(tracking_uri)
    uri = model_uri(client, ref, dataset)
    mlflow.set_tracking_uri(tracking_uri)
    try:
        model = mlflow.pyfunc.load_model(uri)
    except MlflowException as exc:
        raise UsageError(f"{ref}: cannot load {uri} ({str(exc).splitlines()[0][:200]})") from None
    ensemble = model.unwrap_python_model().ensemble
    try:
        frame = ensemble.default_frame() if data is None else read_frame(data, ensemble)
        frame["id"] = frame["id"].astype(str)
        if "time" in frame:
            frame["time"] = frame["time"].astype(str)
        result = model.predict(frame).drop(columns=["origin"])
    except ForecastInputError as exc:
        raise UsageError(f"{data or uri}: {exc}") from None
    except MlflowException as exc:  # the signature refused the frame (a column missing, a wrong type)
        raise UsageError(f"{data or uri}: {str(exc).splitlines()[0][:300]}") from None
    if out is None:
        print(result.to_csv(index=False), end="")
    else:
        result.to_csv(out, index=False)
    info, seconds = ensemble.info, time.perf_counter() - t0
    what = (f"ensemble of {len(info.runs)} seeds" if len(info.runs) > 1 else f"network of confirm run {info.runs[0]}")
    return (f"{uri}: {result['id'].nunique()} series x {info.horizon} steps ({info.arch.upper()} {what})"
            + (f"; intervals recalibrated (adaptive conformal) on the {ensemble.recalibrated} origins past the sweep's"
               if ensemble.recalibrated else "")
            + (f" -> {out}" if out else "") + f" in {seconds:.1f} s")
