"""The MLflow contract's names (README, "MLflow contract"): tags, params, metric families and artifact paths.

The sweep's writer (`pipeline.tracking.tracker`), the report stage and the nightly comparison all name runs'
fields through this module, so a name is changed here and nowhere else. Pure: no MLflow import.
"""

from __future__ import annotations

import json
from typing import Final

from pipeline.core.hparams import ARCHITECTURES

__all__ = ["ARCHITECTURES", "Artifacts", "Metrics", "Params", "RunsView", "Tags"]


class Tags:
    """Run tags. Child runs: identity and outcome; the parent: the sweep's state and its verdict."""

    PARENT: Final = "mlflow.parentRunId"  # MLflow's own: nests a child under its sweep
    NOTE: Final = "mlflow.note.content"  # MLflow's own: the run page's description
    ROLE: Final = "gatesweep.role"  # sweep | trial | select | confirm
    ARCH: Final = "gatesweep.arch"
    DATASET: Final = "gatesweep.dataset"
    SEED: Final = "gatesweep.seed"
    INDEX: Final = "gatesweep.index"
    RANK: Final = "gatesweep.rank"
    SOURCE_TRIAL: Final = "gatesweep.source_trial"
    VARIANT: Final = "gatesweep.variant"
    ATTEMPT: Final = "gatesweep.attempt"
    STOPPED_EARLY: Final = "gatesweep.stopped_early"
    NODE: Final = "gatesweep.node"
    ERROR: Final = "gatesweep.error"
    KEY: Final = "gatesweep.key"  # a run's identity within its sweep (idempotent writes)
    CODE_VERSION: Final = "gatesweep.code_version"
    GPU_IDS: Final = "gatesweep.gpu_ids"
    CUDA_VISIBLE_DEVICES: Final = "gatesweep.cuda_visible_devices"
    # the parent run
    SPEC_PATH: Final = "gatesweep.spec_path"
    OUT_DIR: Final = "gatesweep.out_dir"
    CHILD_RUNS: Final = "gatesweep.child_runs"
    PROGRESS: Final = "gatesweep.progress"
    INTERRUPTED: Final = "gatesweep.interrupted"
    CONFIRM_CUT: Final = "gatesweep.confirm_cut"  # "max_minutes": no further confirm round was started
    # the report could not be built (the stage and the error, one line); removed once a report is built
    REPORT_FAILED: Final = "gatesweep.report_failed"
    VERDICT: Final = "gatesweep.verdict"
    NIGHTLY: Final = "gatesweep.nightly"
    NIGHTLY_VERDICT_CHANGED: Final = "gatesweep.nightly.verdict_changed"
    NIGHTLY_MASE_WORSE: Final = "gatesweep.nightly.mase_worse"
    NIGHTLY_PREVIOUS_RUN: Final = "gatesweep.nightly.previous_run"
    # a confirm run whose network was not kept (its weights exceed the bound): why
    MODEL_SKIPPED: Final = "gatesweep.model_skipped"
    # the experiment
    WRITE_PROBE: Final = "gatesweep.writes_here"  # set before a sweep starts: the write permission check
    EXPERIMENT_KIND: Final = "mlflow.experimentKind"  # MLflow's own: opens the UI on the runs table

    @staticmethod
    def verdict_of(dataset: str) -> str:
        return f"gatesweep.verdict.{dataset}"

    @staticmethod
    def model_of(dataset: str) -> str:
        """On the parent: the registered ensemble of `dataset` (`models:/<sweep>.<dataset>/<version>`), or
        `none: <why>` when no network is useful there (`reports.handover`)."""
        return f"gatesweep.model.{dataset}"

    @staticmethod
    def useful_of(dataset: str) -> str:
        """On the parent: whether a network is worth using on `dataset` (`gru`, `lstm`, `baseline:<name>`,
        `untestable`): the better seed ensemble against every baseline (the report's usefulness rule)."""
        return f"gatesweep.useful.{dataset}"

    @staticmethod
    def baseline_failed(dataset: str, baseline: str) -> str:
        """On the parent: why a statistical baseline (`ets`, `arima`, `theta`) could not be fitted on a dataset."""
        return f"gatesweep.baseline_failed.{dataset}.{baseline}"

    @staticmethod
    def baseline_forms(dataset: str) -> str:
        """On the parent: the forms the statistical baselines chose on a dataset (`ets: ETS(M,Ad,M); arima:
        ARIMA(0,1,1)(0,1,1)[12] on log; theta: Theta`; counted over a panel's series)."""
        return f"gatesweep.baseline_forms.{dataset}"

    @staticmethod
    def dropped_series(dataset: str) -> str:
        """On the parent: the series of a panel `short_series: drop` left out, a JSON list of [id, length]."""
        return f"gatesweep.dropped_series.{dataset}"

    @staticmethod
    def confirm_stop(dataset: str) -> str:
        """On the parent: why a dataset's confirm rounds ended (`reports.rounds.STOP_REASONS`)."""
        return f"gatesweep.confirm_stop.{dataset}"

    @staticmethod
    def data_span(dataset: str) -> str:
        """On the parent: what was read of a dataset, `1995-01 to 2016-05, monthly, 257 points` (`Panel.describe`)."""
        return f"gatesweep.data_span.{dataset}"

    @staticmethod
    def omitted_metrics(dataset: str) -> str:
        """On the parent: the verdict metrics of a dataset left out because they have no number (not defined, or
        an unbounded repeated interval), and why, in words."""
        return f"gatesweep.omitted_metrics.{dataset}"

    @staticmethod
    def data_of(dataset: str) -> str:
        """A dataset's content fingerprint on a nightly parent run."""
        return f"gatesweep.data.{dataset}"


