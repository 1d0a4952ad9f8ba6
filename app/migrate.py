"""Alembic, driven from code: the schema only ever changes through migrations/."""

from __future__ import annotations

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


def upgrade(database: Path, revision: str = "head") -> None:
    database.parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(database), revision)


def downgrade(database: Path, revision: str) -> None:
    command.downgrade(alembic_config(database), revision)


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
    script = ScriptDirectory.from_config(alembic_config(database))
    known = {rev.revision for rev in script.walk_revisions()}
    if current not in known:
        return (
            f"The database {database} is at revision {current}, which this code does not know "
            f"(code expects {head}): it was migrated by a newer release. Deploy that release "
            "or restore a matching database."
        )
    return (
        f"The database {database} is at revision {current}, behind the code ({head}). "
        "Run `crayon migrate` to apply the pending migrations."
    )
