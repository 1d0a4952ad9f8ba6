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
from typing import Final

from app.db import Database

log = logging.getLogger("crayon.metrics")

DEFAULT_INTERVAL_S: Final = 60
#: A beat is expected this long after its slot starts (event loop and writer-lock slack).
GRACE_S: Final = 5.0


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
    db: Database, window_s: float, interval_s: int, now: float | None = None
) -> float | None:
    """Covered slots / expected slots in the window, in percent; None before the first beat."""
    now = now or time.time()
    first = await db.fetchval("SELECT MIN(ts) FROM heartbeats")
    if first is None:
        return None
    start = max(now - window_s, float(first))
    first_slot = math.ceil(start / interval_s)
    last_slot = math.floor((now - min(GRACE_S, interval_s / 2)) / interval_s)
    expected = last_slot - first_slot + 1
    if expected <= 0:
        return 100.0
    # Beats are written at slot starts (ts = k * interval, the primary key), so with one
    # interval a plain range count is exact and cheap; beats written under another interval
    # (the setting changed) are counted by the slot they fall in.
    covered = await db.fetchval(
        "SELECT (SELECT COUNT(*) FROM heartbeats WHERE ts >= :a AND ts <= :b "
        "AND interval_s = :i) + (SELECT COUNT(DISTINCT ts / :i) FROM heartbeats "
        "WHERE ts >= :a AND ts <= :b AND interval_s != :i)",
        {"a": first_slot * interval_s, "b": last_slot * interval_s, "i": interval_s},
    )
    return round(100.0 * min(int(covered or 0), expected) / expected, 3)
