"""The dashboard's rollups (migration 0004) equal their sources, and uptime is unchanged.

`heartbeats_hourly` and `metrics_totals` are kept by triggers; uptime now sums whole hours from
the rollup and counts raw heartbeats only at the window's ends. These tests compare against the
raw tables whatever the writes (inserts, deletes, updates, mixed heartbeat intervals, a
migration run over existing data).
"""

from __future__ import annotations

import asyncio
import math
import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from app import migrate
from app.db import Database
from app.metrics import heartbeat
from app.metrics.analyses import count_analysis
from app.metrics.recorder import RequestRecord, write_batch

NOW = 1_800_000_000.0 + 42


def raw_uptime(
    conn: sqlite3.Connection, window_s: float, interval_s: int, now: float
) -> float | None:
    """Uptime straight from the raw heartbeats: the formula before the rollup."""
    first = conn.execute("SELECT MIN(ts) FROM heartbeats").fetchone()[0]
    if first is None:
        return None
    start = max(now - window_s, float(first))
    first_slot = math.ceil(start / interval_s)
    last_slot = math.floor((now - min(heartbeat.GRACE_S, interval_s / 2)) / interval_s)
    expected = last_slot - first_slot + 1
    if expected <= 0:
        return 100.0
    covered = conn.execute(
        "SELECT (SELECT COUNT(*) FROM heartbeats WHERE ts >= :a AND ts <= :b "
        "AND interval_s = :i) + (SELECT COUNT(DISTINCT ts / :i) FROM heartbeats "
        "WHERE ts >= :a AND ts <= :b AND interval_s != :i)",
        {"a": first_slot * interval_s, "b": last_slot * interval_s, "i": interval_s},
    ).fetchone()[0]
    return round(100.0 * min(int(covered or 0), expected) / expected, 3)


def rollup_matches_heartbeats(conn: sqlite3.Connection) -> bool:
    raw = conn.execute(
        "SELECT ts / 3600, interval_s, COUNT(*) FROM heartbeats GROUP BY 1, 2 ORDER BY 1, 2"
    ).fetchall()
    rolled = conn.execute(
        "SELECT hour, interval_s, beats FROM heartbeats_hourly WHERE beats != 0 ORDER BY 1, 2"
    ).fetchall()
    return raw == rolled


@pytest.fixture(scope="module")
def schema(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("schema") / "m.db"
    migrate.upgrade(path)
    return path.read_bytes()


#: Runs of beats (start offset, number of beats, interval, one beat every `step` slots): a
#: host up, down or flapping, with the interval setting changed now and then.
runs = st.lists(
    st.tuples(
        st.integers(0, 2 * 86400),  # seconds before NOW
        st.integers(1, 1500),
        st.sampled_from([60, 60, 60, 30, 300]),
        st.sampled_from([1, 1, 2, 3]),
    ),
    min_size=1,
    max_size=8,
)


@hsettings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    runs=runs,
    deleted=st.lists(st.tuples(st.integers(0, 2 * 86400), st.integers(0, 20000)), max_size=4),
    windows=st.lists(st.sampled_from([3600, 86400, 7 * 86400, 30 * 86400, 5000]), min_size=1),
    interval=st.sampled_from([60, 30, 1, 7200]),
    now_offset=st.integers(-7200, 3600),
)
async def test_uptime_from_the_rollup_equals_the_raw_count(
    tmp_path_factory: pytest.TempPathFactory,
    schema: bytes,
    runs: list[tuple[int, int, int, int]],
    deleted: list[tuple[int, int]],
    windows: list[int],
    interval: int,
    now_offset: int,
) -> None:
    path = tmp_path_factory.mktemp("up") / "m.db"
    path.write_bytes(schema)
    end = int(NOW)
    with sqlite3.connect(path) as conn:
        for offset, count, every, step in runs:
            first = (end - offset) // every * every
            conn.executemany(
                "INSERT OR IGNORE INTO heartbeats (ts, interval_s) VALUES (?, ?)",
                [(first + k * every * step, every) for k in range(count)],
            )
        for offset, length in deleted:
            conn.execute(
                "DELETE FROM heartbeats WHERE ts >= ? AND ts < ?",
                (end - offset, end - offset + length),
            )
        conn.execute("UPDATE heartbeats SET interval_s = 300 WHERE ts % 7 = 0")
    now = NOW + now_offset
    database = Database(path)
    await database.open()
    try:
        with sqlite3.connect(path) as conn:
            assert rollup_matches_heartbeats(conn)
            for window in windows:
                got = await heartbeat.uptime_percent(database, window, interval, now=now)
                assert got == raw_uptime(conn, window, interval, now)
    finally:
        await database.close()


async def test_totals_follow_every_write_and_the_migration_backfills(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    migrate.upgrade(path, "0003_session_counts")
    with sqlite3.connect(path) as conn:  # data written before the rollups existed
        conn.execute(
            "INSERT INTO metrics_hourly (hour, kind, requests, errors, duration_ms_sum) "
            "VALUES (1, 'page', 5, 1, 10.0), (2, 'api', 7, 0, 3.5)"
        )
        conn.execute(
            "INSERT INTO analysis_hourly (hour, analyses, anomalous, processing_ms_sum) "
            "VALUES (1, 3, 1, 300.0)"
        )
        conn.execute("INSERT INTO heartbeats (ts, interval_s) VALUES (3600, 60), (3660, 60)")
    migrate.upgrade(path)

    def check() -> None:
        with sqlite3.connect(path) as conn:
            totals = conn.execute(
                "SELECT requests, analyses, processing_ms_sum FROM metrics_totals"
            ).fetchall()
            raw = conn.execute(
                "SELECT (SELECT COALESCE(SUM(requests), 0) FROM metrics_hourly), "
                "(SELECT COALESCE(SUM(analyses), 0) FROM analysis_hourly), "
                "(SELECT COALESCE(SUM(processing_ms_sum), 0) FROM analysis_hourly)"
            ).fetchall()
            assert totals == raw
            assert rollup_matches_heartbeats(conn)

    check()
    database = Database(path)
    await database.open()
    try:
        batch = [
            RequestRecord(NOW + k * 1000, kind, 200, 1.5, f"s{k}", "DE")
            for k, kind in enumerate(["page", "api", "page", "health", "static"] * 3)
        ]
        await database.transaction(lambda conn: write_batch(conn, batch))
        await database.transaction(lambda conn: write_batch(conn, batch[:4]))
        for k in range(5):

            async def add(conn, k=k):  # type: ignore[no-untyped-def]
                await count_analysis(conn, NOW + k * 900, "typical", 100.0 + k)

            await database.transaction(add)
        await asyncio.gather(*(heartbeat.beat(database, 60, now=NOW + k * 60) for k in range(9)))
    finally:
        await database.close()
    check()
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM metrics_hourly WHERE kind = 'api'")
        conn.execute("UPDATE analysis_hourly SET analyses = analyses + 2 WHERE hour = 1")
        conn.execute("DELETE FROM heartbeats WHERE ts % 120 = 0")
    check()
    migrate.downgrade(path, "0003_session_counts")
    migrate.upgrade(path)
    check()
