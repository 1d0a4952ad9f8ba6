"""Issue 13 (the settings helper's part): route rules on each route, /readyz for the public
and for the admin, the Host check and public URL, private caching of personal responses, and
the upload limit reaching the form."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.routing import Mount
from starlette.testclient import TestClient

from app.readiness import CheckResult
from app.services import Services
from app.web.rules import RouteRules, declared_rules
from tests.app.authsupport import client_for, make_settings, post_login
from tests.pages.support import TEST_HOSTS, drawing_png

# What the four path lists said before the rules moved onto the routes (the behaviour kept).
OLD_PUBLIC = {
    "/",
    "/demo",
    "/upload",
    "/docs",
    "/healthz",
    "/readyz",
    "/login",
    "/static",
    "/api/analyses",
    "/analyses/{analysis_id}",
    "/files/{analysis_id}/{name}",
    "/api/analyses/{analysis_id}",
}
OLD_DURABLE_PREFIXES = ("/api/analyses", "/upload", "/config")
OLD_NO_SESSION = {"/static", "/healthz", "/readyz"}
OLD_ORIGIN_OPEN = {"/healthz"}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with client_for(make_settings(tmp_path)) as c:
        yield c


def _services(c: TestClient) -> Services:
    svc = c.app.state.services  # type: ignore[attr-defined]
    assert isinstance(svc, Services)
    return svc


def _rules(c: TestClient) -> dict[str, RouteRules]:
    table: dict[str, RouteRules] = {}
    for route in c.app.routes:  # type: ignore[attr-defined]
        rules = declared_rules(route)
        assert rules is not None, f"{route.path} declares no rules"
        key = route.path + (" POST" if "POST" in (getattr(route, "methods", None) or ()) else "")
        table[key] = rules
    return table


def test_every_route_declares_its_rules_and_the_old_lists_still_hold(client: TestClient) -> None:
    rules = _rules(client)
    public = {k.split()[0] for k, r in rules.items() if r.public}
    assert public == OLD_PUBLIC
    assert {k.split()[0] for k, r in rules.items() if not r.public} >= {
        "/dashboard",
        "/history",
        "/config",
        "/logout",
        "/api/metrics",
        "/api/events",
        "/history/export.csv",
        "/readyz/detail",
    }
    durable = {k.split()[0] for k, r in rules.items() if r.durable}
    assert durable == {
        p for p in (k.split()[0] for k in rules) if p.startswith(OLD_DURABLE_PREFIXES)
    }
    assert {k for k, r in rules.items() if not r.session} == OLD_NO_SESSION
    assert {k for k, r in rules.items() if not r.origin_check} == OLD_ORIGIN_OPEN
    assert {k for k, r in rules.items() if r.any_host} == {"/healthz", "/readyz"}
    mounts = [r for r in client.app.routes if isinstance(r, Mount)]  # type: ignore[attr-defined]
    assert [m.path for m in mounts] == ["/static"]


def test_public_readyz_says_only_ready_or_not(client: TestClient) -> None:
    r = client.get("/readyz")
    assert r.status_code == 200 and r.json() == {"status": "ready"}
    # No paths, bucket names, revisions or errors for the public.
    assert "data" not in r.text and "revision" not in r.text and "head" not in r.text


def test_readyz_details_are_for_the_admin_only(client: TestClient) -> None:
    anonymous = client.get("/readyz/detail", follow_redirects=False)
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["location"]
    assert post_login(client).status_code == 303
    detail = client.get("/readyz/detail")
    assert detail.status_code == 200
    body = detail.json()
    assert body["checks"]["database"]["current"] == body["checks"]["database"]["head"]
    assert body["checks"]["storage"]["ok"] is True
    assert detail.headers["cache-control"] == "private, no-store"


def test_the_storage_check_is_cached_not_run_per_probe(client: TestClient) -> None:
    storage = _services(client).storage
    calls: list[int] = []
    real = storage.status

    def counting() -> dict[str, object]:
        calls.append(1)
        return real()

    storage.status = counting  # type: ignore[method-assign]
    for _ in range(20):
        assert client.get("/readyz").status_code == 200
    assert len(calls) <= 1, len(calls)  # the default cache is 30 s


def test_other_parts_add_a_named_readiness_check(client: TestClient) -> None:
    async def model_loaded() -> CheckResult:
        return CheckResult(False, {"error": "the reference model is not loaded"})

    _services(client).readiness.add("model", model_loaded)
    r = client.get("/readyz")
    assert r.status_code == 503 and r.json() == {"status": "not ready", "reason": "model"}


def test_a_foreign_host_header_is_refused_but_probes_answer_any_host(tmp_path: Path) -> None:
    with client_for(make_settings(tmp_path)) as c:
        assert c.get("/", headers={"Host": "evil.example"}).status_code == 400
        assert c.get("/login", headers={"Host": "evil.example"}).status_code == 400
        # The load balancer probes by the task's IP address.
        assert c.get("/healthz", headers={"Host": "10.0.3.17:8000"}).status_code == 200
        assert c.get("/readyz", headers={"Host": "10.0.3.17:8000"}).status_code == 200
        assert c.get("/", headers={"Host": "127.0.0.1:8000"}).status_code == 200


def test_absolute_links_use_the_public_url_when_set(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path, public_url="https://crayon.example.org", allowed_hosts=TEST_HOSTS
    )
    with client_for(settings) as c:
        page = c.get("/").text
    links = set(re.findall(r'href="(https?://[^"/]+)/', page)) - {"https://github.com"}
    assert links == {"https://crayon.example.org"}, links  # not http://testserver


def test_responses_with_the_admin_session_are_private(client: TestClient) -> None:
    assert "private" not in client.get("/docs").headers.get("cache-control", "")
    assert post_login(client).status_code == 303
    for path in ("/", "/docs", "/demo", "/upload"):
        r = client.get(path)
        assert r.status_code == 200
        assert 'name="csrf_token"' in r.text  # the nav's logout form carries the token
        assert r.headers["cache-control"] == "private, no-store", path


def test_the_upload_form_honours_the_configured_limit(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, max_upload_mb=1)
    # Within the body limit (1 MB + form allowance) but over 1 MB as a file.
    big = drawing_png() + b"\0" * (1024 * 1024 + 100)
    with client_for(settings) as c:
        r = c.post(
            "/api/analyses",
            files={"file": ("d.png", big, "image/png")},
            data={"age_group": "6-7"},
        )
        assert r.status_code == 413, r.text
        assert "1 MB" in r.text
        assert "1 MB" in c.get("/upload").text
