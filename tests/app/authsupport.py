"""Helpers for the auth tests: an app in a temp folder, the login form's token, cookies."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from app import migrate
from app.analysis.training import save_model
from app.main import create_app
from app.settings import Settings
from app.storage.local import LocalStorage
from tests.pages.support import TEST_HOSTS, shared_model

PASSWORD = "a-local-password-123"
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "admin_password": PASSWORD,
        "allowed_hosts": TEST_HOSTS,
    }
    values.update(overrides)
    settings = Settings(**values)
    migrate.upgrade(settings.database_path)
    # A stored model, so the app does not train its built-in one in the background.
    save_model(LocalStorage(settings.local_storage_dir), shared_model())
    return settings


def client_for(settings: Settings, **kwargs: Any) -> TestClient:
    return TestClient(create_app(settings), **kwargs)


def login_token(client: TestClient, next_path: str = "/dashboard") -> str:
    page = client.get("/login", params={"next": next_path})
    match = _TOKEN.search(page.text)
    assert match, page.text
    return match.group(1)


def post_login(client: TestClient, password: str = PASSWORD, next_path: str = "/dashboard") -> Any:
    token = login_token(client, next_path)
    return client.post(
        "/login",
        data={"password": password, "csrf_token": token, "next": next_path},
        follow_redirects=False,
    )


def session_csrf(client: TestClient) -> str:
    """The session's CSRF token, read from the nav's logout form."""
    page = client.get("/")
    match = re.search(
        r'action="/logout">\s*<input type="hidden" name="csrf_token" value="([^"]+)"', page.text
    )
    assert match, "no logout form: not logged in?"
    return match.group(1)


def concrete(path: str) -> str:
    """A request path for a route path: each {param} becomes a plausible value."""
    return re.sub(r"\{[^}]+\}", "0123456789abcdef0123456789abcdef", path)
