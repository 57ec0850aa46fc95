"""report.html in headless Chromium, as a file and the way MLflow's artifact viewer shows it: fetched from a real
MLflow server's artifact endpoint, wrapped in a text/html Blob and put in an `<iframe sandbox="allow-scripts">`
(MLflow's ShowArtifactHtmlView). The verdict text must be there, every image loaded, the console clean, the
forecast figures and per-series tables shown, and nothing wider than a phone's screen but a table's container."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from pipeline.dev.mlflow_server import MlflowServer
from reports import build_report
from reports.wording import baseline_warnings
from tests.reports.hand_made import PANEL_IDS, log_hand_made_panel, log_hand_made_runs

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(os.environ.get("GATESWEEP_TEST_ARTIFACTS", "test-artifacts"))
# the flags this machine needs: no sandbox as root, and no background calls to a closed network
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


# a phone as the page sees it: touch and a coarse pointer (a narrow desktop window has a mouse)
PHONE = {"is_mobile": True, "has_touch": True}

# what MLflow's artifact viewer does with an .html artifact
VIEWER_JS = """async (artifact) => {
  const html = await (await fetch(artifact)).text();
  const frame = document.createElement("iframe");
  frame.sandbox = "allow-scripts";
  frame.style = "width: 100%; height: 2300px; border: 0";
  const loaded = new Promise(resolve => frame.onload = resolve);
  frame.src = URL.createObjectURL(new Blob([html], {type: "text/html"}));
  document.body.replaceChildren(frame);
  await loaded;
}"""


def _chromium_or_skip() -> str:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; .ci/run installs Debian's chromium package")
        pytest.skip("chromium not installed (apt-get install chromium); CI runs this test")
    return CHROMIUM


@pytest.mark.slow
def test_report_renders_in_headless_chromium_from_the_mlflow_server(tmp_path: Path) -> None:
    chromium = _chromium_or_skip()
    from playwright.sync_api import sync_playwright

    server = MlflowServer(tmp_path / "server").start()
    try:
        client, parent_id, _ = log_hand_made_runs(server.url)
        verdict = build_report(client, parent_id, tmp_path / "out")
        artifact = f"/get-artifact?path=report/report.html&run_uuid={parent_id}"
        errors: list[str] = []
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=FLAGS)
            page = browser.new_page(viewport={"width": 1200, "height": 2400})
            page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            # the host page's automatic /favicon.ico request is not the report's; anything else counts
            page.route("**/favicon.ico", lambda route: route.fulfill(status=204))
            assert page.goto(f"{server.url}/health").status == 200  # a page on the server's origin
            page.evaluate(VIEWER_JS, artifact)
            frame = next(f for f in page.frames if f.url.startswith("blob:"))
            frame.wait_for_load_state("load")
            text = frame.inner_text("body")
            images = frame.eval_on_selector_all(
                "img", "imgs => imgs.map(i => ({ok: i.complete && i.naturalWidth > 0, alt: i.alt}))")
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
            browser.close()
        assert verdict.datasets[0].sentence in text
        assert text.count("Overall:") == 1 and "sines: GRU wins" in text
        assert len(images) >= 3 and all(i["ok"] for i in images), images
        assert errors == []
    finally:
        server.stop()



@pytest.mark.slow
def test_the_parent_run_page_in_mlflow_shows_the_decision(tmp_path: Path) -> None:
    """The MLflow UI's own run page (the server's React app, in Chromium) shows the verdict sentence and
    both chosen configurations in the run's description; the report's first screen, on a laptop and on a
    phone, shows the decision box."""
    chromium = _chromium_or_skip()
    from playwright.sync_api import sync_playwright

    from pipeline.tracking.mlflow_io import run_link

    server = MlflowServer(tmp_path / "server").start()
    try:
        client, parent_id, _ = log_hand_made_runs(server.url)
        verdict = build_report(client, parent_id, tmp_path / "out")
        warnings = baseline_warnings(verdict)
        experiment = client.get_run(parent_id).info.experiment_id
        link = run_link(server.url, experiment, parent_id)
        assert link is not None and "workflowType=machine_learning" in link
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=FLAGS)
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            page.goto(link)
            description = page.get_by_text("gatesweep verdict", exact=False).first
            description.wait_for(timeout=60_000)
            description.scroll_into_view_if_needed()  # the run page scrolls inside its own pane
            assert description.is_visible()
            # the head, before "Show more" unfolds the rest: the report link, usefulness and the key numbers
            head = {what: page.get_by_text(what, exact=False).first for what in ("Report:", "Test MASE:")}
            head["link"] = page.get_by_role("link", name="report.html").first
            folded = {what: el.is_visible() for what, el in head.items()}
            page.screenshot(path=str(ARTIFACTS / "mlflow_parent_run_description.png"))
            more = page.get_by_text("Show more", exact=True)
            if more.count():  # MLflow 3 folds a long description
                more.first.click()
            config_line = page.get_by_text("sines / GRU: hidden_size 32", exact=False).first
            config_line.scroll_into_view_if_needed()
            assert config_line.is_visible()
            body = page.inner_text("body")
            page.screenshot(path=str(ARTIFACTS / "mlflow_parent_run.png"))
            shots = {}
            report = f"file://{tmp_path / 'out' / 'report' / 'report.html'}"
            for name, (w, h) in {"laptop": (1366, 768), "phone": (390, 844)}.items():
                view = browser.new_page(viewport={"width": w, "height": h}, **(PHONE if name == "phone" else {}))
                view.goto(report)
                box = view.locator("#decision").bounding_box()
                shots[name] = (box, view.locator("#overall-label").is_visible())
                view.screenshot(path=str(ARTIFACTS / f"report_first_screen_{name}.png"))
            # at 1280 x 900 the first screen holds the verdict, the worst warning and both configurations
            view = browser.new_page(viewport={"width": 1280, "height": 900})
            view.goto(report)
            first_screen = {what: view.get_by_text(text, exact=False).first.bounding_box() for what, text in (
                ("verdict", verdict.datasets[0].sentence[:60]), *(("warning", w[:60]) for w in warnings[:1]))}
            for arch in ("GRU", "LSTM"):  # the rows of the chosen configurations' table
                row = view.locator("#decision .scroll tr").filter(has=view.locator("td", has_text=arch)).first
                first_screen[f"{arch} configuration"] = row.bounding_box()
            # at 390 px the page itself never scrolls sideways: only the tables' marked containers may
            phone = browser.new_page(viewport={"width": 390, "height": 844}, **PHONE)
            phone.goto(report)
            sideways = phone.evaluate("""() => ({page: document.documentElement.scrollWidth,
                wide: [...document.querySelectorAll('body *')].filter(el => el.getBoundingClientRect().right > 391
                      && !el.closest('.scroll')).map(el => el.tagName + '.' + el.className).slice(0, 5)})""")
            browser.close()
        for what, where in first_screen.items():
            assert where is not None and where["y"] + where["height"] <= 900, (what, where)
        assert folded == {"Report:": True, "Test MASE:": True, "link": True}, folded
        assert sideways["page"] <= 390 and sideways["wide"] == [], sideways
        assert verdict.datasets[0].sentence in body
        for arch in ("GRU", "LSTM"):
            assert f"sines / {arch}: hidden_size 32, window 12, optimizer adam, epochs 5" in body, body[:3000]
        for name, (box, label_visible) in shots.items():
            height = 768 if name == "laptop" else 844
            assert box is not None and box["y"] < height / 2 and label_visible, (name, box)
        print(f"screenshots: {ARTIFACTS.resolve()}/report_first_screen_{{laptop,phone}}.png, mlflow_parent_run.png")
    finally:
        server.stop()


# elements wider than the page (outside the tables' scrolling containers), and the page's own width
OVERFLOW_JS = """() => ({page: document.documentElement.scrollWidth,
    wide: [...document.querySelectorAll('body *')].filter(el => el.getBoundingClientRect().right > innerWidth + 1
          && !el.closest('.scroll')).map(el => el.tagName + '.' + el.className).slice(0, 5)})"""
# the forecast figures (loaded, drawn within the page) and the per-series table's rows
CONTENT_JS = """() => ({figures: [...document.querySelectorAll('figure.fig img')]
        .filter(i => i.alt.includes('test forecasts against actuals'))
        .map(i => ({ok: i.complete && i.naturalWidth > 0, right: i.getBoundingClientRect().right})),
    steps: [...document.querySelectorAll('figure.fig img')].filter(i => i.alt.includes('each step ahead')).length,
    rows: [...document.querySelectorAll('#shop-test-mase-per-series tr')].map(r => r.cells[0].innerText)})"""


@pytest.mark.slow
def test_a_panel_report_shows_forecasts_and_tables_without_sideways_scrolling(tmp_path: Path) -> None:
    """A 2-series panel's report at 1280 and 390 px (a phone), and inside MLflow's artifact view: the forecast
    figure, the error-by-step figure and a per-series table row per series, and nothing but a table's container
    wider than the screen; in MLflow's own run page (Artifacts tab, `report.html` at the artifact root, a frame
    about 500 px wide at 1280 px) the desktop layout, scaled to the frame."""
    chromium = _chromium_or_skip()
    from playwright.sync_api import sync_playwright

    server = MlflowServer(tmp_path / "server").start()
    try:
        client, parent_id, _ = log_hand_made_panel(server.url)
        build_report(client, parent_id, tmp_path / "out")
        report = f"file://{tmp_path / 'out' / 'report' / 'report.html'}"
        seen = {}
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=FLAGS)
            for width in (1280, 390):
                page = browser.new_page(viewport={"width": width, "height": 900}, **(PHONE if width == 390 else {}))
                page.goto(report)
                seen[width] = (page.evaluate(CONTENT_JS), page.evaluate(OVERFLOW_JS))
                page.screenshot(path=str(ARTIFACTS / f"panel_report_{width}.png"), full_page=True)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.route("**/favicon.ico", lambda route: route.fulfill(status=204))
            assert page.goto(f"{server.url}/health").status == 200
            page.evaluate(VIEWER_JS, f"/get-artifact?path=report/report.html&run_uuid={parent_id}")
            frame = next(f for f in page.frames if f.url.startswith("blob:"))
            frame.wait_for_load_state("load")
            seen["mlflow"] = (frame.evaluate(CONTENT_JS), frame.evaluate(OVERFLOW_JS))
            # MLflow's own run page, Artifacts tab, `report.html` at the artifact root: a frame about 500 px wide
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            experiment = client.get_run(parent_id).info.experiment_id
            page.goto(f"{server.url}/#/experiments/{experiment}/runs/{parent_id}/artifacts/report.html"
                      "?workflowType=machine_learning")
            page.wait_for_function("() => [...document.querySelectorAll('iframe')]"
                                   ".some(f => f.src.startsWith('blob:'))", timeout=60_000)
            page.wait_for_function("() => true")  # a round trip: the frame's attachment reaches the page's frames
            frame = page.frame_locator("iframe[src^='blob:']").owner.element_handle().content_frame()
            assert frame is not None
            frame.wait_for_load_state("load")
            frame.wait_for_selector("figure.fig img")
            pane = frame.evaluate("""() => ({width: innerWidth,
                zoom: parseFloat(getComputedStyle(document.documentElement).zoom)})""")
            in_pane = (frame.evaluate(CONTENT_JS), frame.evaluate(OVERFLOW_JS))
            page.screenshot(path=str(ARTIFACTS / "mlflow_artifact_report.png"))
            browser.close()
        # the desktop layout in the pane: laid out at least 700 px wide, scaled to the frame, nothing wider than it
        assert pane["width"] < 900 and pane["width"] / pane["zoom"] >= 700, pane
        content, overflow = in_pane
        assert len(content["figures"]) == 1 and content["figures"][0]["ok"], content
        assert content["rows"] == ["series", *PANEL_IDS] and overflow["wide"] == [], in_pane
        for where, (content, overflow) in seen.items():
            width = 390 if where == 390 else 1280
            assert len(content["figures"]) == 1 and content["figures"][0]["ok"], (where, content)
            assert content["figures"][0]["right"] <= width, (where, content)
            assert content["steps"] == 1, (where, content)
            assert content["rows"] == ["series", *PANEL_IDS], (where, content)
            assert overflow["page"] <= width and overflow["wide"] == [], (where, overflow)
        print(f"screenshots: {ARTIFACTS.resolve()}/panel_report_{{1280,390}}.png, mlflow_artifact_report.png")
    finally:
        server.stop()
