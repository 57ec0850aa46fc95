"""The pure core trains and scores, and the verdict's statistics (`pipeline.verdict`) decide, without Ray,
MLflow, matplotlib or the report stage ever being imported."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

_CORE_AT_WORK = """
import sys
import numpy as np, pandas as pd
from pipeline.core.config import ReportSpec
import pipeline.verdict.budget, pipeline.verdict.dm, pipeline.verdict.horizon, pipeline.verdict.model
from pipeline.verdict.overall import overall
from pipeline.verdict.sequential import Design, replay
from pipeline.verdict.stats import compare_architectures


def loaded(*roots):
    return sorted(m for m in sys.modules if m.split(".")[0] in roots)


# the verdict's statistics alone (Keras itself imports matplotlib, so they are checked before any training)
rng = np.random.default_rng(0)
table = pd.DataFrame({"dataset": "d", "arch": ["gru"] * 3 + ["lstm"] * 3, "test_mase": rng.lognormal(0, 0.1, 6)})
assert replay(table, Design(3, 3, 3), ReportSpec()).datasets == ["d"]  # what the sweep runs between rounds
assert overall(compare_architectures(table, {})).label in ("gru", "lstm", "equivalent", "inconclusive")
bad = loaded("ray", "mlflow", "matplotlib", "reports")

from pipeline.core.data import damped_oscillation
from pipeline.core.hparams import HParams
from pipeline.core.models import configure_tensorflow
from pipeline.core.scoring import Scoring
from pipeline.core.training import fit_and_score

configure_tensorflow(1)
series = damped_oscillation(points=80)
mase = {}
for arch in ("gru", "lstm"):
    hp = HParams(arch=arch, hidden_size=8, window=6, batch_size=10, epochs=2, optimizer="adam", learning_rate=0.01)
    mase[arch] = [fit_and_score(hp, series, Scoring(), seed=s, evaluate_test=True).metrics["test_mase"]
                  for s in range(3)]
table = pd.DataFrame({"dataset": "d", "arch": ["gru"] * 3 + ["lstm"] * 3, "test_mase": mase["gru"] + mase["lstm"]})
verdicts = compare_architectures(table, {})
text = overall(verdicts).model_dump_json() + "".join(v.model_dump_json() for v in verdicts)
assert verdicts[0].label in ("gru", "lstm", "equivalent", "inconclusive") and text
bad += loaded("ray", "mlflow", "reports")
print(bad)
sys.exit(1 if bad else 0)
"""


def test_the_core_trains_and_the_verdict_decides_without_importing_ray_mlflow_matplotlib_or_reports() -> None:
    proc = subprocess.run([sys.executable, "-c", _CORE_AT_WORK], capture_output=True, text=True, timeout=300,
                          cwd=ROOT, env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    assert proc.stdout.strip() == "[]"
