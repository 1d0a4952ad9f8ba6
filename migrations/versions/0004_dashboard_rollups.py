"""Rollups that keep the dashboard's cost flat: heartbeats per hour, all-time totals.

With a month of heartbeats (43,200 rows) the 30-day uptime counted every heartbeat row, twice
(about 10 ms of the dashboard's 15 ms of SQL); and the all-time totals (requests, analyses)
summed every hourly rollup row ever written, a cost that grows with the age of the install.
Triggers keep the two new tables equal to their sources whatever writes them (the app, a
restore, a test's DELETE), in the writing statement's own transaction:

- `heartbeats_hourly`: beats per (hour, interval); uptime sums the whole hours of its window
  from here and counts raw heartbeats only in the two partial hours at the window's ends;
- `metrics_totals`: one row with the all-time requests, analyses and processing time.

Revision ID: 0004_dashboard_rollups
Revises: 0003_session_counts
Create Date: 2026-11-23
"""

from __future__ import annotations

from alembic import op

revision = "0004_dashboard_rollups"
down_revision = "0003_session_counts"
branch_labels = None
depends_on = None

_HEARTBEAT_ADD = (
    "INSERT INTO heartbeats_hourly (hour, interval_s, beats) "
    "VALUES (NEW.ts / 3600, NEW.interval_s, 1) "
    "ON CONFLICT (hour, interval_s) DO UPDATE SET beats = beats + 1;"
)
_HEARTBEAT_REMOVE = (
    "UPDATE heartbeats_hourly SET beats = beats - 1 "
    "WHERE hour = OLD.ts / 3600 AND interval_s = OLD.interval_s;"
)


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE heartbeats_hourly (
            hour INTEGER NOT NULL,
            interval_s INTEGER NOT NULL,
            beats INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (hour, interval_s)
        ) WITHOUT ROWID
        """
    )
    # heartbeats.ts is the INTEGER PRIMARY KEY, so ts / 3600 is an integer division.
    op.execute(
        "INSERT INTO heartbeats_hourly (hour, interval_s, beats) "
        "SELECT ts / 3600, interval_s, COUNT(*) FROM heartbeats GROUP BY 1, 2"
    )
    for name, event, body in (
        ("ai", "INSERT", _HEARTBEAT_ADD),
        ("ad", "DELETE", _HEARTBEAT_REMOVE),
        ("au", "UPDATE", f"{_HEARTBEAT_REMOVE} {_HEARTBEAT_ADD}"),
    ):
        op.execute(
            f"CREATE TRIGGER heartbeats_hourly_{name} AFTER {event} ON heartbeats BEGIN {body} END"
        )

    op.execute(
        """
        CREATE TABLE metrics_totals (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            requests INTEGER NOT NULL DEFAULT 0,
            analyses INTEGER NOT NULL DEFAULT 0,
            processing_ms_sum REAL NOT NULL DEFAULT 0
        )
        """
    )
    op.execute(
        """
        INSERT INTO metrics_totals (id, requests, analyses, processing_ms_sum) VALUES (
            1,
            (SELECT COALESCE(SUM(requests), 0) FROM metrics_hourly),
            (SELECT COALESCE(SUM(analyses), 0) FROM analysis_hourly),
            (SELECT COALESCE(SUM(processing_ms_sum), 0) FROM analysis_hourly)
        )
        """
    )
    for table, event, delta in (
        ("metrics_hourly", "INSERT", "requests = requests + NEW.requests"),
        ("metrics_hourly", "UPDATE", "requests = requests + (NEW.requests - OLD.requests)"),
        ("metrics_hourly", "DELETE", "requests = requests - OLD.requests"),
        (
            "analysis_hourly",
            "INSERT",
            "analyses = analyses + NEW.analyses, "
            "processing_ms_sum = processing_ms_sum + NEW.processing_ms_sum",
        ),
        (
            "analysis_hourly",
            "UPDATE",
            "analyses = analyses + (NEW.analyses - OLD.analyses), "
            "processing_ms_sum = processing_ms_sum "
            "+ (NEW.processing_ms_sum - OLD.processing_ms_sum)",
        ),
        (
            "analysis_hourly",
            "DELETE",
            "analyses = analyses - OLD.analyses, "
            "processing_ms_sum = processing_ms_sum - OLD.processing_ms_sum",
        ),
    ):
        op.execute(
            f"CREATE TRIGGER {table}_totals_{event[0].lower()} AFTER {event} ON {table} "
            f"BEGIN UPDATE metrics_totals SET {delta} WHERE id = 1; END"
        )


def downgrade() -> None:
    for table in ("metrics_hourly", "analysis_hourly"):
        for suffix in ("i", "u", "d"):
            op.execute(f"DROP TRIGGER {table}_totals_{suffix}")
    op.execute("DROP TABLE metrics_totals")
    for suffix in ("ai", "ad", "au"):
        op.execute(f"DROP TRIGGER heartbeats_hourly_{suffix}")
    op.execute("DROP TABLE heartbeats_hourly")
