"""Screenshots of /demo, a result page and /dashboard for docs/screenshots/, from the real app.

Runs `crayon migrate`, `crayon demo ensure` and `crayon serve` on a free loopback port with a
throw-away data folder, uploads a generated drawing through the API, logs in with a throw-away
password (when the login page exists) and photographs the pages with Debian's Chromium.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CHROMIUM = os.environ.get("CRAYON_CHROMIUM", "/usr/bin/chromium")
PASSWORD = "screenshot-password-123"  # noqa: S105 - a throw-away local password


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as r:  # noqa: S310
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"the app did not start at {url}")


def sample_png() -> bytes:
    sys.path.insert(0, str(ROOT))
    from app.analysis.generator import generate_drawing

    buf = io.BytesIO()
    generate_drawing(7, "6-8", long_side=900).image.save(buf, format="PNG")
    return buf.getvalue()


def upload(base: str, png: bytes) -> str:
    boundary = "----crayonshot"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="age_group"\r\n\r\n6-8\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="d.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + png
        + f"\r\n--{boundary}--\r\n".encode()
    )
    req = urllib.request.Request(  # noqa: S310 - http://127.0.0.1 only
        base + "/api/analyses",
        data=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=30) as r:  # noqa: S310
        return str(json.load(r)["result_url"])


def load_all_images(page: Any) -> None:
    """Scroll every (lazy) image into view and wait until each has loaded."""
    images = page.locator("img")
    for i in range(images.count()):
        images.nth(i).scroll_into_view_if_needed()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        done = all(
            images.nth(i).evaluate("img => img.complete && img.naturalWidth > 0")
            for i in range(images.count())
        )
        if done:
            break
        time.sleep(0.2)
    page.evaluate("() => window.scrollTo(0, 0)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="crayon-shots-") as tmp:
        port = free_port()
        env = {
            **os.environ,
            "CRAYON_ENV": "local",
            "CRAYON_DATA_DIR": str(Path(tmp) / "data"),
            "CRAYON_ADMIN_PASSWORD": PASSWORD,
            "CRAYON_PORT": str(port),
            "CRAYON_HEARTBEAT_SECONDS": "2",
        }
        crayon = str(BIN / "crayon")
        subprocess.run([crayon, "migrate"], env=env, check=True, cwd=tmp)
        subprocess.run([crayon, "demo", "ensure"], env=env, check=True, cwd=tmp)
        server = subprocess.Popen([crayon, "serve"], env=env, cwd=tmp, stdout=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_ready(base)
            result_url = upload(base, sample_png())
            for _ in range(3):
                upload(base, sample_png())
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM)
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.goto(base + "/demo")
                load_all_images(page)
                page.screenshot(path=str(out / "demo.png"), full_page=True)
                page.goto(base + result_url)
                page.wait_for_load_state("networkidle")
                page.screenshot(path=str(out / "result.png"), full_page=True)
                page.goto(base + "/login?next=/dashboard")
                page.fill("#password", PASSWORD)
                with page.expect_navigation():
                    page.click("#login")
                page.goto(base + "/dashboard")
                page.wait_for_selector("#live-status.on", timeout=10_000)
                page.screenshot(path=str(out / "dashboard.png"), full_page=True)
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=20)
    for name in ("demo", "result", "dashboard"):
        print(out / f"{name}.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
