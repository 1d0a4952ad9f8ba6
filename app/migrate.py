"""Alembic, driven from code: the schema only ever changes through migrations/."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

import migrations


def alembic_config(database: Path) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(migrations.__file__).parent))
    cfg.set_main_option("sqlalchemy.url", f"sqlite:///{database}")
    return cfg


def head_revision() -> str:
    script = ScriptDirectory.from_config(alembic_config(Path("unused.db")))
    heads = script.get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"migrations have {len(heads)} heads {heads}; merge them first")
    return heads[0]


def current_revision(database: Path) -> str | None:
    if not database.exists():
        return None
    engine = create_engine(f"sqlite:///{database}")
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def _script(database: Path) -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config(database))


def oldest_code_revision(revision: str, database: Path = Path("unused.db")) -> str:
    """The oldest revision whose code runs on `revision`'s schema: walk back over the
    migrations marked `expand_only = True` (additive: older code cannot notice them)."""
    script = _script(database)
    rev = script.get_revision(revision)
    while rev is not None and getattr(rev.module, "expand_only", False) and rev.down_revision:
        rev = script.get_revision(str(rev.down_revision))
    return str(rev.revision) if rev is not None else revision


def _record_compat(database: Path) -> None:
    """Write the revision and its oldest compatible code into crayon_schema_compat (0005+)."""
    current = current_revision(database)
    if current is None:
        return
    with sqlite3.connect(database) as conn:
        has_table = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'crayon_schema_compat'"
        ).fetchone()
        if has_table:
            conn.execute(
                "INSERT OR REPLACE INTO crayon_schema_compat (id, revision, oldest_code_revision)"
                " VALUES (1, ?, ?)",
                (current, oldest_code_revision(current, database)),
            )
    conn.close()


def recorded_compat(database: Path) -> tuple[str, str] | None:
    """(revision, oldest code revision) as the newest release that migrated wrote them."""
    if not database.exists():
        return None
    with sqlite3.connect(database) as conn:
        try:
            row = conn.execute(
                "SELECT revision, oldest_code_revision FROM crayon_schema_compat WHERE id = 1"
            ).fetchone()
        except sqlite3.OperationalError:
            row = None
    conn.close()
    return (str(row[0]), str(row[1])) if row else None


def ahead_but_compatible(database: Path) -> bool:
    """The database is at a revision this code does not know, left by a newer release whose
    migrations since this code's head are all expand-only: this code may run on it."""
    current = current_revision(database)
    script = _script(database)
    known = {rev.revision for rev in script.walk_revisions()}
    if current is None or current in known:
        return False
    compat = recorded_compat(database)
    return compat is not None and compat[0] == current and compat[1] in known


def upgrade(database: Path, revision: str = "head") -> None:
    database.parent.mkdir(parents=True, exist_ok=True)
    current = current_revision(database)
    if current is not None and current not in {
        r.revision for r in _script(database).walk_revisions()
    }:
        # Migrated by a newer release (a rollback): nothing here to apply. pending_message says
        # whether this code may run on it (every newer migration expand-only) or what to do.
        return
    command.upgrade(alembic_config(database), revision)
    _record_compat(database)


def downgrade(database: Path, revision: str) -> None:
    command.downgrade(alembic_config(database), revision)
    _record_compat(database)


def pending_message(database: Path) -> str | None:
    """None when the database is at head; otherwise what is wrong and what to run."""
    current = current_revision(database)
    head = head_revision()
    if current == head:
        return None
    if current is None:
        return (
            f"The database {database} has no schema yet (code expects {head}). "
            "Run `crayon migrate` first."
        )
    script = _script(database)
    known = {rev.revision for rev in script.walk_revisions()}
    if current not in known:
        if ahead_but_compatible(database):
            return None  # newer, but every migration since this code's head only adds
        compat = recorded_compat(database)
        why = (
            f"its migrations since this code need code at {compat[1]} or newer"
            if compat and compat[0] == current
            else "it records no compatibility with older code"
        )
        return (
            f"The database {database} is at revision {current}, which this code does not know "
            f"(code expects {head}): it was migrated by a newer release, and {why}. Deploy that "
            "release again (or a newer one), or run its `crayon migrate --downgrade "
            f"{head}` before starting this one, or restore a matching database."
        )
    return (
        f"The database {database} is at revision {current}, behind the code ({head}). "
        "Run `crayon migrate` to apply the pending migrations."
    )
