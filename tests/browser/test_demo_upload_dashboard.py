"""In Debian's Chromium: the demo, an upload with its result and heat map, then the dashboard's
charts and a live figure that changes when another visitor uploads a drawing."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest
from playwright.sync_api import Page

from app.settings import Settings
from app.storage.local import LocalStorage
from app.web.demo_content import SAMPLES, ensure_demo
from tests.browser.conftest import AppServer, login
from tests.pages.support import drawing_png

pytestmark = pytest.mark.slow


def _eventually(check: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll from Python: the strict CSP forbids Playwright's string-evaluating wait_for_function."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


def _image_loaded(page: Page, selector: str) -> bool:
    return bool(page.eval_on_selector(selector, "img => img.complete && img.naturalWidth > 0"))


def test_demo_upload_result_and_live_dashboard(
    app_server: AppServer, page: Page, tmp_path_factory: pytest.TempPathFactory
) -> None:
    data_dir = app_server.data_dir
    ensure_demo(
        Settings(data_dir=data_dir, admin_password=app_server.password),
        LocalStorage(data_dir / "files"),
        out=lambda _line: None,
    )

    # 1. the demo: warning, description, source link, samples with heat maps
    page.goto("/demo")
    assert "not a medical diagnosis" in page.inner_text("#demo-warning").lower()
    assert page.locator("#source-link").get_attribute("href", timeout=5000)
    assert page.locator("article.sample").count() == len(SAMPLES)
    first = f"#{SAMPLES[0].id} img.heatmap"
    assert _eventually(lambda: _image_loaded(page, first))

    # 2. upload a drawing through the form
    drawing = tmp_path_factory.mktemp("upload") / "drawing.png"
    drawing.write_bytes(drawing_png(5))
    page.click("text=Analyse a drawing")
    page.set_input_files("#file", str(drawing))
    page.check("input[name=age_group][value='9-12']")
    with page.expect_navigation():
        page.click("#analyse")
    assert "/analyses/" in page.url
    score = float(page.inner_text("#score"))
    assert 0.0 <= score <= 1.0
    assert page.inner_text("#verdict").strip().lower() in ("typical", "anomalous")
    assert page.locator("#top-features li").count() >= 1
    assert _eventually(lambda: _image_loaded(page, "#heatmap"))
    assert _image_loaded(page, "#drawing")

    # 3. log in, see the charts, watch a live figure change
    login(page, app_server.password)
    assert page.url.endswith("/dashboard")
    assert page.locator("svg.chart").count() >= 5
    assert page.locator("#chart-analyses rect.bar").count() == 30
    page.wait_for_selector("#live-status.on")
    before = int(page.inner_text("#m-total"))
    assert before >= 1
    response = httpx.post(
        app_server.url + "/api/analyses",
        data={"age_group": "6-8"},
        files={"file": ("d.png", drawing_png(6), "image/png")},
        timeout=30,
    )
    assert response.status_code == 201
    assert _eventually(lambda: page.inner_text("#m-total").strip() == str(before + 1)), (
        page.inner_text("#m-total")
    )
    assert int(page.inner_text("#m-daily")) == before + 1
