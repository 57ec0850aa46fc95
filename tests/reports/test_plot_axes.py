"""Log axes label only the ticks that fit: the report's per-seed, tune and rounds figures printed every minor tick
of a wide axis (0.01, 0.02, ... 0.09) on top of each other."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from reports.plots import _plain_log_ticks  # noqa: E402


def _labels(lo: float, hi: float) -> tuple[list[str], list[str]]:
    """The labels of the major and minor ticks inside the axis `[lo, hi]`."""
    fig, ax = plt.subplots()
    ax.set_yscale("log")
    ax.set_ylim(lo, hi)
    _plain_log_ticks(ax.yaxis)
    fig.canvas.draw()

    def shown(minor: bool) -> list[str]:
        ticks = ax.yaxis.get_minor_ticks() if minor else ax.yaxis.get_major_ticks()
        return [t.label1.get_text() for t in ticks if lo <= t.get_loc() <= hi and t.label1.get_text()]

    out = shown(False), shown(True)
    plt.close(fig)
    return out


@pytest.mark.parametrize(("lo", "hi", "major", "minor"), [
    (0.0002, 0.6, ["0.001", "0.01", "0.1"], []),  # more than 2 decades: powers of ten only
    (0.3, 12.0, ["1", "10"], ["0.5", "2", "5"]),  # under 2 decades: 2 and 5 times a power of ten too
    (0.5, 1.5, ["1"], ["0.5", "0.6", "0.7", "0.8", "0.9"]),  # under half a decade: every tick
])
def test_minor_ticks_are_labelled_only_as_far_as_they_fit(lo: float, hi: float, major: list[str],
                                                          minor: list[str]) -> None:
    assert _labels(lo, hi) == (major, minor)
