"""The Gemini key: from GEMINI_API_KEY (ECS `valueFrom`), or from Secrets Manager by id at start
(a moto server on loopback), or none (offline mode). The key never reaches the logs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
import pytest

from tests.examples.backend_server import Backend
from tests.support.moto_server import MotoServer, require_loopback

KEY = "AIza-test-key-0123456789-never-logged"


@pytest.fixture
def started(tmp_path: Path) -> Iterator[list[Backend]]:
    backends: list[Backend] = []
    yield backends
    for backend in backends:
        backend.stop()


def health(backend: Backend) -> dict[str, object]:
    return dict(httpx.get(backend.url + "/api/health", timeout=5).json())


def test_no_key_is_offline_mode_and_says_so(tmp_path: Path, started: list[Backend]) -> None:
    backend = Backend(tmp_path / "b.log", BACKEND_STEP_INTERVAL_S="0").start()
    started.append(backend)
    assert health(backend)["mode"] == "offline"
    assert health(backend)["key_source"] == "none"
    with httpx.Client(timeout=5) as client:
        reply = client.post(backend.url + "/api/runs", json={"prompt": "x", "steps": 1})
    assert reply.json()["mode"] == "offline"


def test_key_from_env_is_used_and_not_logged(tmp_path: Path, started: list[Backend]) -> None:
    backend = Backend(tmp_path / "b.log", GEMINI_API_KEY=KEY, BACKEND_LOG_LEVEL="debug").start()
    started.append(backend)
    assert health(backend) | {"runs": 0} == {
        "ok": True,
        "mode": "online",
        "key_source": "env",
        "runs": 0,
        "streams": 0,
    }
    backend.stop()
    assert "backend ready" in backend.logs()
    assert KEY not in backend.logs()


def test_key_from_secrets_manager_by_id(
    tmp_path: Path, started: list[Backend], moto: MotoServer
) -> None:
    require_loopback(moto.url)
    moto.reset()
    env = moto.env()
    client = boto3.client(
        "secretsmanager",
        endpoint_url=moto.url,
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_REGION"],
    )
    client.create_secret(Name="fullstack/gemini", SecretString=f'{{"GEMINI_API_KEY": "{KEY}"}}')
    backend = Backend(
        tmp_path / "b.log",
        BACKEND_GEMINI_SECRET_ID="fullstack/gemini",
        BACKEND_LOG_LEVEL="debug",
        **moto.env(),
    ).start()
    started.append(backend)
    assert health(backend)["key_source"] == "secretsmanager"
    assert health(backend)["mode"] == "online"
    backend.stop()
    assert KEY not in backend.logs()


def test_missing_secret_stops_the_start_with_a_clear_error(
    tmp_path: Path, moto: MotoServer
) -> None:
    require_loopback(moto.url)
    moto.reset()
    backend = Backend(
        tmp_path / "b.log", BACKEND_GEMINI_SECRET_ID="fullstack/absent", **moto.env()
    ).start(wait=False)
    assert backend.proc is not None
    assert backend.proc.wait(30) == 1
    logs = backend.logs()
    assert "cannot read secret 'fullstack/absent'" in logs
    assert "Traceback" not in logs
