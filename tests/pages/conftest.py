"""Fixtures: an in-process app (anonymous `client`, logged-in `admin`) and a real server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from tests.pages.support import Server, login, prepare_data_dir


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return prepare_data_dir(tmp_path / "data")


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture
def admin(settings: Settings) -> Iterator[TestClient]:
    """A client logged in as the administrator (X-CSRF-Token set on every request)."""
    with TestClient(create_app(settings)) as c:
        login(c)
        yield c


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path / "data", {"CRAYON_HEARTBEAT_SECONDS": "1"}).start()
    try:
        yield srv
    finally:
        srv.stop()
