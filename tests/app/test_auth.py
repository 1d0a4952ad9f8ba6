"""Auth against the real app in-process (lifespan run): the visitor's and the attacker's walk."""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from itsdangerous import URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from app.auth.sessions import LOCAL_COOKIE, token_digest
from app.settings import Settings
from app.web.rules import declared_rules
from tests.app.authsupport import (
    PASSWORD,
    client_for,
    concrete,
    login_token,
    make_settings,
    post_login,
    session_csrf,
)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with client_for(settings) as c:
        yield c


@pytest.fixture
def admin(settings: Settings) -> Iterator[TestClient]:
    with client_for(settings) as c:
        assert post_login(c).status_code == 303
        yield c


def _db(settings: Settings) -> sqlite3.Connection:
    return sqlite3.connect(settings.database_path)


# -- the route table: closed by default ----------------------------------------------------


def test_every_protected_route_is_closed_to_an_anonymous_client(client: TestClient) -> None:
    protected = [
        r
        for r in client.app.routes  # type: ignore[attr-defined]
        if not getattr(declared_rules(r), "public", False)
    ]
    paths = {getattr(r, "path", "") for r in protected}
    # Not vacuous: the pages seed 000 req. 12 names as protected are among them.
    assert {"/dashboard", "/history", "/config", "/logout"} <= paths
    checked = 0
    for route in protected:
        assert not isinstance(route, Mount), f"unexpected protected mount {route.path}"
        path = concrete(route.path)
        for method in ("GET", "POST"):
            r = client.request(method, path, follow_redirects=False)
            if path.startswith("/api/"):
                assert r.status_code == 401, (method, path, r.status_code)
                assert r.json()["error"] == "Login needed"
            else:
                assert r.status_code == 302, (method, path, r.status_code)
                assert r.headers["location"].startswith("/login?next=")
            assert r.headers["cache-control"] == "no-store"
            checked += 1
    assert checked >= 14


def test_a_route_added_later_is_closed_by_default(settings: Settings) -> None:
    async def secret_page(request: Request) -> PlainTextResponse:
        return PlainTextResponse("internal")

    with client_for(settings) as c:
        c.app.router.routes.append(Route("/new-admin-page", secret_page))  # type: ignore[attr-defined]
        r = c.get("/new-admin-page", follow_redirects=False)
        assert r.status_code == 302 and "internal" not in r.text


