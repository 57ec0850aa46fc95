"""A panel with more series than its forecast figure draws: the figure shows the most important ones, every series
has a figure file that summary.md links, and report.html offers each behind a selector (runs logged by hand: the
2-series monthly panel plus 7 more series)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from pipeline.verdict.model import ScoreTable
from reports import build, build_report, compute_verdict
from reports.series import SHOWN_SERIES, importance
from tests.reports.hand_made import log_hand_made_panel


@pytest.fixture(scope="module")
def nine(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, str]:
    path = tmp_path_factory.mktemp("nine")
    client, parent_id, _ = log_hand_made_panel(f"sqlite:///{path / 'mlflow.db'}", extra=7)
    return client, parent_id


def test_every_series_has_a_figure_file_linked_from_summary_and_offered_by_the_selector(
        nine: Any, tmp_path: Path) -> None:
    client, parent_id = nine
    verdict = build_report(client, parent_id, tmp_path / "out")
    report = tmp_path / "out" / "report"
    files = sorted((report / "figures" / "series_shop").iterdir())
    ids = verdict.dataset("shop").scores.series  # type: ignore[union-attr]
    assert len(ids) == 9 and [f.name for f in files] == [f"{k:04d}_{sid}.png" for k, sid in enumerate(ids)]
    assert all(f.read_bytes()[:4] == b"\x89PNG" for f in files)
    summary = (report / "summary.md").read_text(encoding="utf-8")
    assert all(f"[{sid}](figures/series_shop/{k:04d}_{sid}.png)" in summary for k, sid in enumerate(ids))
    html = (report / "report.html").read_text(encoding="utf-8")
    assert "the 6 of its 9 series that matter most to the decision" in html
    picker = re.search(r"<select data-dataset='shop'.*?</select>", html)
    assert picker is not None
    options = re.findall(r"<option value='data:image/png;base64,[^']+'>([^<]+)</option>", picker.group())
    assert options == ids
    assert "<noscript>" in html  # without script: where the files are


def test_report_html_holds_at_most_the_embedded_number_of_series_pictures(
        nine: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    client, parent_id = nine
    monkeypatch.setattr(build, "EMBEDDED_SERIES", 3)
    verdict = build_report(client, parent_id, tmp_path / "out")
    html = (tmp_path / "out" / "report" / "report.html").read_text(encoding="utf-8")
    options = re.findall(r"<option value='data:image/png;base64,[^']+'>([^<]+)</option>", html)
    order, _ = importance(verdict.dataset("shop"))
    ids = verdict.dataset("shop").scores.series  # type: ignore[union-attr]
    assert options == [ids[i] for i in sorted(order[:3])]
    assert "The 3 of shop&#x27;s 9 series that matter most" in html
    files = sorted(f.name for f in (tmp_path / "out" / "report" / "figures" / "series_shop").iterdir())
    assert files == [f"{k:04d}_{ids[k]}.png" for k in sorted(order[:3])]  # drawn: the 3 that matter most


def test_series_rank_by_their_share_of_the_network_baseline_gap_and_the_worst_comes_within_the_shown(
        nine: Any) -> None:
    client, parent_id = nine
    verdict, _ = compute_verdict(client, parent_id)
    v = verdict.dataset("shop")
    assert v.useful is not None
    # LSTM ensemble against ETS: gaps 0.1, 0.5, 0.05, 0.9, 0.3, 0.2, 0.4, 0.6, 0.02; series 8 forecast worst (3.0)
    lstm = [1.0, 1.5, 0.9, 0.1, 1.3, 1.2, 1.4, 1.6, 3.0]
    ets = [1.1, 1.0, 0.95, 1.0, 1.0, 1.0, 1.0, 1.0, 2.98]
    table = ScoreTable(forecasters=["lstm_ensemble", "ets"], series=[f"x{k}" for k in range(9)],
                       per_series=[[a, b] for a, b in zip(lstm, ets, strict=True)], per_step=[[1.0, 1.0]],
                       series_mean_level=[1.0] * 9)
    mine = v.model_copy(update={"scores": table,
                                "useful": v.useful.model_copy(update={"arch": "lstm", "best_baseline": "ets"})})
    order, rule = importance(mine)
    assert order[:SHOWN_SERIES] == [3, 7, 1, 6, 4, 8]  # the five largest gaps, then the worst
    assert sorted(order) == list(range(9))
    assert "LSTM ensemble's test MASE is from ETS's" in rule


def test_report_figures_carry_a_phone_width_drawing_that_narrow_screens_get(tmp_path: Path) -> None:
    """Every figure wider than a phone has a second drawing about 4.2 inches wide (its text then reads about twice
    as large on a 390 px screen), legends included, which report.html offers below 600 px."""
    import base64
    import io

    from PIL import Image

    from reports.plots import NARROW_DPI, NARROW_WIDTH

    client, parent_id, _ = log_hand_made_panel(f"sqlite:///{tmp_path / 'mlflow.db'}")
    build_report(client, parent_id, tmp_path / "out")
    html = (tmp_path / "out" / "report" / "report.html").read_text(encoding="utf-8")
    pictures = re.findall(r"<figure class='fig'><picture><source media='\(max-width: 600px\)' "
                          r"srcset='data:image/png;base64,([^']+)'><img alt='([^']+)'", html)
    assert len(pictures) == html.count("<figure class='fig'>") >= 4
    assert any("test forecasts against actuals" in alt for _, alt in pictures)
    for data, alt in pictures:
        width = Image.open(io.BytesIO(base64.b64decode(data))).width / NARROW_DPI  # inches, with every label
        assert width <= 1.2 * NARROW_WIDTH, (alt[:40], width)
