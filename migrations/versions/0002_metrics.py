"""Usage metrics: raw request log, hourly/daily rollups, sessions, heartbeats.

The dashboard reads only the rollups (a few hundred rows per month), so it answers in
milliseconds however many requests were recorded; the raw log is kept for a limited time
(pruned by the app) to audit or rebuild the rollups.

Revision ID: 0002_metrics
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

revision = "0002_metrics"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # One row per answered HTTP request. No IP address, no path, no user agent: a request
    # class, its status and duration, an anonymous daily session hash and a country code.
    op.execute(
        """
        CREATE TABLE request_log (
            id INTEGER PRIMARY KEY,
            ts REAL NOT NULL,
            kind TEXT NOT NULL,
            status INTEGER NOT NULL,
            duration_ms REAL NOT NULL,
            session_hash TEXT,
            country TEXT NOT NULL DEFAULT 'unknown'
        )
        """
    )
    op.execute("CREATE INDEX ix_request_log_ts ON request_log (ts)")
    # hour = unix time // 3600; day = unix time // 86400 (UTC).
    op.execute(
        """
        CREATE TABLE metrics_hourly (
            hour INTEGER NOT NULL,
            kind TEXT NOT NULL,
            requests INTEGER NOT NULL DEFAULT 0,
            errors INTEGER NOT NULL DEFAULT 0,
            duration_ms_sum REAL NOT NULL DEFAULT 0,
            PRIMARY KEY (hour, kind)
        ) WITHOUT ROWID
        """
    )
    op.execute(
        """
        CREATE TABLE metrics_countries_daily (
            day INTEGER NOT NULL,
            country TEXT NOT NULL,
            requests INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (day, country)
        ) WITHOUT ROWID
        """
    )
    op.execute(
        """
        CREATE TABLE metrics_sessions_daily (
            day INTEGER NOT NULL,
            session_hash TEXT NOT NULL,
            PRIMARY KEY (day, session_hash)
        ) WITHOUT ROWID
        """
    )
    op.execute(
        """
        CREATE TABLE analysis_hourly (
            hour INTEGER PRIMARY KEY,
            analyses INTEGER NOT NULL DEFAULT 0,
            anomalous INTEGER NOT NULL DEFAULT 0,
            processing_ms_sum REAL NOT NULL DEFAULT 0
        )
        """
    )
    op.execute(
        """
        INSERT INTO analysis_hourly (hour, analyses, anomalous, processing_ms_sum)
        SELECT CAST(created_at / 3600 AS INTEGER), COUNT(*),
               SUM(verdict = 'anomalous'), SUM(processing_ms)
        FROM analyses WHERE source = 'upload' GROUP BY 1
        """
    )
    op.execute(
        """
        CREATE TABLE heartbeats (
            ts INTEGER PRIMARY KEY,
            interval_s INTEGER NOT NULL
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE heartbeats")
    op.execute("DROP TABLE analysis_hourly")
    op.execute("DROP TABLE metrics_sessions_daily")
    op.execute("DROP TABLE metrics_countries_daily")
    op.execute("DROP TABLE metrics_hourly")
    op.execute("DROP INDEX ix_request_log_ts")
    op.execute("DROP TABLE request_log")
