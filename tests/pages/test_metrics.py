"""Metrics: counts equal the traffic, rollups equal the raw log, windows nest, uptime, privacy."""

from __future__ import annotations

import dataclasses
import io
import json
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from app import migrate
from app.db import Database
from app.main import create_app
from app.metrics import emf, heartbeat
from app.metrics.analyses import count_analysis
from app.metrics.queries import usage_metrics
from app.metrics.recorder import classify
from app.settings import Settings
from tests.pages.support import drawing_png, login

PATHS = [
    "/",
    "/demo",
    "/healthz",
    "/static/style.css",
    "/nope",
    "/api/analyses/zz",
    "/upload",
    "/history",
    "/files/zz/drawing.png",
]


async def boom(request: Request) -> Response:
    raise RuntimeError("a deliberate failure for the error-rate test")


@pytest.fixture
def emf_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    emf.set_stream(stream)
    try:
        yield stream
    finally:
        emf.set_stream(None)


@pytest.fixture
def mclient(settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings)
    app.router.routes.append(Route("/boom", boom))
    with TestClient(app, raise_server_exceptions=False) as c:
        login(c)
        yield c


def metrics(client: TestClient, window: str = "24h") -> dict:
    r = client.get(f"/api/metrics?window={window}")
    assert r.status_code == 200
    return r.json()


@hsettings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(paths=st.lists(st.sampled_from(PATHS), max_size=25))
def test_metric_counts_equal_the_requests_made(mclient: TestClient, paths: list[str]) -> None:
    before = metrics(mclient)
    for path in paths:
        mclient.get(path)
    after = metrics(mclient)
    # +1: the first /api/metrics call is itself a request, recorded once it has finished.
    assert after["total_requests"] - before["total_requests"] == len(paths) + 1
    expected = Counter(classify(p) for p in paths) + Counter({"api": 1})
    got = Counter(after["window_requests_by_kind"]) - Counter(before["window_requests_by_kind"])
    assert got == expected


def test_rollups_equal_the_raw_log(mclient: TestClient, settings: Settings) -> None:
    for i in range(30):
        headers = {"CloudFront-Viewer-Country": "DE", "User-Agent": f"agent {i % 7}"}
        mclient.get(PATHS[i % len(PATHS)], headers=headers)
    metrics(mclient)
    with sqlite3.connect(settings.database_path) as conn:
        raw = conn.execute("SELECT COUNT(*), SUM(status >= 500) FROM request_log").fetchone()
        roll = conn.execute("SELECT SUM(requests), SUM(errors) FROM metrics_hourly").fetchone()
        by_country = dict(
            conn.execute(
                "SELECT country, COUNT(*) FROM request_log WHERE kind != 'health' GROUP BY 1"
            ).fetchall()
        )
        rolled_country = dict(
            conn.execute(
                "SELECT country, SUM(requests) FROM metrics_countries_daily GROUP BY 1"
            ).fetchall()
        )
        sessions = conn.execute(
            "SELECT COUNT(DISTINCT CAST(ts / 86400 AS INTEGER) || session_hash) FROM request_log "
            "WHERE kind != 'health'"
        ).fetchone()[0]
        counted = conn.execute("SELECT SUM(sessions) FROM metrics_session_counts").fetchone()[0]
    assert raw[0] == roll[0] and (raw[1] or 0) == (roll[1] or 0)
    assert sessions == counted
    assert by_country == rolled_country


def test_countries_sessions_and_no_addresses_stored(settings: Settings) -> None:
    # Behind one trusted proxy (CloudFront): its viewer-country header is believed.
    proxied = dataclasses.replace(settings, trusted_proxy_hops=1, forwarded_allow_ips="*")
    with TestClient(create_app(proxied)) as mclient:
        login(mclient)
        mclient.headers["X-Forwarded-For"] = "192.0.2.10"
        for country, ua in [("DE", "a"), ("DE", "a"), ("FR", "b"), ("de", "c"), ("Germany", "d")]:
            mclient.get("/demo", headers={"CloudFront-Viewer-Country": country, "User-Agent": ua})
        m = metrics(mclient)
    geo = m["geographic_distribution"]
    assert geo["DE"] == 3 and geo["FR"] == 1 and geo["unknown"] >= 1
    assert "Germany" not in geo
    # 4 user agents + the metrics call's own (httpx's default) = distinct anonymous sessions
    assert m["unique_sessions"] >= 4
    with sqlite3.connect(settings.database_path) as conn:
        for table in ("request_log", "metrics_sessions_daily", "metrics_countries_daily"):
            for row in conn.execute(f"SELECT * FROM {table}"):
                text = "|".join(map(str, row))
                assert "testclient" not in text  # the client address TestClient uses
                assert "192.0.2.10" not in text


