"""What MLflow shows first of a sweep (issue 34): the parent run's description opens on the verdict, the links, whether
a network is worth using and the key test MASE numbers; `report.html` at the run's artifact root; the report's
desktop layout inside MLflow's narrow artifact frame; the runs table's columns as a shared view."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.tracking.contract import Artifacts, RunsView
from pipeline.verdict.model import Usefulness, Verdict
from reports import build_report
from reports.decision import next_steps
from reports.description import parent_description
from reports.render import DESKTOP_ZOOM, report_html
from tests.reports.hand_made import log_hand_made_panel
from tests.reports.verdicts import one_dataset, quickstart_check

_LOSING = Usefulness(useful="baseline:ets", ensemble="median", ensemble_mase={"gru": 0.9, "lstm": 1.1}, arch="gru",
                     best_baseline="ets", baseline_mase={"ets": 0.7, "naive": 1.2},
                     p_values={"ets": 0.9, "naive": 0.01},
                     level=0.025, test="Diebold-Mariano", sentence="damped: use ETS — the GRU seed ensemble ...")


def _verdict(**changes: object) -> Verdict:
    v = one_dataset(label="gru", beats_naive=True, beats_ar=True, **changes)
    return v.model_copy(update={"next_steps": next_steps(v, quickstart_check())})


def test_the_description_opens_on_the_verdict_links_usefulness_and_key_numbers() -> None:
    v = _verdict(useful=_LOSING)
    text = parent_description(v, experiment_id="7")
    head, details = text.split("\n\n", 1)
    lines = head.splitlines()
    assert lines[0] == "**gatesweep verdict: gru** — damped: GRU wins."
    report = f"#/experiments/7/runs/{v.parent_run_id}/artifacts/report.html?workflowType=machine_learning"
    runs = "#/experiments/7/runs?workflowType=machine_learning&viewStateShareKey=gatesweep"
    assert lines[1] == f"**Report:** [report.html]({report}) · [every run of the sweep]({runs})"
    assert lines[2] == "**Worth using?** damped: no, use ETS (`useful: baseline:ets`)."
    assert lines[3] == "**Test MASE:** damped: GRU ensemble 0.900, LSTM ensemble 1.10, best baseline ETS 0.700."
    assert len(lines) == 4
    # the details: the advice in full, the configurations; the verdict line and the links only once, in the head
    assert details.startswith("**Worth using, in full:** damped: use ETS (")
    assert "- damped / GRU: batch_size" in details and "**Chosen configurations**" in details
    assert text.count("gatesweep verdict") == 1 and "Full report:" not in text


def test_a_useful_network_and_a_verdict_from_before_usefulness_give_their_own_numbers() -> None:
    useful = _LOSING.model_copy(update={"useful": "gru"})
    assert "**Worth using?** damped: yes, the GRU (`useful: gru`)." in parent_description(_verdict(useful=useful))
    old = _verdict()  # schema 4: no usefulness; the geometric means over seeds and the best baseline
    head = parent_description(old).split("\n\n")[0]
    assert "Worth using?" not in head
    d = old.datasets[0]
    assert (f"**Test MASE:** damped: GRU {d.gmean_mase_gru:.3g}, LSTM {d.gmean_mase_lstm:.3g} (geometric means "
            "over seeds)") in head
    assert "**Report:** the artifact `report.html` of this run." in head


def test_over_three_datasets_the_head_gives_the_overall_words_and_says_how_many_more() -> None:
    v = _verdict(useful=_LOSING)
    many = v.model_copy(update={"datasets": [v.datasets[0].model_copy(update={"dataset": f"d{i}"})
                                             for i in range(5)]})
    head = parent_description(many, "1").split("\n\n")[0].splitlines()
    assert head[0] == f"**gatesweep verdict: gru** — {many.overall.note}."
    assert head[2].startswith("**Worth using?** d0: no, use ETS") and "d3" not in head[2]
    assert head[2].endswith("; 2 more datasets in the report.") and head[3].endswith("; 2 more datasets in the report.")


def test_the_report_is_also_at_the_artifact_root_and_the_description_and_runs_view_are_written(tmp_path: Path) -> None:
    client, parent_id, _ = log_hand_made_panel(f"sqlite:///{tmp_path / 'mlflow.db'}")
    verdict = build_report(client, parent_id, tmp_path / "out")
    root = {a.path for a in client.list_artifacts(parent_id)}
    assert {Artifacts.REPORT_HTML_ROOT, Artifacts.REPORT_DIR} <= root
    at_root = Path(client.download_artifacts(parent_id, Artifacts.REPORT_HTML_ROOT, str(tmp_path / "a")))
    in_dir = Path(client.download_artifacts(parent_id, Artifacts.REPORT_HTML, str(tmp_path / "b")))
    assert at_root.read_text() == in_dir.read_text() and "<h2>Decision</h2>" in at_root.read_text()
    run = client.get_run(parent_id)
    note = run.data.tags["mlflow.note.content"]
    experiment = run.info.experiment_id
    assert note.splitlines()[0] == "**gatesweep verdict: inconclusive** — shop: inconclusive."
    assert f"(#/experiments/{experiment}/runs/{parent_id}/artifacts/report.html?" in note.splitlines()[1]
    assert note.splitlines()[2] == "**Worth using?** shop: no, use ETS (`useful: baseline:ets`)."
    u = verdict.datasets[0].useful
    assert u is not None and note.splitlines()[3] == (
        f"**Test MASE:** shop: GRU ensemble {u.ensemble_mase['gru']:#.3g}, "
        f"LSTM ensemble {u.ensemble_mase['lstm']:#.3g}, "
        f"best baseline ETS {u.baseline_mase['ets']:#.3g}.")
    state = json.loads(client.get_experiment(experiment).tags[RunsView.TAG])
    assert state == {"selectedColumns": list(RunsView.COLUMNS)}
    assert "metrics.`test_mase`" in state["selectedColumns"] and "tags.`gatesweep.role`" in state["selectedColumns"]


@pytest.mark.parametrize("frame", [500, 514, 640, 700, 850, 899])
def test_a_desktop_frame_as_narrow_as_mlflows_artifact_pane_gets_a_layout_at_least_700_px_wide(frame: int) -> None:
    """MLflow's artifact pane is 500-850 px wide on a 1280-1440 px screen; with a mouse the report is laid out at
    least 700 px wide there (the frame's width over the zoom of the last rule that applies), and not zoomed beyond."""
    applies = [z for below, z in DESKTOP_ZOOM if frame < below]
    assert applies and frame / applies[-1] >= 700
    html = report_html(_verdict(), [])
    for below, z in DESKTOP_ZOOM:
        assert f"@media (hover:hover) and (pointer:fine) and (max-width:{below - 1}px){{html{{zoom:{z}}}}}" in html
    assert not [z for below, z in DESKTOP_ZOOM if 900 < below]  # a desktop-wide window is never zoomed
