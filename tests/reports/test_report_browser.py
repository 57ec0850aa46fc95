"""report.html shown the way MLflow's artifact viewer shows it, in headless Chromium: fetched from a real
MLflow server's artifact endpoint, wrapped in a text/html Blob and put in an `<iframe sandbox="allow-scripts">`
(MLflow's ShowArtifactHtmlView). The verdict text must be there, every image loaded, the console clean."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from pipeline.dev.mlflow_server import MlflowServer
from reports import build_report
from tests.reports.hand_made import log_hand_made_runs

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(os.environ.get("GATESWEEP_TEST_ARTIFACTS", "test-artifacts"))
# the flags this machine needs: no sandbox as root, and no background calls to a closed network
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


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


@pytest.mark.slow
def test_report_renders_in_headless_chromium_from_the_mlflow_server(tmp_path: Path) -> None:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; .ci/run installs Debian's chromium package")
        pytest.skip("chromium not installed (apt-get install chromium); CI runs this test")
    from playwright.sync_api import sync_playwright

    server = MlflowServer(tmp_path / "server").start()
    try:
        client, parent_id, _ = log_hand_made_runs(server.url)
        verdict = build_report(client, parent_id, tmp_path / "out")
        artifact = f"/get-artifact?path=report/report.html&run_uuid={parent_id}"
        errors: list[str] = []
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
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
        assert verdict["datasets"][0]["sentence"] in text
        assert text.count("Overall:") == 1 and "sines: GRU wins" in text
        assert len(images) >= 3 and all(i["ok"] for i in images), images
        assert errors == []
    finally:
        server.stop()
