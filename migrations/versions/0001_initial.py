"""Initial schema: admin sessions, analyses, app settings.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Server-side session records: a signed cookie alone cannot be revoked (OWASP ASVS 7.4.1).
    op.execute(
        """
        CREATE TABLE admin_sessions (
            id TEXT PRIMARY KEY,
            created_at REAL NOT NULL,
            last_seen REAL NOT NULL,
            expires_at REAL NOT NULL,
            revoked_at REAL,
            csrf_token TEXT NOT NULL,
            client TEXT
        )
        """
    )
    op.execute("CREATE INDEX ix_admin_sessions_expires ON admin_sessions (expires_at)")
    op.execute(
        """
        CREATE TABLE analyses (
            id TEXT PRIMARY KEY,
            created_at REAL NOT NULL,
            source TEXT NOT NULL DEFAULT 'upload' CHECK (source IN ('upload', 'demo')),
            age_group TEXT NOT NULL,
            score REAL NOT NULL CHECK (score >= 0 AND score <= 1),
            verdict TEXT NOT NULL,
            threshold REAL NOT NULL,
            model_version TEXT NOT NULL,
            processing_ms REAL NOT NULL,
            width INTEGER NOT NULL,
            height INTEGER NOT NULL,
            drawing_key TEXT NOT NULL,
            heatmap_key TEXT NOT NULL,
            result_json TEXT NOT NULL,
            session_hash TEXT,
            country TEXT
        )
        """
    )
    op.execute("CREATE INDEX ix_analyses_created ON analyses (created_at)")
    op.execute("CREATE INDEX ix_analyses_verdict_created ON analyses (verdict, created_at)")
    op.execute(
        """
        CREATE TABLE app_settings (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            updated_at REAL NOT NULL
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE app_settings")
    op.execute("DROP INDEX ix_analyses_verdict_created")
    op.execute("DROP INDEX ix_analyses_created")
    op.execute("DROP TABLE analyses")
    op.execute("DROP INDEX ix_admin_sessions_expires")
    op.execute("DROP TABLE admin_sessions")
