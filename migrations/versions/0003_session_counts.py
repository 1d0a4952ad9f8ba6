"""Per-day count of unique sessions, so the dashboard never counts session rows.

With a million requests a month the per-day session table holds up to a million rows;
counting them took ~150 ms. The recorder now adds each batch's new sessions to this
one-row-per-day table (same transaction), and the dashboard sums at most 30 rows.

Revision ID: 0003_session_counts
Revises: 0002_metrics
Create Date: 2026-11-23
"""

from __future__ import annotations

from alembic import op

revision = "0003_session_counts"
down_revision = "0002_metrics"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE metrics_session_counts (
            day INTEGER PRIMARY KEY,
            sessions INTEGER NOT NULL DEFAULT 0
        )
        """
    )
    op.execute(
        "INSERT INTO metrics_session_counts (day, sessions) "
        "SELECT day, COUNT(*) FROM metrics_sessions_daily GROUP BY day"
    )


def downgrade() -> None:
    op.execute("DROP TABLE metrics_session_counts")
