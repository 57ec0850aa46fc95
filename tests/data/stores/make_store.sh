#!/usr/bin/env bash
# Writes tests/data/stores/<name>/ : the MLflow store (SQLite + artifacts) of one real nightly sweep of
# release_store.yaml, made by the gatesweep installed in this environment (or the tree in $GATESWEEP_TREE).
# Usage: bash tests/data/stores/make_store.sh NAME   (e.g. 0.1.0-16a01f6). ~3 minutes on 2 cores.
# Artifact paths in the database start with @STORE@; tests/conftest.py's `legacy_store` rewrites them.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
name="$1"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$here/release_store.yaml" "$work/"
cd "$work"
export PYTHONPATH="${GATESWEEP_TREE:-}${PYTHONPATH:+:$PYTHONPATH}" TF_CPP_MIN_LOG_LEVEL=3
python -m pipeline nightly release_store.yaml --tracking-uri "sqlite:///$work/mlflow.db" --lock-dir "$work/locks" \
    > "$work/stdout.txt"
out="$here/$name"
rm -rf "$out" && mkdir -p "$out"
python - "$work" "$out" <<'PY'
import shutil, sqlite3, sys
from pathlib import Path
work, out = Path(sys.argv[1]), Path(sys.argv[2])
shutil.copytree(work / "mlruns", out / "mlruns")
shutil.copy(work / "mlflow.db", out / "mlflow.db")
db = sqlite3.connect(out / "mlflow.db")
for table, col in (("experiments", "artifact_location"), ("runs", "artifact_uri")):
    db.execute(f"UPDATE {table} SET {col} = replace({col}, ?, '@STORE@')", (f"file://{work}",))
    db.execute(f"UPDATE {table} SET {col} = replace({col}, ?, '@STORE@')", (str(work),))
db.commit()
db.execute("VACUUM")
db.close()
report = next(work.glob("gatesweep-output/release-store/nightly-*/report/verdict.json"))
shutil.copy(report, out / "verdict.json")  # what that release's report said, to compare rebuilds with
shutil.copy(work / "stdout.txt", out / "stdout.txt")
PY
du -sh "$out"