def test_public_pages_are_open(client: TestClient) -> None:
    for path in ("/", "/upload", "/docs", "/login", "/healthz", "/static/style.css"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 200, (path, r.status_code)
    assert client.get("/demo", follow_redirects=False).status_code not in (302, 401)


def test_redirect_keeps_the_page_and_the_login_page_says_what_it_needs(client: TestClient) -> None:
    r = client.get("/history?page=2", follow_redirects=False)
    assert r.headers["location"] == "/login?next=/history%3Fpage%3D2"
    page = client.get(r.headers["location"])
    assert "The analysis history needs the administrator&#39;s password." in page.text
    page = client.get("/dashboard")
    assert page.url.path == "/login"
    assert "The dashboard needs the administrator&#39;s password." in page.text


def test_unknown_route_is_404_not_a_login_redirect(client: TestClient, admin: TestClient) -> None:
    for c in (client, admin):
        r = c.get("/no-such-page", follow_redirects=False)
        assert r.status_code == 404 and "There is no page at /no-such-page" in r.text


# -- login ---------------------------------------------------------------------------------


def test_wrong_password_is_a_clear_401_and_sets_no_session(client: TestClient) -> None:
    r = post_login(client, "not-the-password")
    assert r.status_code == 401
    assert "Wrong password" in r.text
    assert LOCAL_COOKIE not in r.cookies
    assert client.get("/dashboard", follow_redirects=False).status_code == 302


@pytest.mark.parametrize(
    ("body", "content_type", "status", "message"),
    [
        ({"password": ""}, None, 400, "Enter the administrator"),
        (b'{"password": "x"}', "application/json", 400, "Send the login form"),
        ({"password": "x" * 5000}, None, 400, "Enter the administrator"),
    ],
)
def test_malformed_logins_get_a_message_not_a_500(
    client: TestClient, body: object, content_type: str | None, status: int, message: str
) -> None:
    token = login_token(client)
    if isinstance(body, dict):
        r = client.post("/login", data={**body, "csrf_token": token})
    else:
        r = client.post("/login", content=body, headers={"content-type": str(content_type)})
    assert r.status_code == status and message in r.text


def test_login_without_the_forms_csrf_token_is_refused(client: TestClient) -> None:
    login_token(client)  # the browser has the nonce cookie, the attacker's form has no token
    r = client.post("/login", data={"password": PASSWORD})
    assert r.status_code == 403 and "CSRF" in r.text
    # A token from another visitor (the attacker's own) does not match this browser's nonce.
    foreign = login_token(TestClient(client.app))
    r = client.post("/login", data={"password": PASSWORD, "csrf_token": foreign})
    assert r.status_code == 403
    assert client.get("/dashboard", follow_redirects=False).status_code == 302


def test_login_sets_a_fresh_session_cookie_with_the_right_attributes(
    client: TestClient, settings: Settings
) -> None:
    r = post_login(client, next_path="/history")
    assert r.status_code == 303 and r.headers["location"] == "/history"
    cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith(LOCAL_COOKIE))
    attrs = {a.strip().lower() for a in cookie.split(";")}
    assert {"httponly", "path=/", "samesite=lax"} <= attrs
    assert "secure" not in attrs  # local http; production is checked in test_auth_secrets.py
    assert f"max-age={settings.session_absolute_hours * 3600}" in attrs
    assert client.get("/dashboard").status_code == 200
    # The database keeps only a digest of the token, never the token itself.
    token = URLSafeTimedSerializer(
        (settings.data_dir / "session.key").read_text().strip(), salt="crayon.admin-session"
    ).loads(client.cookies[LOCAL_COOKIE])
    with _db(settings) as db:
        ids = [row[0] for row in db.execute("SELECT id FROM admin_sessions")]
    assert ids == [token_digest(token)] and token not in ids


def test_login_rotates_the_session_and_ends_the_previous_one(admin: TestClient) -> None:
    before = admin.cookies[LOCAL_COOKIE]
    # A logged-in browser is sent past /login, so borrow a login form (nonce + token).
    other = TestClient(admin.app)
    token = login_token(other)
    nonce = other.cookies["crayon_login_csrf"]
    admin.cookies.set("crayon_login_csrf", nonce)
    r = admin.post(
        "/login", data={"password": PASSWORD, "csrf_token": token}, follow_redirects=False
    )
    assert r.status_code == 303
    after = admin.cookies[LOCAL_COOKIE]
    assert before != after
    assert admin.get("/dashboard", follow_redirects=False).status_code == 200
    old = _with_cookie(admin.app, before)
    assert old.get("/dashboard", follow_redirects=False).status_code == 302


@pytest.mark.parametrize(
    "next_path",
    ["//evil.example/x", "https://evil.example/", "/\\evil.example", "/logout", "javascript:x"],
)
def test_next_never_leaves_the_site(client: TestClient, next_path: str) -> None:
    r = post_login(client, next_path=next_path)
    assert r.status_code == 303 and r.headers["location"] == "/dashboard"


