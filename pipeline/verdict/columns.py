"""The columns of the confirm-runs table that the verdict's statistics read.

The report stage's runs table (`reports.schema.Col`) takes these names from here, so the statistics and the
table they read cannot drift apart; the statistics stay free of the report stage.
"""

from __future__ import annotations

from typing import Final

__all__ = ["RunColumns"]


class RunColumns:
    """A confirm run's dataset, architecture, test MASE and index (its seed number: its round follows from it)."""

    DATASET: Final = "dataset"
    ARCH: Final = "arch"
    TEST_MASE: Final = "test_mase"
    INDEX: Final = "index"
