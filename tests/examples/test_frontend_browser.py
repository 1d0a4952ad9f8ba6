"""The exported frontend in Debian's Chromium against the real backend (dev mode: the backend
serves out/ on the same origin as /api): the runs page starts a run and renders its events as
EventSource delivers them; the static rules of the contract hold on the way."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.examples.backend_server import ROOT, Backend
from tests.support.browser import chromium_executable, missing_message

pytestmark = pytest.mark.slow

CHROMIUM = chromium_executable()
OUT = ROOT / "examples" / "fullstack" / "frontend" / "out"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    backend = Backend(
        tmp_path_factory.mktemp("site") / "backend.log",
        BACKEND_STATIC_DIR=str(OUT),
        BACKEND_STEP_INTERVAL_S="0.2",
    ).start()
    yield backend
    backend.stop()


@pytest.fixture
def page(site: Backend) -> Iterator[Page]:
    if not Path(CHROMIUM).exists():
        pytest.skip(missing_message(CHROMIUM))
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        context = browser.new_context(base_url=site.url)
        context.set_default_timeout(15_000)
        try:
            yield context.new_page()
        finally:
            browser.close()


def test_runs_page_renders_streamed_steps(page: Page) -> None:
    page.goto("/runs")
    page.fill("#steps", "4")
    page.click("button[type=submit]")
    expect(page.locator("#state")).to_have_text("Done.")
    items = page.locator("#events li")
    expect(items).to_have_count(4)
    assert items.nth(0).inner_text().startswith("1/4 brief:")
    assert items.nth(3).inner_text().startswith("4/4 script:")


def test_home_page_reports_offline_mode(page: Page) -> None:
    page.goto("/")
    expect(page.locator("#health")).to_have_text("Backend up (offline mode).")


def test_dev_server_applies_the_static_contract(site: Backend) -> None:
    with httpx.Client(base_url=site.url, timeout=10) as client:
        index = client.get("/")
        assert index.headers["cache-control"] == "no-cache"
        asset = next(p for p in (OUT / "_next/static/css").iterdir())
        reply = client.get(f"/_next/static/css/{asset.name}")
        assert reply.status_code == 200
        assert "immutable" in reply.headers["cache-control"]
        assert client.get("/runs").text == (OUT / "runs.html").read_text()
        # A client-side route falls back to index.html; a missing asset stays a 404.
        assert client.get("/runs/abc").text == index.text
        assert client.get("/_next/static/css/gone-0000000000000000.css").status_code == 404
        # Starlette decodes %2e to ".": the resolved path must still stay inside out/.
        assert "root:" not in client.get("/%2e%2e/%2e%2e/%2e%2e/etc/passwd").text
