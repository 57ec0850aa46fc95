"""The hand-over's model uploads go through an outbox, as the runs do, so that an MLflow outage loses nothing.

Each dataset's model is first saved whole on disk (`<sweep dir>/models/<parent run>/<dataset>/`, a pyfunc model as
MLflow would log it), then a record naming it is put in `<sweep dir>/outbox/models/<parent run>/` and pushed by
`pipeline.tracking.ensemble.upload`, which is idempotent: an upload cut short is run again from the start. The
outbox retries through a short outage; after a long one the record stays pending, the report stops at its
"registering" step, and `gatesweep sync` (or `resume`) pushes the kept record as it is, without rebuilding it;
`gatesweep sync DIR --tracking-uri URI` does the same for a report's own directory (`gatesweep report --out DIR`).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from pipeline.core.ensemble import EnsembleInfo
from pipeline.tracking.client import TrackingClient
from pipeline.tracking.ensemble import save_model, upload
from pipeline.tracking.outbox import FLUSH_TIMEOUT_S, Outbox
from pipeline.tracking.state import STATE_FILE


class ModelsPending(RuntimeError):
    """Some models are saved on disk but not yet in MLflow (the store is away, or refused them); `note`: the
    command that registers them later."""

    def __init__(self, message: str, note: str) -> None:
        super().__init__(message)
        self.note = note


def kept_parents(out_dir: Path) -> list[str]:
    """The parent runs whose models wait in `out_dir` (pending, or refused before)."""
    root = Path(out_dir) / "outbox" / "models"
    return sorted(p.name for p in root.glob("*") if any(p.glob("pending/*.json")) or any(p.glob("dead/*.json")))


class ModelUploads:
    """The models of one sweep (`parent_run_id`) waiting for, or written to, MLflow; `out_dir`: the sweep's own
    directory."""

    def __init__(self, out_dir: Path, client: TrackingClient, parent_run_id: str) -> None:
        self.out_dir, self.client, self.parent = Path(out_dir), client, parent_run_id
        # per parent run: a report rebuilt into a shared `--out` directory never meets another sweep's models
        self.files = self.out_dir / "models" / parent_run_id
        self.outbox = Outbox(self.out_dir / "outbox" / "models" / parent_run_id, self._push, parent_run_id)
        self.written: dict[str, str] = {}  # dataset -> the parent's tag value, for the uploads of this process

    def pending(self) -> set[str]:
        """Datasets whose model is saved and waiting (kept by an earlier attempt, or refused before)."""
        return {p.stem for d in (self.outbox.pending_dir, self.outbox.dead_dir) for p in d.glob("*.json")}

    def put(self, info: EnsembleInfo, networks: dict[str, tuple[str, bytes]]) -> None:
        """Save `info.dataset`'s model on disk and queue its upload."""
        directory = self.files / info.dataset
        shutil.rmtree(directory, ignore_errors=True)  # a save cut short before its record was put
        save_model(directory, info, networks)
        self.outbox.put(info.dataset, {"job": {"model": info.dataset}})

    def finish(self, timeout_s: float = FLUSH_TIMEOUT_S) -> dict[str, str]:
        """Push every queued model, those kept on disk by an earlier attempt included, waiting through an outage
        up to `timeout_s`. Returns dataset -> the parent's tag value for the models written now.

        Raises:
            ModelsPending: some are still not in MLflow; they stay on disk for `gatesweep sync`.
        """
        if not self.outbox.load_pending(dead=True):
            return {}
        self.outbox.start()
        try:
            remaining = self.outbox.flush(timeout_s)
        finally:
            self.outbox.close()
        stuck = sorted(self.pending())
        if remaining or stuck:
            raise ModelsPending(f"{len(stuck)} model(s) not yet in MLflow ({', '.join(stuck)}: "
                                f"{self.outbox.last_error}); nothing lost, they are kept in {self.files}",
                                f"`{self._sync_command()}` registers them once MLflow takes them")
        return self.written

    def _sync_command(self) -> str:
        """A sweep's directory knows its store; a report's (`gatesweep report --out`) does not: the command names it."""
        if (self.out_dir / STATE_FILE).exists():
            return f"gatesweep sync {self.out_dir}"
        return f"gatesweep sync {self.out_dir} --tracking-uri {self.client.tracking_uri}"

    def _push(self, record: dict[str, Any], maybe_partial: bool) -> None:
        dataset = record["job"]["model"]
        self.written[dataset] = upload(self.client, self.parent, self.files / dataset)
