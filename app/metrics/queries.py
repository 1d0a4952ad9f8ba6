"""Every figure the dashboard, `GET /api/metrics` and the live stream show, from the rollups.

Counts of analyses are rolling windows at hour granularity: "daily" is the current hour and the
23 before it, "weekly" the last 168 hours, "monthly" the last 720; so daily <= weekly <= monthly
<= total always holds. Analyses are the visitors' uploads (demo samples are not usage).
Unique sessions and countries are kept per UTC day: a window counts the days it spans
("24h" = today, "7d" = today and the 6 days before). The error rate is 5xx answers over all
answers except health probes. Uptime comes from heartbeats (see heartbeat.py).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Sequence
from typing import Any, Final

from app.db import Database
from app.metrics import heartbeat
from app.metrics.recorder import DAY, HOUR

WINDOWS: Final[dict[str, int]] = {"24h": DAY, "7d": 7 * DAY, "30d": 30 * DAY}
DEFAULT_WINDOW: Final = "24h"
_WINDOW_HOURS = {name: seconds // HOUR for name, seconds in WINDOWS.items()}


def window_name(raw: str | None) -> str:
    return raw if raw in WINDOWS else DEFAULT_WINDOW


async def usage_metrics(
    db: Database,
    *,
    window: str = DEFAULT_WINDOW,
    heartbeat_s: int = heartbeat.DEFAULT_INTERVAL_S,
    now: float | None = None,
) -> dict[str, Any]:
    """The seed's UsageMetrics and the dashboard's series, as one JSON-ready dict."""
    now = now or time.time()
    window = window_name(window)
    window_s = WINDOWS[window]
    wh = _WINDOW_HOURS[window]
    hour = int(now // HOUR)
    day = int(now // DAY)
    window_days = max(1, window_s // DAY)

    # Six statements, queued at once on the reader connection: its thread runs them back to
    # back (one hand-over each way per statement, no wait on the event loop in between).
    # Ranges only, on the rollups' primary keys: no statement reads more than the window's
    # rollup rows, and the all-time totals come from the one-row `metrics_totals`.
    day_start = day - window_days
    a_rows, r_rows, countries, daily_rows, hourly_rows, uptime = await asyncio.gather(
        _rows(db, _ANALYSES_SQL, {"h": hour, "wh": wh, "d": day_start}),
        _rows(db, _REQUESTS_SQL, {"since": hour - wh}),
        _rows(
            db,
            "SELECT country, SUM(requests) AS n FROM metrics_countries_daily WHERE day > ? "
            "GROUP BY country ORDER BY n DESC, country LIMIT 12",
            (day_start,),
        ),
        _rows(
            db,
            "SELECT hour / 24 AS d, SUM(analyses) AS n, SUM(processing_ms_sum) AS ms "
            "FROM analysis_hourly WHERE hour > ? GROUP BY d",
            (hour - 720,),
        ),
        _rows(
            db,
            "SELECT hour, SUM(requests) AS n, SUM(errors) AS e FROM metrics_hourly "
            "WHERE hour > ? AND kind != 'health' GROUP BY hour",
            (hour - 24,),
        ),
        _uptime(db, window_s, heartbeat_s, now),
    )
    a = a_rows[0]
    sessions = a["sessions"]
    r = next(row for row in r_rows if row["kind"] is None)
    by_kind = sorted((row for row in r_rows if row["kind"] is not None), key=lambda x: x["kind"])

    total = int(a["total"])
    win_n = int(a["win"])
    per_day = {int(row["d"]): int(row["n"]) for row in daily_rows}
    ms_per_day = {
        int(row["d"]): round(float(row["ms"]) / int(row["n"]), 1) if row["n"] else None
        for row in daily_rows
    }
    per_hour = {int(row["hour"]): (int(row["n"]), int(row["e"])) for row in hourly_rows}
    visitor_requests = int(r["win_visitor"])
    return {
        "generated_at": round(now, 3),
        "window": window,
        "total_analyses": total,
        "daily_analyses": int(a["daily"]),
        "weekly_analyses": int(a["weekly"]),
        "monthly_analyses": int(a["monthly"]),
        "window_analyses": win_n,
        "window_anomalous": int(a["win_anomalous"]),
        "average_processing_time": round(float(a["ms_total"]) / total, 2) if total else None,
        "window_average_processing_time": round(float(a["win_ms"]) / win_n, 2) if win_n else None,
        "unique_sessions": int(sessions or 0),
        "error_rate": round(int(r["win_errors"]) / visitor_requests, 6)
        if visitor_requests
        else 0.0,
        "errors": int(r["win_errors"]),
        "uptime_percentage": uptime,
        "geographic_distribution": {row["country"]: int(row["n"]) for row in countries},
        "total_requests": int(a["total_requests"]),
        "window_requests": int(r["n"]),
        "window_requests_by_kind": {row["kind"]: int(row["n"]) for row in by_kind},
        "average_response_ms": round(float(r["win_ms"]) / int(r["n"]), 2) if r["n"] else None,
        "series": {
            "analyses_per_day": [
                {"day": _iso_day(d), "count": per_day.get(d, 0), "avg_ms": ms_per_day.get(d)}
                for d in range(day - 29, day + 1)
            ],
            "requests_per_hour": [
                {
                    "hour": _iso_hour(h),
                    "count": per_hour.get(h, (0, 0))[0],
                    "errors": per_hour.get(h, (0, 0))[1],
                }
                for h in range(hour - 23, hour + 1)
            ],
        },
    }


#: Analyses: all-time totals (rollup kept by triggers, migration 0004) and the rolling windows,
#: which all lie within the last 720 hours; plus the window's unique sessions and the first
#: heartbeat ever (uptime's start).
_ANALYSES_SQL: Final = """
SELECT (SELECT analyses FROM metrics_totals WHERE id = 1) AS total,
       (SELECT processing_ms_sum FROM metrics_totals WHERE id = 1) AS ms_total,
       (SELECT requests FROM metrics_totals WHERE id = 1) AS total_requests,
       (SELECT SUM(sessions) FROM metrics_session_counts WHERE day > :d) AS sessions,
       COALESCE(SUM(CASE WHEN hour > :h - 24 THEN analyses END), 0) AS daily,
       COALESCE(SUM(CASE WHEN hour > :h - 168 THEN analyses END), 0) AS weekly,
       COALESCE(SUM(analyses), 0) AS monthly,
       COALESCE(SUM(CASE WHEN hour > :h - :wh THEN analyses END), 0) AS win,
       COALESCE(SUM(CASE WHEN hour > :h - :wh THEN anomalous END), 0) AS win_anomalous,
       COALESCE(SUM(CASE WHEN hour > :h - :wh THEN processing_ms_sum END), 0) AS win_ms
