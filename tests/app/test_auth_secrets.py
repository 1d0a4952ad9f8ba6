"""Production-mode auth against a real moto server: the hash comes from Secrets Manager.

Fail closed: when the secret is missing, malformed or unreachable, nobody can log in, the
login page says why, and the protected pages stay closed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from starlette.testclient import TestClient

from app.auth.passwords import hash_password
from app.auth.sessions import SECURE_COOKIE
from app.main import create_app
from app.settings import Settings
from tests.app.authsupport import make_settings, post_login
from tests.support.moto_server import MotoServer

PASSWORD = "production-admin-password-7"
SECRET_ID = "crayon/admin"
BUCKET = "crayon-data-example"


def _production(tmp_path: Path, env: dict[str, str], **overrides: object) -> Settings:
    values: dict[str, object] = {
        "env": "production",
        "admin_password": None,
        "admin_secret_id": SECRET_ID,
        "s3_bucket": BUCKET,
        "aws_endpoint_url": env["AWS_ENDPOINT_URL"],
        "aws_region": env["AWS_REGION"],
    }
    values.update(overrides)
    return make_settings(tmp_path, **values)


def _secrets(env: dict[str, str]) -> Any:
    return boto3.client(
        "secretsmanager", endpoint_url=env["AWS_ENDPOINT_URL"], region_name="us-east-1"
    )


@pytest.fixture
def bucket(aws_env: dict[str, str]) -> dict[str, str]:
    boto3.client("s3", endpoint_url=aws_env["AWS_ENDPOINT_URL"]).create_bucket(Bucket=BUCKET)
    return aws_env


def _client(settings: Settings) -> TestClient:
    # https: the production cookie is Secure (and __Host- prefixed), so it needs https.
    return TestClient(create_app(settings), base_url="https://testserver")


@pytest.fixture
def prod(tmp_path: Path, bucket: dict[str, str]) -> Iterator[TestClient]:
    _secrets(bucket).create_secret(
        Name=SECRET_ID, SecretString=json.dumps({"password_hash": hash_password(PASSWORD)})
    )
    with _client(_production(tmp_path, bucket)) as c:
        yield c


def test_login_with_the_hash_from_secrets_manager(prod: TestClient) -> None:
    assert prod.get("/dashboard", follow_redirects=False).status_code == 302
    assert post_login(prod, "wrong-password").status_code == 401
    r = post_login(prod, PASSWORD)
    assert r.status_code == 303
    cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith(SECURE_COOKIE))
    attrs = {a.strip().lower() for a in cookie.split(";")}
    assert {"secure", "httponly", "path=/", "samesite=lax"} <= attrs
    assert not any(a.startswith("domain") for a in attrs)  # required by the __Host- prefix
    page = prod.get("/dashboard")
    assert page.status_code == 200
    assert "max-age=31536000" in page.headers["strict-transport-security"]


def test_a_bare_hash_string_is_accepted(tmp_path: Path, bucket: dict[str, str]) -> None:
    _secrets(bucket).create_secret(Name=SECRET_ID, SecretString=hash_password(PASSWORD))
    with _client(_production(tmp_path, bucket)) as c:
        assert post_login(c, PASSWORD).status_code == 303


def _assert_closed(c: TestClient, reason: str) -> None:
    r = c.get("/dashboard", follow_redirects=False)
    assert r.status_code == 302
    page = c.get(r.headers["location"])
    assert page.status_code == 503
    assert "Login is unavailable" in page.text and reason in page.text, page.text
    assert 'name="password"' not in page.text
    r = c.post("/login", data={"password": PASSWORD})
    assert r.status_code in (403, 503)
    assert c.get("/api/metrics").status_code == 401
    assert c.get("/").status_code == 200  # public pages still work


def test_missing_secret_keeps_protected_pages_closed(
    tmp_path: Path, bucket: dict[str, str]
) -> None:
    with _client(_production(tmp_path, bucket)) as c:
        _assert_closed(c, "does not exist")


def test_a_secret_without_a_hash_keeps_them_closed(tmp_path: Path, bucket: dict[str, str]) -> None:
    _secrets(bucket).create_secret(Name=SECRET_ID, SecretString=json.dumps({"password": PASSWORD}))
    with _client(_production(tmp_path, bucket)) as c:
        _assert_closed(c, "does not hold an argon2 hash")


def test_secrets_manager_down_then_back(
    tmp_path: Path, bucket: dict[str, str], moto: MotoServer
) -> None:
    _secrets(bucket).create_secret(
        Name=SECRET_ID, SecretString=json.dumps({"password_hash": hash_password(PASSWORD)})
    )
    settings = _production(tmp_path, bucket)
    with _client(settings) as c:
        auth = c.app.state.services.auth  # type: ignore[attr-defined]
        moto.stop()
        try:
            # Within its TTL the hash read at start is still used.
            assert post_login(c, PASSWORD).status_code == 303
            c.cookies.clear()
            # Past the TTL it must be read again, and cannot be: closed, and it says why.
            auth.hash_source._fetched_at -= 10_000
            _assert_closed(c, "Secrets Manager cannot be reached")
        finally:
            moto.start()
        # moto lost its state when it stopped: the operator recreates the secret.
        _secrets(bucket).create_secret(
            Name=SECRET_ID, SecretString=json.dumps({"password_hash": hash_password(PASSWORD)})
        )
        auth.hash_source._failed_at -= 10_000  # past the retry pause
        assert post_login(c, PASSWORD).status_code == 303
        assert c.get("/dashboard").status_code == 200


def test_a_rotated_password_is_picked_up(prod: TestClient) -> None:
    new = "the-rotated-password-99"
    env_url = prod.app.state.settings.aws_endpoint_url  # type: ignore[attr-defined]
    boto3.client("secretsmanager", endpoint_url=env_url, region_name="us-east-1").put_secret_value(
        SecretId=SECRET_ID, SecretString=json.dumps({"password_hash": hash_password(new)})
    )
    prod.app.state.services.auth.hash_source._fetched_at -= 60  # type: ignore[attr-defined]
    assert post_login(prod, new).status_code == 303


def test_session_key_from_secrets_manager(tmp_path: Path, bucket: dict[str, str]) -> None:
    sm = _secrets(bucket)
    sm.create_secret(Name=SECRET_ID, SecretString=hash_password(PASSWORD))
    sm.create_secret(Name="crayon/session", SecretString=json.dumps({"session_key": "k" * 48}))
    settings = _production(tmp_path, bucket, session_secret_id="crayon/session")
    with _client(settings) as c:
        assert post_login(c, PASSWORD).status_code == 303
        assert c.get("/dashboard").status_code == 200
    assert not (settings.data_dir / "session.key").exists()


def test_an_unreadable_session_key_secret_keeps_them_closed(
    tmp_path: Path, bucket: dict[str, str]
) -> None:
    _secrets(bucket).create_secret(Name=SECRET_ID, SecretString=hash_password(PASSWORD))
    settings = _production(tmp_path, bucket, session_secret_id="crayon/no-such-key")
    with _client(settings) as c:
        _assert_closed(c, "crayon/no-such-key")


def test_the_session_key_secret_wins_over_an_injected_environment_copy(
    tmp_path: Path, bucket: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    sm = _secrets(bucket)
    sm.create_secret(Name=SECRET_ID, SecretString=hash_password(PASSWORD))
    sm.create_secret(Name="crayon/session", SecretString=json.dumps({"session_key": "s" * 48}))
    settings = _production(
        tmp_path, bucket, session_secret_id="crayon/session", session_key="e" * 48
    )
    with caplog.at_level("WARNING"), _client(settings) as c:
        assert post_login(c, PASSWORD).status_code == 303
        status = c.app.state.services.auth.status()  # type: ignore[attr-defined]
    assert status["session_key"]["source"] == "the Secrets Manager secret 'crayon/session'"
    assert any(getattr(r, "variable", None) == "CRAYON_SESSION_KEY" for r in caplog.records)


def test_an_admin_hash_in_the_environment_is_ignored_and_reported(
    prod: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from app.auth.secret_source import warn_about_secrets_in_environment

    injected = hash_password("not the password 1")
    monkeypatch.setenv("CRAYON_ADMIN_PASSWORD_HASH", injected)
    with caplog.at_level("WARNING"):
        found = warn_about_secrets_in_environment(prod.app.state.settings)  # type: ignore[attr-defined]
    assert found == ["CRAYON_ADMIN_PASSWORD_HASH"]
    assert "Remove it from the environment" in caplog.text
    assert injected not in caplog.text  # the warning names the variable, never its value
    # The login keeps using the hash from Secrets Manager, not the environment's.
    assert post_login(prod, "not the password 1").status_code == 401
    assert post_login(prod, PASSWORD).status_code == 303


def test_origin_secret_fetched_by_id(tmp_path: Path, bucket: dict[str, str]) -> None:
    sm = _secrets(bucket)
    sm.create_secret(Name=SECRET_ID, SecretString=hash_password(PASSWORD))
    sm.create_secret(Name="crayon/origin", SecretString="o" * 48)
    settings = _production(tmp_path, bucket, origin_secret_id="crayon/origin")
    with _client(settings) as c:
        assert c.get("/healthz").status_code == 200
        assert c.get("/").status_code == 403
        assert c.get("/", headers={"X-Origin-Verify": "o" * 48}).status_code == 200
    missing = _production(tmp_path / "b", bucket, origin_secret_id="crayon/no-origin")
    with _client(missing) as c:
        r = c.get("/", headers={"X-Origin-Verify": "anything at all here"})
        assert r.status_code == 503 and "Retry-After" in r.headers
        assert c.get("/healthz").status_code == 200


def test_production_without_a_public_url_or_hosts_answers_any_host_and_warns(
    tmp_path: Path, bucket: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    # The deploy roles set neither variable yet: production must still start.
    _secrets(bucket).create_secret(
        Name=SECRET_ID, SecretString=json.dumps({"password_hash": hash_password(PASSWORD)})
    )
    settings = _production(tmp_path, bucket, allowed_hosts=None)
    assert settings.host_unpinned and settings.hosts == ("*",)
    caplog.set_level("WARNING", logger="crayon.app")
    with _client(settings) as c:
        page = c.get("/", headers={"Host": "evil.example"})
        assert page.status_code == 200
        # Links are paths: nothing on the page comes from the forged Host header.
        assert "evil.example" not in page.text
        assert 'href="/demo"' in page.text
    warnings = [r.getMessage() for r in caplog.records if r.name == "crayon.app"]
    unpinned = [m for m in warnings if "any Host header is accepted" in m]
    assert len(unpinned) == 1, warnings
    assert "CRAYON_PUBLIC_URL" in unpinned[0] and "CRAYON_ALLOWED_HOSTS" in unpinned[0]


def test_production_with_allowed_hosts_refuses_a_foreign_host(
    tmp_path: Path, bucket: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    _secrets(bucket).create_secret(
        Name=SECRET_ID, SecretString=json.dumps({"password_hash": hash_password(PASSWORD)})
    )
    caplog.set_level("WARNING", logger="crayon.app")
    with _client(_production(tmp_path, bucket)) as c:  # allowed_hosts: the test hosts
        assert c.get("/", headers={"Host": "evil.example"}).status_code == 400
        assert c.get("/").status_code == 200
    assert not [r for r in caplog.records if "any Host header" in r.getMessage()]
