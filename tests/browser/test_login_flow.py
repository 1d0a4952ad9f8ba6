"""Log in, see the dashboard, log out, be sent back to login: in Debian's Chromium.

Also measures the login-to-dashboard time (submit click to dashboard loaded) and the
/healthz latency (median of 200 sequential requests over one keep-alive connection).
"""

from __future__ import annotations

import statistics
import time

import httpx
import pytest
from playwright.sync_api import Page

from tests.browser.conftest import AppServer, login

pytestmark = pytest.mark.slow


def test_login_dashboard_logout_then_back_to_login(app_server: AppServer, page: Page) -> None:
    page.goto("/dashboard")
    assert page.url.startswith(f"{app_server.url}/login?next=/dashboard")
    assert "The dashboard needs the administrator's password" in page.inner_text("#access-needed")

    page.fill("#password", "not-the-password")
    page.click("#login")
    page.wait_for_selector("#login-error")
    assert "Wrong password" in page.inner_text("#login-error")

    page.fill("#password", app_server.password)
    started = time.perf_counter()
    with page.expect_navigation(url=f"{app_server.url}/dashboard", wait_until="load"):
        page.click("#login")
    login_ms = (time.perf_counter() - started) * 1000
    assert page.locator("h1").first.inner_text().strip() != ""
    assert page.get_by_role("button", name="Log out").is_visible()
    cookies = {c["name"]: c for c in page.context.cookies()}
    session = cookies["crayon_session"]
    assert session["httpOnly"] and session["sameSite"] == "Lax" and session["path"] == "/"

    with page.expect_navigation():
        page.get_by_role("button", name="Log out").click()
    assert "/login" in page.url
    assert "You have logged out" in page.inner_text("#login-notice")

    page.goto("/dashboard")
    assert page.url.startswith(f"{app_server.url}/login?next=/dashboard")
    print(f"\nlogin-to-dashboard: {login_ms:.0f} ms")


def test_login_preserves_the_requested_page(app_server: AppServer, page: Page) -> None:
    page.goto("/history")
    assert "/login?next=/history" in page.url
    assert "analysis history needs" in page.inner_text("#access-needed")
    login(page, app_server.password, next_path="/history")
    assert page.url == f"{app_server.url}/history"


def test_healthz_latency(app_server: AppServer) -> None:
    samples = []
    with httpx.Client(base_url=app_server.url) as http:
        http.get("/healthz")
        for _ in range(200):
            started = time.perf_counter()
            response = http.get("/healthz")
            samples.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
    median = statistics.median(samples)
    p95 = statistics.quantiles(samples, n=20)[-1]
    print(f"\n/healthz over HTTP: median {median:.2f} ms, p95 {p95:.2f} ms (200 requests)")
    assert median < 10, f"/healthz median {median:.2f} ms is over the 10 ms budget"
