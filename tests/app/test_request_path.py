"""The request path's cross-cutting behaviour: request ids, JSON access logs, headers, origin."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from app import migrate
from app.logs import JsonFormatter
from app.main import create_app
from app.settings import Settings
from tests.pages.support import TEST_HOSTS


def _client(tmp_path: Path, **overrides: object) -> TestClient:
    settings = Settings(
        data_dir=tmp_path / "data",
        admin_password="a-local-password",
        allowed_hosts=TEST_HOSTS,
        **overrides,
    )  # type: ignore[arg-type]
    migrate.upgrade(settings.database_path)
    return TestClient(create_app(settings))


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with _client(tmp_path) as c:
        yield c


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[dict[str, object]] = []
        self.setFormatter(JsonFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def access_lines() -> Iterator[list[dict[str, object]]]:
    handler = _Capture()
    logger = logging.getLogger("crayon.access")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler.lines
    finally:
        logger.removeHandler(handler)


def test_request_id_is_taken_from_the_client_and_logged(
    client: TestClient, access_lines: list[dict[str, object]]
) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "abc-123"
    line = access_lines[-1]
    assert line["request_id"] == "abc-123"
    assert line["method"] == "GET"
    assert line["path"] == "/healthz"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float)


def test_a_hostile_request_id_is_replaced(client: TestClient) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": "x" * 500 + "\n<script>"})
    rid = response.headers["X-Request-ID"]
    assert len(rid) == 32 and rid.isalnum()


def test_every_response_gets_an_id_even_a_404(
    client: TestClient, access_lines: list[dict[str, object]]
) -> None:
    a = client.get("/no-such-page")
    b = client.get("/no-such-page")
    assert a.status_code == 404
    assert a.headers["X-Request-ID"] != b.headers["X-Request-ID"]
    assert access_lines[-1]["status"] == 404
    assert "no page" in a.text.lower()


def test_security_headers_local(client: TestClient) -> None:
    headers = client.get("/").headers
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "Strict-Transport-Security" not in headers


def test_origin_secret_closes_everything_but_healthz(tmp_path: Path) -> None:
    with _client(tmp_path, origin_secret="s3cr3t-from-cloudfront") as c:
        assert c.get("/healthz").status_code == 200
        refused = c.get("/")
        assert refused.status_code == 403
        assert "public address" in refused.text
        assert c.get("/", headers={"X-Origin-Verify": "wrong"}).status_code == 403
        assert c.get("/", headers={"X-Origin-Verify": "s3cr3t-from-cloudfront"}).status_code == 200


def test_oversized_body_is_refused_before_reading(client: TestClient) -> None:
    response = client.post(
        "/upload", content=b"x" * 100, headers={"Content-Length": str(50 * 1024 * 1024)}
    )
    assert response.status_code == 413
    assert "limit" in response.text


def test_readyz_reports_a_database_behind_the_code(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "data", admin_password="a-local-password", allowed_hosts=TEST_HOSTS
    )
    migrate.upgrade(settings.database_path)
    with TestClient(create_app(settings)) as c:
        assert c.get("/readyz").json()["status"] == "ready"
        migrate.downgrade(settings.database_path, "base")
        response = c.get("/readyz")
        assert response.status_code == 503
        # Public: a status and the failing check's name, nothing more (no revisions, paths).
        assert response.json() == {"status": "not ready", "reason": "database"}
