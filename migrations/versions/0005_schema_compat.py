"""The oldest code a schema still serves: what a rolled-back release reads before starting.

ECS's circuit breaker rolls a failed deploy back to the previous image, which then starts on the
schema the newer release left. Each migration says whether it is `expand_only` (it only adds:
new tables, nullable or defaulted columns, indexes, triggers that keep new tables in step),
which older code cannot notice, or not (it renames, drops or changes what older code reads).
app/migrate.py writes into this one-row table, after every upgrade or downgrade, the revision
and the oldest revision whose code can run on it (walking back over expand-only migrations).
Older code that does not know the database's revision starts when it knows that oldest
revision as its own or an earlier one; otherwise it refuses with what to do.

Revision ID: 0005_schema_compat
Revises: 0004_dashboard_rollups
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0005_schema_compat"
down_revision = "0004_dashboard_rollups"
branch_labels = None
depends_on = None
# Adds a table nothing older reads.
expand_only = True


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE crayon_schema_compat (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            revision TEXT NOT NULL,
            oldest_code_revision TEXT NOT NULL
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE crayon_schema_compat")
