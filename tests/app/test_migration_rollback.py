"""A rollback across a migration: the previous release starts on the schema the newer one left
when every migration in between is expand-only, and refuses, saying what to do, otherwise.

The newer release is a real second build of the code: a copy of app/ and migrations/ with one
more migration, run in its own interpreter process, as ECS would run the newer image."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app import migrate

ROOT = Path(__file__).resolve().parents[2]

NEWER = """
from alembic import op

revision = "0099_newer"
down_revision = "{head}"
branch_labels = None
depends_on = None
expand_only = {expand_only}


def upgrade() -> None:
    {body}


def downgrade() -> None:
    pass
"""


def newer_release(tmp_path: Path, *, expand_only: bool) -> Path:
    build = tmp_path / ("newer-expand" if expand_only else "newer-contract")
    shutil.copytree(ROOT / "app", build / "app", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(
        ROOT / "migrations", build / "migrations", ignore=shutil.ignore_patterns("__pycache__")
    )
    body = (
        'op.execute("ALTER TABLE analyses ADD COLUMN newer_note TEXT")'
        if expand_only
        else 'op.execute("ALTER TABLE analyses RENAME TO analyses_v2")'
    )
    (build / "migrations/versions/0099_newer.py").write_text(
        NEWER.format(head=migrate.head_revision(), expand_only=expand_only, body=body)
    )
    return build


def run(code_root: Path, db: Path, script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", script, str(db)],
        cwd=code_root,
        env={"PYTHONPATH": str(code_root), "PATH": str(Path(sys.executable).parent)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


MIGRATE = (
    "import sys; from pathlib import Path; from app import migrate;"
    " migrate.upgrade(Path(sys.argv[1]))"
)
CHECK = (
    "import sys; from pathlib import Path; from app import migrate;"
    " migrate.upgrade(Path(sys.argv[1])); print(migrate.pending_message(Path(sys.argv[1])))"
)


def test_the_oldest_code_walks_back_over_expand_only_migrations() -> None:
    head = migrate.head_revision()
    assert head == "0005_schema_compat"
    assert migrate.oldest_code_revision(head) == "0004_dashboard_rollups"
    assert migrate.oldest_code_revision("0004_dashboard_rollups") == "0004_dashboard_rollups"


@pytest.mark.parametrize("expand_only", [True, False])
def test_rolled_back_release_on_the_newer_schema(tmp_path: Path, expand_only: bool) -> None:
    db = tmp_path / "crayon.db"
    # The current release migrates first (the deploy before the one that fails).
    old = run(ROOT, db, CHECK)
    assert old.returncode == 0 and old.stdout.strip() == "None", old.stderr
    # The newer release migrates to its own head, then fails its health check: ECS rolls back.
    newer = newer_release(tmp_path, expand_only=expand_only)
    up = run(newer, db, MIGRATE)
    assert up.returncode == 0, up.stderr
    assert migrate.current_revision(db) == "0099_newer"
    recorded = migrate.recorded_compat(db)
    assert recorded is not None and recorded[0] == "0099_newer"
    # The old image starts again: `crayon serve --migrate` upgrades, then checks the schema.
    again = run(ROOT, db, CHECK)
    assert again.returncode == 0, again.stderr
    if expand_only:
        assert recorded[1] == migrate.head_revision() or recorded[1] == "0004_dashboard_rollups"
        assert again.stdout.strip() == "None"
        assert migrate.current_revision(db) == "0099_newer"  # nothing was undone
    else:
        assert recorded[1] == "0099_newer"
        message = again.stdout.strip()
        assert "migrated by a newer release" in message
        assert "need code at 0099_newer or newer" in message
        assert f"crayon migrate --downgrade {migrate.head_revision()}" in message
