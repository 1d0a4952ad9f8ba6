"""Helpers for the page/metrics tests: a trained model shared by all, settings, a real server."""

from __future__ import annotations

import io
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
from PIL import Image, ImageDraw

from app import migrate
from app.analysis.model import ReferenceModel
from app.analysis.training import save_model, train_generated
from app.settings import Settings
from app.storage.local import LocalStorage

BIN = Path(sys.executable).parent
_MODEL: ReferenceModel | None = None
ADMIN_PASSWORD = "a-local-password-123"
# TestClient's Host is "testserver": the tests' apps allow it beside the local defaults.
TEST_HOSTS = ("testserver", "127.0.0.1", "localhost")


def shared_model() -> ReferenceModel:
    """One small reference model per test session (training the full one takes seconds)."""
    global _MODEL
    if _MODEL is None:
        _MODEL = train_generated(n_per_group=16, seed=0, long_side=384)
    return _MODEL


def prepare_data_dir(data_dir: Path) -> Settings:
    """A migrated database and a storage folder holding the shared model."""
    settings = Settings(data_dir=data_dir, admin_password=ADMIN_PASSWORD, allowed_hosts=TEST_HOSTS)
    migrate.upgrade(settings.database_path)
    save_model(LocalStorage(settings.local_storage_dir), shared_model())
    return settings


def drawing_png(seed: int = 1, size: tuple[int, int] = (480, 360)) -> bytes:
    """A small drawing made with Pillow (not the generator: independent of its internals)."""
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    w, h = size
    s = seed % 7
    draw.rectangle((w * 0.2, h * 0.4, w * 0.5, h * 0.8), outline=(40, 40, 40), width=4)
    draw.polygon([(w * 0.18, h * 0.4), (w * 0.35, h * 0.2), (w * 0.52, h * 0.4)], outline="red")
    draw.ellipse((w * 0.7, h * 0.1, w * 0.85 + s, h * 0.3), outline="orange", width=3)
    draw.line((0, h * 0.82, w, h * 0.84 + s), fill="green", width=3)
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def multipart(
    fields: Mapping[str, str], files: Mapping[str, tuple[str, bytes, str]]
) -> tuple[bytes, str]:
    boundary = "----crayontest7MA4YWxkTrZu0gW"
    parts: list[bytes] = []
    for name, value in fields.items():
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
        parts.append(f"{head}{value}\r\n".encode())
    for name, (filename, data, ctype) in files.items():
        parts.append(
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                f'filename="{filename}"\r\nContent-Type: {ctype}\r\n\r\n'
            ).encode()
            + data
            + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """`crayon serve` as a real process on a free loopback port."""

    data_dir: Path
    extra_env: Mapping[str, str]
    process: subprocess.Popen[bytes] | None = None
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def settings(self) -> Settings:
        return Settings(data_dir=self.data_dir)

    def start(self) -> Server:
        prepare_data_dir(self.data_dir)
        self.port = free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("CRAYON_")},
            "CRAYON_ENV": "local",
            "CRAYON_DATA_DIR": str(self.data_dir),
            "CRAYON_PORT": str(self.port),
            "CRAYON_ADMIN_PASSWORD": ADMIN_PASSWORD,
            **self.extra_env,
        }
        self.log = self.data_dir.parent / f"server-{self.port}.log"
        self.process = subprocess.Popen(
            [str(BIN / "crayon"), "serve"],
            env=env,
            cwd=self.data_dir.parent,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    def stop(self) -> int:
        if self.process is None:
            return 0
        self.process.terminate()
        try:
            return self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def login(client: httpx.Client, password: str = ADMIN_PASSWORD) -> str:
    """Log `client` in through the real form; sets and returns the session's CSRF token."""
    page = client.get("/login")
    match = _TOKEN.search(page.text)
    assert match, "the login form has no CSRF token"
    r = client.post(
        "/login",
        data={"password": password, "csrf_token": match.group(1)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    config = client.get("/config")
    assert config.status_code == 200, config.status_code
    token = _TOKEN.search(config.text)
    assert token, "the logged-in page carries no CSRF token"
    client.headers["X-CSRF-Token"] = token.group(1)
    return token.group(1)
