"""A real browser (Debian's headless Chromium): the demo report, and the panels served by Voilà."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest

from kameleoon_pandas.demo import EMULATOR_DB_VARIABLE

from .test_notebooks import REPORT_SECTIONS

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: How long the page and the assertions on it may wait (Voilà starts a kernel and runs a cell).
TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not os.access(CHROMIUM, os.X_OK):
        reason = f"{CHROMIUM} is missing: install Debian's chromium (scripts/test.sh does)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI runs the browser tests: {reason}")  # never a green CI without them
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        yield page
    finally:
        context.close()


@pytest.mark.xdist_group("demo_report")  # one run of the demo for all three
def test_demo_report_renders_offline(demo_report: Path, page) -> None:
    remote: list[str] = []
    page.on(
        "request",
        lambda r: remote.append(r.url) if not r.url.startswith(("file:", "data:")) else None,
    )
    page.goto(demo_report.as_uri(), wait_until="load")
    headings = [h.replace("¶", "").strip() for h in page.locator("h1, h2").all_inner_texts()]
    assert headings == REPORT_SECTIONS
    assert page.title() == "Product report — demosite01"
    images = page.evaluate(
        "Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.naturalHeight])"
    )
    assert len(images) == 4
    assert all(done and width > 300 and height > 200 for done, width, height in images), images
    # Every plot is visible on the page, not just decoded.
    boxes = [img.bounding_box() for img in page.locator("img").all()]
    assert all(box and box["width"] > 300 and box["height"] > 200 for box in boxes), boxes
    assert remote == []  # nothing fetched from the network


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"voila exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"voila did not listen on port {port} within {timeout} s")


PANELS_NOTEBOOK = """\
import os
import shutil
import kameleoon_pandas as kp
from kameleoon_pandas.demo import demo_identifiers

ids = demo_identifiers(os.environ["KAMELEOON_EMULATOR_DB"], "demosite01")
counters = kp.panels.CountersPanel(eans=ids["eans"][:40])
feed = kp.panels.VisitorFeedPanel(visitor_code=ids["visitor_codes"][0])
display(counters, feed)
"""


@pytest.fixture
def voila(tmp_path: Path, demo_server) -> Iterator[str]:
    """Voilà serving a notebook with both panels, on a free loopback port; yields its URL."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(PANELS_NOTEBOOK)])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, tmp_path / "panels.ipynb")
    port = _free_port()
    jupyter = tmp_path / "jupyter"
    env = os.environ | demo_server.env()
    env |= {
        EMULATOR_DB_VARIABLE: demo_server.state.db,
        # Voilà's own data, runtime and config dirs: nothing from (or into) the user's home,
        # so the kernel is this venv's python3.
        "JUPYTER_DATA_DIR": str(jupyter / "data"),
        "JUPYTER_RUNTIME_DIR": str(jupyter / "runtime"),
        "JUPYTER_CONFIG_DIR": str(jupyter / "config"),
    }
    log = (tmp_path / "voila.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "voila",
            str(tmp_path / "panels.ipynb"),
            "--no-browser",
            f"--port={port}",
            "--Voila.ip=127.0.0.1",
            "--show_tracebacks=True",
        ],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for_port(port, proc)
        yield f"http://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


# On the demo report's worker: one launch of Chromium (about 1.5 core-s) serves both tests.
@pytest.mark.xdist_group("demo_report")
def test_panels_render_and_load_in_voila(voila: str, page, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    page.goto(voila)
    load = page.get_by_role("button", name="Load")
    try:
        # The widgets render one after another once the page has loaded: wait for them (on a
        # loaded machine the second panel can come well after the first), then count.
        expect(load).to_have_count(2, timeout=TIMEOUT_MS)
        for label in ("Site code", "Window", "Window size", "Metric", "Top N", "EANs", "Code"):
            expect(page.get_by_text(label, exact=True).first).to_be_visible(timeout=TIMEOUT_MS)
        assert page.locator("select").first.input_value() == "demosite01"
        outputs = page.locator(".widget-output")
        expect(outputs).to_have_count(2, timeout=TIMEOUT_MS)
        for i in range(2):
            load.nth(i).click()
            img = outputs.nth(i).locator("img").first
            img.wait_for()
            width, height = img.evaluate("i => [i.naturalWidth, i.naturalHeight]")
            assert width > 500 and height > 200
            expect(outputs.nth(i).locator("table")).to_have_count(1, timeout=TIMEOUT_MS)
        expect(page.get_by_text("EANs × 24 windows")).to_be_visible(timeout=TIMEOUT_MS)
    except Exception:
        page.screenshot(path=str(tmp_path / "voila.png"), full_page=True)
        raise AssertionError(
            f"screenshot at {tmp_path / 'voila.png'}; Voilà log:\n"
            + (tmp_path / "voila.log").read_text()[-3000:]
        ) from None
