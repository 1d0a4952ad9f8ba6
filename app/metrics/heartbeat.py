"""Heartbeats: the app's own record of being up, one row per interval.

A beat for slot k (the interval [k*I, (k+1)*I)) is written shortly after the slot starts, with
ts = k*I. Uptime over a window is the share of the slots that should have a beat by now (since
the window start, or since the first beat ever) that have one: a minute the process was down,
hung or could not write to its database is a minute without a beat.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from typing import Final, Literal

from app.db import Database

log = logging.getLogger("crayon.metrics")

DEFAULT_INTERVAL_S: Final = 60
#: A beat is expected this long after its slot starts (event loop and writer-lock slack).
GRACE_S: Final = 5.0
HOUR: Final = 3600


async def beat(db: Database, interval_s: int, now: float | None = None) -> int:
    slot_start = int((now or time.time()) // interval_s) * interval_s
    await db.execute_write(
        "INSERT OR IGNORE INTO heartbeats (ts, interval_s) VALUES (?, ?)", (slot_start, interval_s)
    )
    return slot_start


async def run(db: Database, interval_s: int) -> None:
    while True:
        slot_start = int(time.time() // interval_s) * interval_s
        try:
            await beat(db, interval_s, now=slot_start)
        except Exception:
            log.exception("heartbeat write failed")
        # Sleep until just after the next slot starts, counted from the slot just written (a
        # slow write must not make the loop skip a slot).
        await asyncio.sleep(max(0.0, slot_start + interval_s - time.time() + 0.2))


async def uptime_percent(
    db: Database,
    window_s: float,
    interval_s: int,
    now: float | None = None,
    *,
    first_beat: float | Literal["unknown"] | None = "unknown",
) -> float | None:
    """Covered slots / expected slots in the window, in percent; None before the first beat.

    `first_beat` is `MIN(heartbeats.ts)` when the caller already read it (the dashboard reads
    it in its first query), else it is read here.
    """
    now = now or time.time()
    first = (
        await db.fetchval("SELECT MIN(ts) FROM heartbeats")
        if first_beat == "unknown"
        else first_beat
    )
    if first is None:
        return None
    start = max(now - window_s, float(first))
    first_slot = math.ceil(start / interval_s)
    last_slot = math.floor((now - min(GRACE_S, interval_s / 2)) / interval_s)
    expected = last_slot - first_slot + 1
    if expected <= 0:
        return 100.0
    rows = await db.reader.execute_fetchall(
        COVERED_SQL, covered_params(first_slot * interval_s, last_slot * interval_s, interval_s)
    )
    covered = next(iter(rows))[0]
    return round(100.0 * min(int(covered or 0), expected) / expected, 3)


#: Beats in [a, b]: whole hours from the `heartbeats_hourly` rollup (migration 0004, kept by
#: triggers), raw rows only in the partial hours at both ends ([a, e1) and [e2, b]). Beats are
#: written at slot starts (ts = k * interval, the primary key), so with one interval a count is
#: exact; beats written under another interval (the setting changed) are counted by the slot
#: they fall in, from the raw rows, and only when the rollup shows there are any.
COVERED_SQL: Final = """
SELECT (SELECT COALESCE(SUM(beats), 0) FROM heartbeats_hourly
         WHERE hour >= :h1 AND hour <= :h2 AND interval_s = :i)
     + (SELECT COUNT(*) FROM heartbeats WHERE ts >= :a AND ts < :e1 AND interval_s = :i)
     + (SELECT COUNT(*) FROM heartbeats WHERE ts >= :e2 AND ts <= :b AND interval_s = :i)
     + CASE WHEN EXISTS (SELECT 1 FROM heartbeats_hourly
                          WHERE hour >= :a / 3600 AND hour <= :b / 3600
                            AND interval_s != :i AND beats > 0)
            THEN (SELECT COUNT(DISTINCT ts / :i) FROM heartbeats
                   WHERE ts >= :a AND ts <= :b AND interval_s != :i)
            ELSE 0 END
"""


def covered_params(a: int, b: int, interval_s: int) -> dict[str, int]:
    """COVERED_SQL's parameters for the slots starting in [a, b] (unix seconds, integers)."""
    h1 = -(-a // HOUR)  # the first hour that starts at or after a
    h2 = (b + 1) // HOUR - 1  # the last hour that ends at or before b
    if h1 > h2:  # no whole hour inside: count [a, b] from the raw rows
        return {"a": a, "b": b, "i": interval_s, "h1": 1, "h2": 0, "e1": b + 1, "e2": b + 1}
    return {
        "a": a,
        "b": b,
        "i": interval_s,
        "h1": h1,
        "h2": h2,
        "e1": h1 * HOUR,
        "e2": (h2 + 1) * HOUR,
    }