def test_already_logged_in_visitor_is_sent_on(admin: TestClient) -> None:
    r = admin.get("/login?next=/config", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/config"


# -- cookies that must not work ------------------------------------------------------------


def _with_cookie(app: object, value: str) -> TestClient:
    """Another browser on the same running app (no second lifespan: not used as `with`)."""
    return TestClient(app, cookies={LOCAL_COOKIE: value})  # type: ignore[arg-type]


def test_missing_forged_and_foreign_cookies_are_refused(
    admin: TestClient, settings: Settings
) -> None:
    app = admin.app
    good = admin.cookies[LOCAL_COOKIE]
    payload, _, signature = good.rpartition(".")
    forged = [
        "",
        "garbage",
        good + "x",
        f"{payload}.{'A' * len(signature)}",
        URLSafeTimedSerializer("another-key-" * 4, salt="crayon.admin-session").dumps("t" * 43),
        # Correctly signed, but for a token the server never issued.
        URLSafeTimedSerializer(
            (settings.data_dir / "session.key").read_text().strip(), salt="crayon.admin-session"
        ).dumps("never-issued-token-0123456789abcdefghijkl"),
    ]
    for value in forged:
        c = _with_cookie(app, value)
        assert c.get("/dashboard", follow_redirects=False).status_code == 302, value
        assert c.get("/api/metrics").status_code == 401
    c = _with_cookie(app, good)
    assert c.get("/dashboard", follow_redirects=False).status_code == 200


def test_idle_and_absolute_timeouts_end_the_session(admin: TestClient, settings: Settings) -> None:
    cookie = admin.cookies[LOCAL_COOKIE]
    assert admin.get("/dashboard").status_code == 200
    idle = settings.session_idle_minutes * 60
    with _db(settings) as db:
        db.execute("UPDATE admin_sessions SET last_seen = last_seen - ?", (idle + 1,))
    c = _with_cookie(admin.app, cookie)
    assert c.get("/dashboard", follow_redirects=False).status_code == 302
    assert post_login(admin).status_code == 303
    with _db(settings) as db:
        db.execute(
            "UPDATE admin_sessions SET expires_at = ? WHERE revoked_at IS NULL", (time.time() - 1,)
        )
    assert admin.get("/dashboard", follow_redirects=False).status_code == 302


def test_a_cookie_older_than_the_absolute_timeout_is_refused(
    admin: TestClient, settings: Settings
) -> None:
    key = (settings.data_dir / "session.key").read_text().strip()
    token = URLSafeTimedSerializer(key, salt="crayon.admin-session").loads(
        admin.cookies[LOCAL_COOKIE]
    )

    class Old(URLSafeTimedSerializer):
        pass

    old = Old(key, salt="crayon.admin-session")
    old_signer = old.make_signer()
    aged = settings.session_absolute_hours * 3600 + 60
    old_signer.get_timestamp = lambda: int(time.time()) - aged  # type: ignore[method-assign]
    old.make_signer = lambda salt=None: old_signer  # type: ignore[method-assign,assignment]
    c = _with_cookie(admin.app, old.dumps(token))
    assert c.get("/dashboard", follow_redirects=False).status_code == 302


def test_logout_revokes_the_session_server_side(admin: TestClient, settings: Settings) -> None:
    stolen = admin.cookies[LOCAL_COOKIE]
    r = admin.post("/logout", data={"csrf_token": session_csrf(admin)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?logged_out=1"
    assert any(
        h.startswith(f'{LOCAL_COOKIE}=""') or "Max-Age=0" in h
        for h in r.headers.get_list("set-cookie")
    )
    with _db(settings) as db:
        assert db.execute("SELECT revoked_at FROM admin_sessions").fetchone()[0] is not None
    # Replaying the old cookie (say, copied before logout) no longer opens anything.
    c = _with_cookie(admin.app, stolen)
    assert c.get("/dashboard", follow_redirects=False).status_code == 302
    assert c.get("/api/metrics").status_code == 401


def test_checking_a_session_is_not_activity(admin: TestClient, settings: Settings) -> None:
    # The event stream re-checks its session as it goes; that must not keep it alive.
    store = admin.app.state.services.auth.store  # type: ignore[union-attr]
    with _db(settings) as db:
        db.execute("UPDATE admin_sessions SET last_seen = last_seen - 120")
        digest, seen = db.execute("SELECT id, last_seen FROM admin_sessions").fetchone()
    assert admin.portal.call(store.is_live, digest) is True  # type: ignore[union-attr]
    with _db(settings) as db:
        assert db.execute("SELECT last_seen FROM admin_sessions").fetchone()[0] == seen
        db.execute("UPDATE admin_sessions SET last_seen = ?", (time.time() - 31 * 60,))
    assert admin.portal.call(store.is_live, digest) is False  # type: ignore[union-attr]


def test_cleanup_deletes_expired_records(admin: TestClient, settings: Settings) -> None:
    with _db(settings) as db:
        db.execute("UPDATE admin_sessions SET expires_at = 0")
    removed = admin.portal.call(admin.app.state.services.auth.store.cleanup)  # type: ignore[union-attr]
    assert removed == 1
    with _db(settings) as db:
        assert db.execute("SELECT count(*) FROM admin_sessions").fetchone()[0] == 0


# -- CSRF ----------------------------------------------------------------------------------


def test_state_changes_need_the_sessions_csrf_token(admin: TestClient) -> None:
    r = admin.post("/config", data={"threshold": "0.4"}, follow_redirects=False)
    assert r.status_code == 403 and "CSRF token" in r.text
    r = admin.post("/config", data={"threshold": "0.4", "csrf_token": "wrong"})
    assert r.status_code == 403
    r = admin.post(
        "/config",
        data={"threshold": "0.4"},
        headers={"X-CSRF-Token": "wrong"},
        follow_redirects=False,
    )
    assert r.status_code == 403
    token = session_csrf(admin)
    r = admin.post(
        "/config", data={"threshold": "0.4", "csrf_token": token}, follow_redirects=False
    )
    assert r.status_code == 303
    r = admin.post(
        "/config",
        data={"threshold": "0.45"},
        headers={"X-CSRF-Token": token},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert r.headers.get("cache-control") == "private, no-store"
    # The logout itself is a state change.
    assert admin.post("/logout", follow_redirects=False).status_code == 403
    assert admin.get("/dashboard", follow_redirects=False).status_code == 200


def test_json_api_clients_get_json_csrf_errors(admin: TestClient) -> None:
    r = admin.post("/api/analyses", content=b"{}", headers={"content-type": "application/json"})
    assert r.status_code == 403 and "CSRF" in r.json()["detail"]


def test_multipart_forms_carry_the_token_in_the_body(admin: TestClient) -> None:
    token = session_csrf(admin)
    files = {"file": ("d.png", b"\x89PNG not really", "image/png")}
    r = admin.post("/upload", data={"age_group": "6-8"}, files=files)
    assert r.status_code == 403
    r = admin.post("/upload", data={"age_group": "6-8", "csrf_token": token}, files=files)
    assert r.status_code != 403  # the endpoint ran and judged the (bad) image itself
    assert "CSRF" not in r.text


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
    ],
)
def test_cross_site_writes_are_refused_even_with_the_token(
    admin: TestClient, headers: dict[str, str]
) -> None:
    token = session_csrf(admin)
    r = admin.post("/config", data={"threshold": "0.4", "csrf_token": token}, headers=headers)
    assert r.status_code == 403 and "Request refused" in r.text


def test_same_origin_headers_pass(admin: TestClient) -> None:
    token = session_csrf(admin)
    for headers in ({"Sec-Fetch-Site": "same-origin"}, {"Origin": "http://testserver"}):
        r = admin.post(
            "/config",
            data={"threshold": "0.4", "csrf_token": token},
            headers=headers,
            follow_redirects=False,
        )
        assert r.status_code == 303, headers


def test_anonymous_public_posts_need_no_token(client: TestClient) -> None:
    r = client.post("/api/analyses", content=b"{}", headers={"content-type": "application/json"})
    assert r.status_code == 415  # reached the endpoint: no session, so no CSRF to check


# -- body size, rate limits ----------------------------------------------------------------


def test_oversized_bodies_are_refused_before_the_gate_reads_them(
    client: TestClient, admin: TestClient, settings: Settings
) -> None:
    huge = str(settings.max_upload_mb * 1024 * 1024 + 1_000_000)
    for c, path in ((client, "/login"), (admin, "/config"), (admin, "/upload")):
        r = c.post(path, content=b"x", headers={"content-length": huge})
        assert r.status_code == 413 and "larger than" in r.text
    body = b"a=" + b"x" * (settings.max_upload_mb * 1024 * 1024 + 200_000)
    r = admin.post(
        "/config", content=body, headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert r.status_code == 413


def test_login_attempts_are_limited_per_client(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, login_attempts_per_client=3, login_window_seconds=60)
    with client_for(settings) as c:
        for _ in range(3):
            assert post_login(c, "wrong-password").status_code == 401
        r = post_login(c, PASSWORD)  # even the right password waits
        assert r.status_code == 429
        assert 1 <= int(r.headers["retry-after"]) <= 60
        assert "Too many login attempts from your address" in r.text
        assert c.get("/dashboard", follow_redirects=False).status_code == 302


def test_the_global_limit_holds_against_many_addresses(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path,
        login_attempts_per_client=100,
        login_attempts_global=4,
        trusted_proxy_hops=1,
        forwarded_allow_ips="*",
    )
    with client_for(settings) as c:
        for i in range(4):
            c.headers["X-Forwarded-For"] = f"198.51.100.{i}"
            assert post_login(c, "wrong-password").status_code == 401
        c.headers["X-Forwarded-For"] = "198.51.100.99"
        r = post_login(c, "wrong-password")
        assert r.status_code == 429 and "from everybody" in r.text
        assert int(r.headers["retry-after"]) >= 1


def test_forwarded_for_is_believed_only_as_far_as_the_settings_say(tmp_path: Path) -> None:
    # No trusted proxy: a client cannot dodge its limit by inventing X-Forwarded-For.
    settings = make_settings(tmp_path, login_attempts_per_client=2)
    with client_for(settings) as c:
        for i in range(2):
            c.headers["X-Forwarded-For"] = f"203.0.113.{i}"
            assert post_login(c, "wrong-password").status_code == 401
        c.headers["X-Forwarded-For"] = "203.0.113.50"
        assert post_login(c, "wrong-password").status_code == 429
    # One trusted proxy (CloudFront): only its appended entry counts, not the client's prefix.
    settings = make_settings(
        tmp_path / "b", login_attempts_per_client=2, trusted_proxy_hops=1, forwarded_allow_ips="*"
    )
    with client_for(settings) as c:
        for i in range(2):
            c.headers["X-Forwarded-For"] = f"10.9.9.{i}, 192.0.2.7"
            assert post_login(c, "wrong-password").status_code == 401
        c.headers["X-Forwarded-For"] = "10.9.9.77, 192.0.2.7"
        assert post_login(c, "wrong-password").status_code == 429
        c.headers["X-Forwarded-For"] = "192.0.2.8"
        assert post_login(c, "wrong-password").status_code == 401


# -- local password source -----------------------------------------------------------------


def test_without_a_password_locally_one_is_generated_kept_private_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(tmp_path, admin_password=None)
    with caplog.at_level(logging.WARNING, logger="crayon.auth"), client_for(settings) as c:
        path = settings.data_dir / "local-admin-password"
        password = path.read_text().strip()
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert password in caplog.text and "CRAYON_ADMIN_PASSWORD" in caplog.text
        assert "comes from the generated local password" in c.get("/login").text
        assert post_login(c, password).status_code == 303
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="crayon.auth"), client_for(settings) as c:
        assert password not in caplog.text  # printed once, at generation only
        assert post_login(c, password).status_code == 303
    assert stat.S_IMODE(os.stat(settings.data_dir / "session.key").st_mode) == 0o600


def test_security_headers_on_the_login_page(client: TestClient) -> None:
    r = client.get("/login")
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert "unsafe-inline" not in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-content-type-options"] == "nosniff"
    # The login form carries a pre-session CSRF token: never kept by a shared cache.
    assert r.headers["cache-control"] == "private, no-store"
