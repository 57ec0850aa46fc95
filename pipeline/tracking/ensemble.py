"""A dataset's seed ensemble as an MLflow pyfunc model on the sweep's parent run, registered as
`<sweep>.<dataset>` (a new version per sweep) with the alias `champion` moved only to a version at least as good
on its test origins. The model is logged from code (`ensemble_model.py`): nothing is pickled, and loading it runs
no code from the store; the networks are plain `.npz` arrays (`pipeline.core.handover`).
"""

from __future__ import annotations

import functools
import importlib.metadata
import math
import tempfile
import warnings
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel

from pipeline.core.ensemble import INFO, EnsembleInfo, SeedEnsemble, write_ensemble
from pipeline.tracking.client import TrackingClient
from pipeline.tracking.contract import Artifacts, Tags

CHAMPION = "champion"
BEFORE_MODELS = "this sweep was written before models were logged"
TEST_MASE_TAG = "gatesweep.test_mase"  # on a model version: its ensemble's test MASE (what `champion` compares)
REFIT_TAG = "gatesweep.refit"  # on a model version: `true` when its networks were refit on the full history
CHAMPION_TAG = "gatesweep.champion"  # on a model version: whether it took `champion` when registered, and why
ARTIFACT = "ensemble"  # the pyfunc artifact holding the ensemble's directory: `<model>/artifacts/ensemble/`
_CODE = Path(__file__).with_name("ensemble_model.py")


class EnsembleForecaster(PythonModel):
    """`predict(frame, params={"origins": "end"})`: see `pipeline.core.ensemble.SeedEnsemble.predict_frame`."""

    def load_context(self, context: Any) -> None:
        self.ensemble = SeedEnsemble.load(Path(context.artifacts[ARTIFACT]))

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        return self.ensemble.predict_frame(model_input, str((params or {}).get("origins", "end")))


def model_name(sweep: str, dataset: str) -> str:
    return f"{sweep}.{dataset}"


def _signature(info: EnsembleInfo) -> Any:
    from mlflow.models import ModelSignature  # lazy: loads MLflow
    from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema  # lazy: loads MLflow

    past, future = info.covariates
    has_time = any(s.time for s in info.series)
    inputs: list[Any] = [ColSpec("string", "id"), ColSpec("double", "value")]
    inputs += [ColSpec("string", "time", required=False)]
    inputs += [ColSpec("double", c) for c in past + future]
    outputs: list[Any] = [ColSpec("string", "id"), ColSpec("long", "origin"), ColSpec("long", "step")]
    outputs += [ColSpec("string", "time", required=False)] if has_time else []
    outputs += [ColSpec("double", "forecast")]
    outputs += [ColSpec("double", f"{side}_{level}") for level in info.levels for side in ("lo", "hi")]
    return ModelSignature(Schema(inputs), Schema(outputs), ParamSchema([ParamSpec("origins", "string", "end")]))


def save_model(directory: Path, info: EnsembleInfo, networks: dict[str, tuple[str, bytes]]) -> Path:
    """The pyfunc model as MLflow would log it, in `directory` (what an upload pushes; it may wait there through
    an outage). Returns `directory`."""
    with tempfile.TemporaryDirectory() as tmp:
        ens_dir = Path(tmp) / ARTIFACT
        write_ensemble(ens_dir, info, networks)
        with warnings.catch_warnings():  # the signature is given; an example would need covariates we do not keep
            warnings.filterwarnings("ignore", message=".*input example was not provided.*", category=UserWarning)
            mlflow.pyfunc.save_model(str(directory), python_model=str(_CODE), artifacts={ARTIFACT: str(ens_dir)},
                                     signature=_signature(info), pip_requirements=_requirements())
    return directory


@functools.cache
def _requirements() -> list[str]:
    """The model's pip requirements, given: MLflow would otherwise infer them by loading the model (seconds each)."""
    return [f"{p}=={importlib.metadata.version(p)}" for p in ("mlflow", "tensorflow", "keras", "numpy", "pandas",
                                                              "pydantic")]


def saved_info(directory: Path) -> EnsembleInfo:
    return EnsembleInfo.model_validate_json((directory / "artifacts" / ARTIFACT / INFO).read_text(encoding="utf-8"))


