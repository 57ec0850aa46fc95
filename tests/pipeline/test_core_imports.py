from __future__ import annotations

import subprocess
import sys


def test_pure_core_imports_neither_ray_nor_mlflow() -> None:
    code = ("import sys; import pipeline.config, pipeline.data, pipeline.models, pipeline.training, "
            "pipeline.metrics, reports.stats, reports.render; "
            "bad = [m for m in ('ray', 'mlflow') if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
