"""Forged forwarding headers against a real `crayon serve` and the metrics they used to skew."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from tests.pages.support import Server, login

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def limited_server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path / "data", {"CRAYON_LOGIN_ATTEMPTS_PER_CLIENT": "2"}).start()
    try:
        yield srv
    finally:
        srv.stop()


def test_rotating_forwarded_for_does_not_reset_the_limit_of_a_real_server(
    limited_server: Server,
) -> None:
    # Default settings (no trusted proxy): uvicorn must not take the client from the header.
    with httpx.Client(base_url=limited_server.url, timeout=30) as http:
        token = _TOKEN.search(http.get("/login").text)
        assert token
        codes = []
        for i, forged in enumerate(["203.0.113.1", "2001:db8::1", "198.51.100.9", "::1"]):
            r = http.post(
                "/login",
                data={"password": f"wrong-{i}", "csrf_token": token.group(1)},
                headers={
                    "X-Forwarded-For": forged,
                    "X-Real-IP": forged,
                    "Forwarded": "for=1.2.3.4",
                },
                follow_redirects=False,
            )
            codes.append(r.status_code)
    assert codes == [401, 401, 429, 429]
    log = limited_server.log.read_text()
    assert '"client":"127.0.0.1"' in log
    for forged in ("203.0.113.1", "2001:db8::1", "198.51.100.9"):
        assert f'"client":"{forged}"' not in log


def _countries(settings: Settings) -> dict[str, int]:
    with sqlite3.connect(settings.database_path) as conn:
        return dict(
            conn.execute("SELECT country, SUM(requests) FROM metrics_countries_daily GROUP BY 1")
        )


def _sessions(settings: Settings) -> int:
    with sqlite3.connect(settings.database_path) as conn:
        return int(
            conn.execute(
                "SELECT COALESCE(SUM(sessions), 0) FROM metrics_session_counts"
            ).fetchone()[0]
        )


def test_forged_country_and_address_headers_do_not_inflate_the_dashboard(
    settings: Settings,
) -> None:
    # No trusted proxy: neither CloudFront's headers nor X-Forwarded-For are believed.
    with TestClient(create_app(settings)) as c:
        for i, country in enumerate(["DE", "FR", "US", "JP", "BR"]):
            c.get(
                "/demo",
                headers={
                    "CloudFront-Viewer-Country": country,
                    "CloudFront-Viewer-Address": f"198.51.100.{i}:443",
                    "X-Forwarded-For": f"203.0.113.{i}",
                    "User-Agent": "one browser",
                },
            )
        login(c)
        c.get("/api/metrics")
    countries = _countries(settings)
    assert set(countries) == {"unknown"}, countries
    # 5 forged visits from one browser are one visitor (+ httpx's own agent for the admin).
    assert _sessions(settings) <= 2


def test_through_trusted_proxies_only_assigned_country_codes_count(tmp_path: Path) -> None:
    from tests.pages.support import prepare_data_dir

    base = prepare_data_dir(tmp_path / "data")
    settings = Settings(
        data_dir=base.data_dir,
        admin_password=base.admin_password,
        trusted_proxy_hops=1,
        forwarded_allow_ips="*",
        allowed_hosts=base.allowed_hosts,
    )
    with TestClient(create_app(settings)) as c:
        for country in ["DE", "de", "XX", "ZZ", "EU", "Germany", "AA", "", "<b>"]:
            c.get(
                "/demo",
                headers={"CloudFront-Viewer-Country": country, "X-Forwarded-For": "192.0.2.4"},
            )
        login(c)
        c.get("/api/metrics")
    countries = _countries(settings)
    assert countries.get("DE") == 2
    assert set(countries) == {"DE", "unknown"}, countries
