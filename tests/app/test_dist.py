"""`dist/crayon.pyz` runs `migrate` and `serve` with Debian's own /usr/bin/python3 (3.11).

Built into a temp dir (CRAYON_PYZ_OUTPUT) so another engineer's dist/ is left alone.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.pages.support import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = "/usr/bin/python3"


def _get(url: str) -> int:
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(url, timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_pyz_migrates_and_serves_with_the_system_python(tmp_path: Path) -> None:
    version = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import sys; print(sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert version == "(3, 11)", f"{SYSTEM_PYTHON} is {version}, the hosts run 3.11"
    pyz = tmp_path / "crayon.pyz"
    build = subprocess.run(
        ["bash", "scripts/build-pyz.sh"],
        cwd=ROOT,
        env={**os.environ, "CRAYON_PYZ_OUTPUT": str(pyz), "VENV": sys.prefix},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    port = free_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "SHIV_ROOT": str(tmp_path / "shiv"),
        "CRAYON_ENV": "local",
        "CRAYON_DATA_DIR": str(tmp_path / "data"),
        "CRAYON_PORT": str(port),
        "CRAYON_ADMIN_PASSWORD": "pyz-admin-password-1",
    }
    migrated = subprocess.run(
        [SYSTEM_PYTHON, str(pyz), "migrate"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    assert "-> " in migrated.stdout
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [SYSTEM_PYTHON, str(pyz), "serve"], cwd=tmp_path, env=env, stdout=out, stderr=out
        )
    try:
        deadline = time.monotonic() + 120
        status = 0
        while time.monotonic() < deadline and status != 200:
            assert server.poll() is None, log.read_text()[-3000:]
            try:
                status = _get(f"http://127.0.0.1:{port}/healthz")
            except OSError:
                time.sleep(0.2)
        assert status == 200, log.read_text()[-3000:]
        # A fresh data dir is ready at once: the reference model ships inside the pyz.
        assert _get(f"http://127.0.0.1:{port}/readyz") == 200, log.read_text()[-3000:]
        assert _get(f"http://127.0.0.1:{port}/login") == 200
        assert _get(f"http://127.0.0.1:{port}/dashboard") == 302
    finally:
        server.terminate()
        server.wait(timeout=30)
