"""Shared browser fixtures: a real `crayon serve` process and a page in Debian's Chromium.

Reuse from any test under tests/browser/:

    def test_something(app_server: AppServer, page: Page) -> None:
        page.goto("/demo")                       # the context's base_url is the server
        login(page, app_server.password)          # leaves the page on /dashboard

`app_server` is one server per test module (a migrated database with a small trained model,
from tests.pages.support.prepare_data_dir, and CRAYON_ADMIN_PASSWORD set); `page` is a fresh
browser context per test, so cookies never leak between tests.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.pages.support import free_port, prepare_data_dir
from tests.support.browser import chromium_executable, missing_message

CHROMIUM = chromium_executable()
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ADMIN_PASSWORD = "browser-admin-password-42"
BIN = Path(sys.executable).parent


@dataclass
class AppServer:
    """`crayon serve` on a free loopback port, in its own data folder."""

    data_dir: Path
    password: str = ADMIN_PASSWORD
    extra_env: Mapping[str, str] = field(default_factory=dict)
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir.parent / f"crayon-serve-{self.port}.log"

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self, timeout: float = 30.0) -> AppServer:
        prepare_data_dir(self.data_dir)
        self.port = free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("CRAYON_", "AWS_"))},
            "CRAYON_ENV": "local",
            "CRAYON_DATA_DIR": str(self.data_dir),
            "CRAYON_HOST": "127.0.0.1",
            "CRAYON_PORT": str(self.port),
            "CRAYON_ADMIN_PASSWORD": self.password,
            **self.extra_env,
        }
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [str(BIN / "crayon"), "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"crayon serve exited: {self.log_text()[-3000:]}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"crayon serve did not answer within {timeout}s: {self.log_text()}")

    def stop(self) -> int:
        if self.process is None:
            return 0
        self.process.terminate()
        try:
            return self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()
        finally:
            self.process = None


def login(page: Page, password: str, next_path: str = "/dashboard") -> None:
    """Log in through the real form; returns with the page on `next_path`."""
    page.goto(f"/login?next={next_path}")
    page.fill("#password", password)
    with page.expect_navigation():
        page.click("#login")


@pytest.fixture(scope="module")
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    server = AppServer(tmp_path_factory.mktemp("browser") / "data").start()
    try:
        yield server
    finally:
        server.stop()


# Module scope, not session: Playwright's sync API keeps an event loop running in this thread
# while it is open, and asyncio tests collected after the browser tests would then fail with
# "cannot be called from a running event loop".
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(missing_message(CHROMIUM))
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Browser, app_server: AppServer) -> Iterator[Page]:
    context = browser.new_context(base_url=app_server.url)
    context.set_default_timeout(15_000)
    pg = context.new_page()
    try:
        yield pg
    finally:
        context.close()