# child tags read back into the report's table: tag -> column
CHILD_TAG_COLUMNS: Final = {Tags.ROLE: "role", Tags.ARCH: "arch", Tags.DATASET: "dataset", Tags.SEED: "seed",
                            Tags.INDEX: "index", Tags.RANK: "rank", Tags.NODE: "node", Tags.ERROR: "error",
                            Tags.VARIANT: "variant", Tags.ATTEMPT: "attempt", Tags.SOURCE_TRIAL: "source_trial"}


class Params:
    """Parent-run params the report stage reads; child runs carry every hyperparameter (`strategy` among
    them), `arch`, and their dataset's forecast `horizon`."""

    HORIZON: Final = "horizon"
    PATIENCE: Final = "patience"  # early stopping: epochs without a better validation MASE, or "none"
    # what a child was fitted on: `train`, or `train+validation` for a confirm run's final fit (its `epochs` then
    # are the ones early stopping chose on validation, and it has no validation scores); on the parent,
    # `final_fit` is the sweep's setting
    FIT_ON: Final = "fit_on"
    FINAL_FIT: Final = "final_fit"

    # the confirm design (`pipeline.verdict.sequential`): seeds in round 1, then per round, up to the cap; a parent
    # without `confirm_max_seeds` (written before rounds existed) had one round
    SEEDS: Final = "confirm_seeds"
    SEEDS_PER_ROUND: Final = "confirm_seeds_per_round"
    MAX_SEEDS: Final = "confirm_max_seeds"
    MAX_MINUTES: Final = "confirm_max_minutes"
    DATASETS: Final = "datasets"
    SAMPLER: Final = "sampler"
    ALPHA: Final = "alpha"
    EQUIVALENCE_MARGIN: Final = "equivalence_margin"
    MIN_SEEDS: Final = "min_seeds"
    SMALLEST_EFFECT: Final = "smallest_effect"


class Metrics:
    """Metric names. Child runs: per-epoch rows (step = epoch) and final values (step 0)."""

    EPOCH: Final = ("loss", "val_loss", "epoch_val_mase")
    # in the order a child logs them, before its curves: MLflow's compare view plots the runs' first shared metric
    # (its parallel coordinates open on it), so that is the score a run is judged by
    FINAL: Final = ("test_mase", "val_mase", "test_rmse", "val_rmse", "test_smape", "closed_loop_rmse",
                    "n_params", "seconds_per_epoch", "train_seconds", "compile_seconds", "epochs_trained",
                    "best_epoch", "train_windows", "steps_per_epoch")
    # how a run went rather than how good it is: logged as `system/<name>`, which MLflow's run page shows on its
    # System metrics tab, so that its Model metrics tab opens on the curves and the scores (MLflow draws every
    # `<prefix>/` section before its unprefixed "Model metrics" one); the names the design fixes (`n_params`,
    # `seconds_per_epoch`, `train_seconds`) stay where they are
    RUN_FACTS: Final = ("compile_seconds", "epochs_trained", "best_epoch", "train_windows", "steps_per_epoch")
    SYSTEM_PREFIX: Final = "system/"
    VAL_MASE: Final = "val_mase"  # the tune objective (the best epoch's with early stopping)
    TEST_MASE: Final = "test_mase"  # the verdict's per-seed number
    # metrics a finished run of each role must have for the report to use it
    REQUIRED: Final = {"trial": ("val_mase",), "select": ("val_mase",), "confirm": ("test_mase",)}

    @classmethod
    def logged(cls, name: str) -> str:
        """A child's final metric's MLflow key: `system/epochs_trained`, `test_mase`."""
        return cls.SYSTEM_PREFIX + name if name in cls.RUN_FACTS else name

    @classmethod
    def read(cls, key: str) -> str:
        """The inverse of `logged`; runs written by 0.1.0 carry the bare names, which pass through."""
        bare = key.removeprefix(cls.SYSTEM_PREFIX)
        return bare if bare in cls.RUN_FACTS else key

    @staticmethod
    def shown(value: float) -> float:
        """A parent run's summary value as people read it on the run page: 4 significant digits
        (`0.14717065881398003` -> 0.1472). Child runs keep every digit: the verdict is computed from them."""
        return float(f"{value:.4g}")

    @staticmethod
    def baseline(dataset: str, name: str) -> str:
        """`baseline.<dataset>.<name>` on the parent: naive_mase, seasonal_naive_mase, ar_mase, ar_window, ..."""
        return f"baseline.{dataset}.{name}"

    @staticmethod
    def verdict(dataset: str, name: str) -> str:
        """`verdict.<dataset>.<name>` on the parent: ratio, ratio_ci_low/high, p_holm, prob_*, seeds_needed."""
        return f"verdict.{dataset}.{name}"

    @staticmethod
    def test_mase(dataset: str, arch: str, stat: str) -> str:
        """`test_mase.<dataset>.<arch>.<stat>` on the parent: mean, ci_low, ci_high."""
        return f"test_mase.{dataset}.{arch}.{stat}"


