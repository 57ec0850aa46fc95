"""After the report: each dataset's recommended forecaster handed over as one registered MLflow model.

The usefulness rule (`reports.useful`) names a network (`gru` or `lstm`) only when its seed ensemble beats every
baseline; then that architecture's chosen confirm runs (the configuration the report confirms) become one
`pipeline.tracking.ensemble` model, with split conformal intervals from the ensemble's errors at the test origins.
Otherwise nothing is registered and the parent's tag `gatesweep.model.<dataset>` says why. A parent that already
carries the tag was handed over before (`gatesweep report` rebuilding a report registers nothing again).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.core.config import SplitSpec, SweepSpec
from pipeline.core.ensemble import EnsembleInfo, ensemble_info, series_of
from pipeline.core.refit import refit_network
from pipeline.tracking.client import TrackingClient
from pipeline.tracking.contract import Artifacts, Tags
from pipeline.tracking.ensemble import BEFORE_MODELS, tag_model
from pipeline.tracking.mlflow_io import read_artifact
from pipeline.tracking.run_model import read_network
from pipeline.verdict.model import Verdict
from reports.schema import Col

log = logging.getLogger("gatesweep.handover")
Prepared = tuple[EnsembleInfo, dict[str, tuple[str, bytes]]]  # a model to upload: its description and networks


def hand_over(client: TrackingClient, parent_run_id: str, verdict: Verdict, confirm: pd.DataFrame,
              parent_tags: dict[str, str], out_dir: Path, spec: SweepSpec | None = None) -> dict[str, str]:
    """Register each dataset's recommended forecaster; returns the parent tags set (dataset's tag -> value).
    The models go through an outbox in `out_dir` (`pipeline.tracking.uploads`): one kept there by an earlier
    attempt is pushed as it is. With `spec.deploy.refit`, the networks are first trained again on each series'
    full history (`pipeline.core.refit`), here on the driver.

    Raises:
        ModelsPending: some models are still not in MLflow (kept on disk for `gatesweep sync`).
    """
    from pipeline.tracking.uploads import ModelUploads  # lazy: loads MLflow

    uploads = ModelUploads(out_dir, client, parent_run_id)
    kept = uploads.pending()
    tags = {}
    for v in verdict.datasets:
        key = Tags.model_of(v.dataset)
        if key in parent_tags or v.dataset in kept:
            continue
        refit = spec.split_for(v.dataset) if spec is not None and spec.deploy.refit else None
        prepared = _prepare(client, parent_run_id, verdict.sweep, v, confirm, refit)
        if isinstance(prepared, str):
            tags[key] = prepared
            tag_model(client, parent_run_id, v.dataset, prepared)
        else:
            uploads.put(*prepared)
    tags |= {Tags.model_of(dataset): value for dataset, value in uploads.finish().items()}
    return tags


def _prepare(client: TrackingClient, parent_run_id: str, sweep: str, v: Any, confirm: pd.DataFrame,
             refit: SplitSpec | None) -> Prepared | str:
    useful = v.useful
    if useful is None:
        return "none: the sweep's report has no usefulness test"
    if useful.network is None:
        why = (f"the baseline {useful.baseline} forecasts at least as well" if useful.baseline
               else "no network could be tested against the baselines (untestable)")
        return f"none: no network is useful on {v.dataset} ({why})"
    return prepare_network(client, parent_run_id, sweep, v.dataset, useful.network, useful.ensemble, confirm, refit)


def register_network(client: TrackingClient, parent_run_id: str, sweep: str, dataset: str, arch: str, combine: str,
                     confirm: pd.DataFrame, refit: SplitSpec | None = None) -> str:
    """Log and register the seed ensemble of `arch`'s confirm runs on `dataset` at once (no outbox); returns the
    version's URI and whether it is champion, or `none: <why>`."""
    prepared = prepare_network(client, parent_run_id, sweep, dataset, arch, combine, confirm, refit)
    if isinstance(prepared, str):
        return prepared
    from pipeline.tracking.ensemble import log_and_register  # lazy: loads MLflow

    return log_and_register(client, parent_run_id, *prepared)


def prepare_network(client: TrackingClient, parent_run_id: str, sweep: str, dataset: str, arch: str, combine: str,
                    confirm: pd.DataFrame, refit: SplitSpec | None = None) -> Prepared | str:
    """The seed ensemble of `arch`'s confirm runs on `dataset` (`confirm`: the chosen confirm runs, with `run_id`,
    `artifact_uri` and `seed`) read from MLflow: its description and networks, or `none: <why>`. `refit`: the
    sweep's split, to train each network again on the full history (`deploy.refit`)."""
    runs = confirm[(confirm[Col.DATASET] == dataset) & (confirm[Col.ARCH] == arch)].sort_values(Col.RUN_ID)
    networks, forecasts = {}, []
    for run_id, uri in zip(runs[Col.RUN_ID], runs[Col.ARTIFACT_URI], strict=True):
        network = read_network(client, uri, str(run_id))
        fc = read_artifact(client, uri, Artifacts.FORECASTS)
        if network is None or fc is None:
            return f"none: {BEFORE_MODELS} (confirm run {run_id} has no {Artifacts.MODEL_DIR}/)"
        networks[str(run_id)] = network
        forecasts.append(series_of(json.loads(fc)))
    if not networks:
        return f"none: no finished confirm run of {arch} on {dataset}"
    info = ensemble_info(sweep, dataset, arch, combine, parent_run_id, list(networks),
                         forecasts, json.loads(next(iter(networks.values()))[0]))
    if refit is not None:
        return _refit(info, networks, dict(zip(runs[Col.RUN_ID].astype(str), runs[Col.SEED], strict=True)), refit)
    return info, networks


def _refit(info: EnsembleInfo, networks: dict[str, tuple[str, bytes]], seeds: dict[str, Any],
           split: SplitSpec) -> Prepared:
    """Every seed's network trained again on the full history of each series, on this process (the driver: a
    handful of fits of one small configuration, after Ray is done; their weights go straight into the model)."""
    t0 = time.perf_counter()
    histories = [(s.id, s.values) for s in info.series]
    refit = {run: refit_network(state, int(seeds[run]), histories, split) for run, (state, _) in networks.items()}
    seconds = time.perf_counter() - t0
    log.info("refit %d networks of %s on the full history in %.1f s", len(refit), info.dataset, seconds)
    through = {s.id: s.time[-1] if s.time else f"value {len(s.values) - 1}" for s in info.series}
    return info.model_copy(update={"refit": True, "refit_through": through, "refit_seconds": seconds}), refit