def upload(client: TrackingClient, parent_run_id: str, directory: Path) -> str:
    """Log a saved model under `models/<dataset>` of the parent run, register it as a new version of
    `<sweep>.<dataset>` (moving `champion` by `promote`), and tag the parent with it. Idempotent, so that an
    upload cut short by an outage can simply be run again: the artifacts are overwritten, the version this parent
    registered before is reused, and the champion decision is made once. Returns the parent's tag value:
    `models:/<name>/<version> (champion)` or `... (not champion: <why>)`."""
    info = saved_info(directory)
    path = f"{Artifacts.ENSEMBLES_DIR}/{info.dataset}"
    client.log_artifacts(parent_run_id, str(directory), path)
    name = model_name(info.sweep, info.dataset)
    try:
        client.get_registered_model(name)
    except mlflow.exceptions.MlflowException:
        client.create_registered_model(name, description=f"gatesweep: the recommended forecaster of dataset "
                                                         f"{info.dataset!r} in sweep {info.sweep!r}")
    earlier = client.search_model_versions(f"name = '{name}' and run_id = '{parent_run_id}'")
    version = earlier[0] if earlier else client.create_model_version(
        name, f"{client.get_run(parent_run_id).info.artifact_uri}/{path}", run_id=parent_run_id,
        tags={TEST_MASE_TAG: repr(info.test_mase), "gatesweep.arch": info.arch,
              "gatesweep.seeds": str(len(info.runs)), "gatesweep.parent_run": parent_run_id,
              REFIT_TAG: str(info.refit).lower()},
        description=(f"{info.arch.upper()} seed ensemble (median of {len(info.runs)} confirm seeds) of sweep "
                     f"{info.sweep!r} on {info.dataset!r}: test MASE {info.test_mase:.4g} on the sweep's test "
                     f"origins; conformal intervals at {', '.join(map(str, info.levels))}%" + _refit_note(info)))
    why = version.tags.get(CHAMPION_TAG) if earlier else None
    if why is None:
        why = promote(client, name, version.version, info.test_mase)[1]
    value = f"models:/{name}/{version.version} " + ("(champion)" if why.startswith("yes")
                                                     else f"(not champion: {why.removeprefix('no: ')})")
    tag_model(client, parent_run_id, info.dataset, value)
    return value


def tag_model(client: TrackingClient, parent_run_id: str, dataset: str, value: str) -> None:
    """The parent's tag `gatesweep.model.<dataset>`: the registered model (`upload`'s value), or `none: <why>` when
    none was registered."""
    client.set_tag(parent_run_id, Tags.model_of(dataset), value)


def _refit_note(info: EnsembleInfo) -> str:
    if not info.refit:
        return ""
    through = ", ".join(f"{k} through {v}" for k, v in list(info.refit_through.items())[:5])
    more = f" and {len(info.refit_through) - 5} more" if len(info.refit_through) > 5 else ""
    return (f". Refit (deploy.refit): the same configuration and seeds trained again on each series' full history "
            f"({through}{more}); the test MASE and the intervals are the confirm runs', which held the test part out")


def log_and_register(client: TrackingClient, parent_run_id: str, info: EnsembleInfo,
                     networks: dict[str, tuple[str, bytes]]) -> str:
    """`save_model` then `upload`, at once (no outbox): the parent's tag value."""
    with tempfile.TemporaryDirectory() as tmp:
        return upload(client, parent_run_id, save_model(Path(tmp) / "model", info, networks))


def promote(client: TrackingClient, name: str, version: str, test_mase: float) -> tuple[bool, str]:
    """Point `champion` at `version` when there is none yet or the new one is at least as good: its ensemble's
    test MASE (on its sweep's test origins; the same origins when the data did not change) is at most the
    champion's. Returns whether it moved and why, which the version keeps in its tag `gatesweep.champion`."""
    try:
        current = client.get_model_version_by_alias(name, CHAMPION)
    except mlflow.exceptions.MlflowException:
        current = None
    if current is None:
        moved, why = True, "yes: the first version with a test MASE"
    else:
        held = float(current.tags.get(TEST_MASE_TAG, "inf"))
        was = f"version {current.version}'s {held:#.4g}"
        if not math.isfinite(test_mase):
            moved, why = False, f"no: the test MASE is {test_mase}; version {current.version} stays champion"
        elif test_mase <= held:
            moved, why = True, f"yes: test MASE {test_mase:#.4g} <= {was}"
        else:
            moved, why = False, f"no: test MASE {test_mase:#.4g} > {was}; version {current.version} stays champion"
    client.set_model_version_tag(name, version, CHAMPION_TAG, why)
    if moved:
        client.set_registered_model_alias(name, CHAMPION, version)
    return moved, why
