"""Alembic on a real SQLite file: upgrade, downgrade, upgrade; serving refuses a stale schema."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from app import migrate
from app.db import Database

CRAYON = str(Path(sys.executable).with_name("crayon"))


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as db:
        return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def test_upgrade_downgrade_upgrade_on_a_real_file(tmp_path: Path) -> None:
    db = tmp_path / "crayon.db"
    head = migrate.head_revision()
    migrate.upgrade(db)
    assert migrate.current_revision(db) == head
    full = _tables(db)
    assert {"admin_sessions", "analyses", "app_settings", "alembic_version"} <= full
    with sqlite3.connect(db) as conn:
        conn.execute(
            "INSERT INTO admin_sessions (id, created_at, last_seen, expires_at, csrf_token)"
            " VALUES ('x', 1, 1, 2, 't')"
        )
    migrate.downgrade(db, "base")
    assert migrate.current_revision(db) is None
    assert _tables(db) <= {"alembic_version"}
    migrate.upgrade(db)
    assert migrate.current_revision(db) == head
    assert _tables(db) == full
    assert migrate.pending_message(db) is None


def test_each_step_downgrades_cleanly(tmp_path: Path) -> None:
    db = tmp_path / "crayon.db"
    migrate.upgrade(db)
    script = migrate.ScriptDirectory.from_config(migrate.alembic_config(db))
    revisions = [r.revision for r in script.walk_revisions()]  # head first
    for older in [*revisions[1:], "base"]:
        migrate.downgrade(db, older)
        assert migrate.current_revision(db) == (None if older == "base" else older)
    migrate.upgrade(db)
    assert migrate.current_revision(db) == migrate.head_revision()


async def test_the_app_database_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "crayon.db"
    migrate.upgrade(path)
    db = Database(path)
    await db.open()
    try:
        assert await db.fetchval("PRAGMA journal_mode") == "wal"
    finally:
        await db.close()


def _serve(data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRAYON_", "AWS_"))}
    env.update({"CRAYON_DATA_DIR": str(data_dir), "CRAYON_PORT": "1"})
    return subprocess.run(
        [CRAYON, "serve"],
        cwd=data_dir.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("prepare", "words"),
    [
        ("none", "has no schema yet"),
        ("behind", "behind the code"),
        ("ahead", "this code does not know"),
    ],
)
def test_crayon_serve_refuses_a_database_that_does_not_match_the_code(
    tmp_path: Path, prepare: str, words: str
) -> None:
    data = tmp_path / "data"
    db = data / "crayon.db"
    if prepare == "behind":
        script = migrate.ScriptDirectory.from_config(migrate.alembic_config(db))
        first = [r.revision for r in script.walk_revisions()][-1]
        assert first != migrate.head_revision(), "needs at least two migrations"
        migrate.upgrade(db, first)
    elif prepare == "ahead":
        migrate.upgrade(db)
        with sqlite3.connect(db) as conn:
            conn.execute("UPDATE alembic_version SET version_num = '9999_future'")
    result = _serve(data)
    assert result.returncode == 2
    assert "crayon: not serving." in result.stderr and words in result.stderr
    if prepare != "ahead":
        assert "crayon migrate" in result.stderr
    assert "Traceback" not in result.stderr