FROM analysis_hourly WHERE hour > :h - 720
"""

#: Requests in the window: one row per kind, then one row (kind NULL) with the window's totals.
_REQUESTS_SQL: Final = """
SELECT kind, SUM(requests) AS n, NULL AS win_visitor, NULL AS win_errors, NULL AS win_ms
FROM metrics_hourly WHERE hour > :since GROUP BY kind
UNION ALL
SELECT NULL, COALESCE(SUM(requests), 0),
       COALESCE(SUM(CASE WHEN kind != 'health' THEN requests END), 0),
       COALESCE(SUM(CASE WHEN kind != 'health' THEN errors END), 0),
       COALESCE(SUM(duration_ms_sum), 0)
FROM metrics_hourly WHERE hour > :since
"""


async def _rows(
    db: Database, sql: str, params: Sequence[Any] | dict[str, Any]
) -> list[sqlite3.Row]:
    """One statement, executed and fetched in a single trip to the reader's thread."""
    return list(await db.reader.execute_fetchall(sql, params))


async def _uptime(db: Database, window_s: int, heartbeat_s: int, now: float) -> float | None:
    rows = await _rows(db, "SELECT MIN(ts) FROM heartbeats", ())
    return await heartbeat.uptime_percent(db, window_s, heartbeat_s, now=now, first_beat=rows[0][0])


async def naive_request_metrics(
    db: Database, *, window: str = DEFAULT_WINDOW, now: float | None = None
) -> dict[str, Any]:
    """The request figures computed straight from the raw log: the benchmark's baseline."""
    now = now or time.time()
    window_s = WINDOWS[window_name(window)]
    start = now - window_s
    row = await db.fetchone(
        "SELECT COUNT(*) AS total, "
        "SUM(CASE WHEN ts > :s THEN 1 ELSE 0 END) AS win, "
        "SUM(CASE WHEN ts > :s AND kind != 'health' AND status >= 500 THEN 1 ELSE 0 END) AS e, "
        "SUM(CASE WHEN ts > :s AND kind != 'health' THEN 1 ELSE 0 END) AS v "
        "FROM request_log",
        {"s": start},
    )
    assert row is not None
    sessions = await db.fetchval(
        "SELECT COUNT(*) FROM (SELECT DISTINCT CAST(ts / 86400 AS INTEGER), session_hash "
        "FROM request_log WHERE ts > ? AND session_hash IS NOT NULL)",
        (start,),
    )
    countries = await db.fetchall(
        "SELECT country, COUNT(*) AS n FROM request_log WHERE ts > ? AND kind != 'health' "
        "GROUP BY country ORDER BY n DESC LIMIT 12",
        (start,),
    )
    return {
        "total_requests": int(row["total"]),
        "window_requests": int(row["win"] or 0),
        "error_rate": (int(row["e"] or 0) / int(row["v"])) if row["v"] else 0.0,
        "unique_sessions": int(sessions or 0),
        "geographic_distribution": {c["country"]: int(c["n"]) for c in countries},
    }


def _iso_day(day: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(day * DAY))


def _iso_hour(hour: int) -> str:
    return time.strftime("%Y-%m-%dT%H:00Z", time.gmtime(hour * HOUR))