def test_error_rate_counts_5xx_and_emits_an_emf_line(
    mclient: TestClient, emf_lines: io.StringIO
) -> None:
    for _ in range(3):
        mclient.get("/demo")
    assert mclient.get("/boom").status_code == 500
    m = metrics(mclient)
    assert m["errors"] == 1
    assert (
        m["error_rate"] == pytest.approx(1 / m["window_requests"], rel=0.01) or m["error_rate"] > 0
    )
    lines = [json.loads(line) for line in emf_lines.getvalue().splitlines()]
    errors = [d for d in lines if "Errors" in d]
    assert len(errors) == 1
    directive = errors[0]["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "Crayon" and directive["Dimensions"] == [["Service"]]
    assert errors[0]["Service"] == "crayon" and errors[0]["Errors"] == 1


def test_each_analysis_writes_one_emf_line_and_counts(
    mclient: TestClient, emf_lines: io.StringIO
) -> None:
    before = metrics(mclient)
    for _ in range(2):
        r = mclient.post(
            "/api/analyses",
            data={"age_group": "3-5"},
            files={"file": ("d.png", drawing_png(), "image/png")},
        )
        assert r.status_code == 201
    mclient.post("/api/analyses", data={"age_group": "3-5"}, files={"file": ("x", b"no", "")})
    after = metrics(mclient)
    for key in ("total_analyses", "daily_analyses", "weekly_analyses", "monthly_analyses"):
        assert after[key] - before[key] == 2
    assert after["average_processing_time"] > 0
    lines = [json.loads(x) for x in emf_lines.getvalue().splitlines()]
    analyses = [d for d in lines if "AnalysisCount" in d]
    assert len(analyses) == 2
    names = {m["Name"] for m in analyses[0]["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert names == {"AnalysisCount", "ProcessingMs"}
    assert analyses[0]["ProcessingMs"] > 0


def test_replication_error_line() -> None:
    stream = io.StringIO()
    emf.set_stream(stream)
    try:
        emf.emit_replication_error(2, "sync failed: 503")
    finally:
        emf.set_stream(None)
    doc = json.loads(stream.getvalue())
    assert doc["ReplicationErrors"] == 2
    assert doc["_aws"]["CloudWatchMetrics"][0]["Metrics"] == [
        {"Name": "ReplicationErrors", "Unit": "Count"}
    ]


@pytest.fixture
async def db(tmp_path: Path) -> Database:
    path = tmp_path / "m.db"
    migrate.upgrade(path)
    database = Database(path)
    await database.open()
    yield database  # type: ignore[misc]
    await database.close()


@hsettings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(ages_h=st.lists(st.floats(0, 24 * 400, allow_nan=False), max_size=60))
async def test_daily_weekly_monthly_total_nest_and_are_exact(
    tmp_path_factory: pytest.TempPathFactory, ages_h: list[float]
) -> None:
    path = tmp_path_factory.mktemp("nest") / "m.db"
    migrate.upgrade(path)
    database = Database(path)
    await database.open()
    try:
        now = 1_800_000_000.0
        for age in ages_h:
            created = now - age * 3600

            async def add(conn, created=created):  # type: ignore[no-untyped-def]
                await count_analysis(conn, created, "typical", 10.0)

            await database.transaction(add)
        m = await usage_metrics(database, now=now)
    finally:
        await database.close()
    assert (
        m["daily_analyses"] <= m["weekly_analyses"] <= m["monthly_analyses"] <= m["total_analyses"]
    )
    hour = int(now // 3600)
    for key, hours in (("daily_analyses", 24), ("weekly_analyses", 168), ("monthly_analyses", 720)):
        expected = sum(1 for a in ages_h if int((now - a * 3600) // 3600) > hour - hours)
        assert m[key] == expected
    assert m["total_analyses"] == len(ages_h)


async def test_uptime_from_heartbeats(db: Database) -> None:
    now = 1_800_000_000.0 + 30
    assert await heartbeat.uptime_percent(db, 3600, 60, now=now) is None
    for k in range(61):  # one hour of beats, every minute, up to the current one
        await heartbeat.beat(db, 60, now=now - 3600 + k * 60)
    assert await heartbeat.uptime_percent(db, 3600, 60, now=now) == 100.0
    # a 20-minute outage
    await db.execute_write(
        "DELETE FROM heartbeats WHERE ts > ? AND ts <= ?", (now - 1800, now - 600)
    )
    up = await heartbeat.uptime_percent(db, 3600, 60, now=now)
    assert up is not None and 60 < up < 72
    # windows before the first beat ever do not count as downtime
    month = await heartbeat.uptime_percent(db, 30 * 86400, 60, now=now)
    assert month is not None and abs(month - up) < 1


async def test_heartbeat_task_writes_beats(db: Database) -> None:
    import asyncio

    task = asyncio.create_task(heartbeat.run(db, 1))
    await asyncio.sleep(2.5)
    task.cancel()
    n = await db.fetchval("SELECT COUNT(*) FROM heartbeats")
    assert n >= 2
    up = await heartbeat.uptime_percent(db, 3600, 1, now=time.time())
    assert up is not None and up >= 66


def test_dashboard_renders_charts_and_figures(mclient: TestClient) -> None:
    r = mclient.post(
        "/api/analyses",
        data={"age_group": "6-8"},
        files={"file": ("d.png", drawing_png(), "image/png")},
    )
    assert r.status_code == 201
    page = mclient.get("/dashboard?window=7d")
    assert page.status_code == 200
    assert page.text.count("<svg") >= 5
    assert 'data-metric="total_analyses"' in page.text
    assert "/static/dashboard.js" in page.text and "<script>" not in page.text
    assert mclient.get("/dashboard?window=bogus").status_code == 200