class Artifacts:
    """Artifact paths. Parent: the sweep file, timings and the report; confirm runs: their forecasts."""

    SWEEP_FILE: Final = "sweep.yaml"
    TIMINGS: Final = "timings.json"
    # per dataset and series: the baselines' test origins, truth, forecasts, MASE and MASE scale
    # (`pipeline.app.sweep.dataset_baselines`); sweeps from before it have none
    BASELINES: Final = "baselines.json"
    REPORT_DIR: Final = "report"
    REPORT_HTML: Final = "report/report.html"
    # the same page at the artifact root, the first thing the run's Artifacts tab lists
    REPORT_HTML_ROOT: Final = "report.html"
    VERDICT_JSON: Final = "report/verdict.json"
    FORECASTS: Final = "forecasts.json"
    # confirm runs: the trained network as an MLflow pyfunc model, `runs:/<run id>/model`
    # (`pipeline.tracking.run_model`, which also names where in it the network's state and weights are); runs logged
    # before it keep the network (`pipeline.core.handover`) as these two plain files
    MODEL_DIR: Final = "model"
    MODEL_STATE: Final = "model/state.json"
    MODEL_WEIGHTS: Final = "model/weights.npz"
    # the parent: each dataset's seed ensemble as an MLflow pyfunc model (`models/<dataset>`)
    ENSEMBLES_DIR: Final = "models"
    FORECAST_PNG: Final = "forecast.png"
    ERROR: Final = "error.txt"


class RunsView:
    """The runs table with gatesweep's columns. MLflow 3.17 has no per-experiment default columns: the table opens
    on its own defaults (or on the columns a browser last chose, kept in its local storage). What it has is a
    shared view: an experiment tag `mlflow.sharedViewState.<key>` holding the table's state as JSON, which the
    runs page loads when its address carries `viewStateShareKey=<key>` (the UI's own "Share" button writes such
    tags). gatesweep writes one, `KEY`, and its links to the runs table carry it."""

    KEY: Final = "gatesweep"
    TAG: Final = "mlflow.sharedViewState." + KEY
    # what tells a sweep's runs apart, the verdict (the parent's), the score each run is judged by, and the cost;
    # MLflow's column ids: `<tags|metrics|params|attributes>.` + the name in backticks
    COLUMNS: Final = ("tags.`gatesweep.role`", "tags.`gatesweep.dataset`", "tags.`gatesweep.arch`",
                      "tags.`gatesweep.seed`", "tags.`gatesweep.verdict`", "metrics.`test_mase`",
                      "metrics.`val_mase`", "metrics.`seconds_per_epoch`")

    @classmethod
    def state(cls) -> str:
        """The tag's value: the runs table's state with `COLUMNS` shown (every other setting at MLflow's default)."""
        return json.dumps({"selectedColumns": list(cls.COLUMNS)})

    @classmethod
    def query(cls) -> str:
        """The runs table's address parameters: MLflow's machine-learning view, with this view's columns."""
        return f"workflowType=machine_learning&viewStateShareKey={cls.KEY}"
