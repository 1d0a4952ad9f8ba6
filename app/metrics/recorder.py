"""Batch request records in memory; flush them through the single writer about once a second.

Writing per request would put one SQLite transaction (and one WAL frame for Litestream to ship)
on every request's path. Instead `record()` only appends to a list (no I/O, no await), and
`flush()` writes the batch in one transaction: the raw rows plus the rollup increments
(`INSERT ... ON CONFLICT DO UPDATE`), so the rollups always equal the raw log. `flush()` is also
called before figures are read and at shutdown, so a reader never misses a finished request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import aiosqlite

from app.db import Database

log = logging.getLogger("crayon.metrics")

HOUR: Final = 3600
DAY: Final = 86400
#: Request classes that describe a visitor (health probes are not visitors).
VISITOR_KINDS: Final = frozenset({"page", "api", "events", "files", "static", "other"})
#: Records kept in memory at most while the database cannot be written.
MAX_PENDING: Final = 100_000


def classify(path: str) -> str:
    """The request class the metrics keep instead of the path (bounded cardinality)."""
    if path in ("/healthz", "/readyz"):
        return "health"
    if path.startswith("/static/"):
        return "static"
    if path.startswith("/files/"):
        return "files"
    if path == "/api/events":
        return "events"
    if path.startswith("/api/"):
        return "api"
    return "page"


@dataclass(frozen=True, slots=True)
class RequestRecord:
    ts: float
    kind: str
    status: int
    duration_ms: float
    session_hash: str | None
    country: str


class MetricsRecorder:
    def __init__(
        self,
        db: Database,
        *,
        flush_seconds: float = 1.0,
        raw_retention_days: int = 30,
    ) -> None:
        self.db = db
        self.flush_seconds = flush_seconds
        self.raw_retention_days = raw_retention_days
        self._pending: list[RequestRecord] = []
        self._flush_lock = asyncio.Lock()
        self._listeners: list[Callable[[], None]] = []
        self._last_prune = 0.0
        self.dropped = 0

    def on_flush(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def record(self, rec: RequestRecord) -> None:
        if len(self._pending) >= MAX_PENDING:
            self.dropped += 1
            return
        self._pending.append(rec)

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def flush(self) -> int:
        """Write every pending record; returns how many were written."""
        async with self._flush_lock:
            batch, self._pending = self._pending, []
            if not batch:
                return 0
            try:
                await self.db.transaction(lambda conn: write_batch(conn, batch))
            except Exception:
                log.exception(
                    "metrics flush failed; keeping %d records for the next try", len(batch)
                )
                self._pending = (batch + self._pending)[:MAX_PENDING]
                return 0
        for listener in self._listeners:
            listener()
        return len(batch)

    async def prune(self, now: float | None = None) -> None:
        cutoff = (now or time.time()) - self.raw_retention_days * DAY
        await self.db.execute_write("DELETE FROM request_log WHERE ts < ?", (cutoff,))

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.flush_seconds)
            await self.flush()
            if time.monotonic() - self._last_prune > HOUR:
                self._last_prune = time.monotonic()
                try:
                    await self.prune()
                except Exception:
                    log.exception("pruning the raw request log failed")


async def write_batch(conn: aiosqlite.Connection, batch: list[RequestRecord]) -> None:
    hourly: dict[tuple[int, str], list[float]] = defaultdict(lambda: [0, 0, 0.0])
    countries: dict[tuple[int, str], int] = defaultdict(int)
    sessions: set[tuple[int, str]] = set()
    for rec in batch:
        cell = hourly[(int(rec.ts // HOUR), rec.kind)]
        cell[0] += 1
        cell[1] += 1 if rec.status >= 500 else 0
        cell[2] += rec.duration_ms
        if rec.kind in VISITOR_KINDS:
            day = int(rec.ts // DAY)
            countries[(day, rec.country)] += 1
            if rec.session_hash:
                sessions.add((day, rec.session_hash))
    await conn.executemany(
        "INSERT INTO request_log (ts, kind, status, duration_ms, session_hash, country) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [(r.ts, r.kind, r.status, r.duration_ms, r.session_hash, r.country) for r in batch],
    )
    await conn.executemany(
        "INSERT INTO metrics_hourly (hour, kind, requests, errors, duration_ms_sum) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (hour, kind) DO UPDATE SET "
        "requests = requests + excluded.requests, errors = errors + excluded.errors, "
        "duration_ms_sum = duration_ms_sum + excluded.duration_ms_sum",
        [(h, k, int(v[0]), int(v[1]), v[2]) for (h, k), v in hourly.items()],
    )
    await conn.executemany(
        "INSERT INTO metrics_countries_daily (day, country, requests) VALUES (?, ?, ?) "
        "ON CONFLICT (day, country) DO UPDATE SET requests = requests + excluded.requests",
        [(d, c, n) for (d, c), n in countries.items()],
    )
    by_day: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for day, session in sorted(sessions):
        by_day[day].append((day, session))
    for day, pairs in by_day.items():
        before = conn.total_changes
        await conn.executemany(
            "INSERT OR IGNORE INTO metrics_sessions_daily (day, session_hash) VALUES (?, ?)",
            pairs,
        )
        new = conn.total_changes - before  # rows really inserted: sessions first seen now
        if new:
            await conn.execute(
                "INSERT INTO metrics_session_counts (day, sessions) VALUES (?, ?) "
                "ON CONFLICT (day) DO UPDATE SET sessions = sessions + excluded.sessions",
                (day, new),
            )
