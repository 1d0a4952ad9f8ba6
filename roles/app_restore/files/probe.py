# Facts about one SQLite file, as JSON: size, row counts, schema revision, and (on request)
# PRAGMA integrity_check. Opened read-only; "immutable" also skips the WAL and locks, so a
# spare copy gets no -wal/-shm beside it. Run by app_restore on the host as the app user.
import contextlib
import json
import os
import sqlite3
import sys

path, mode, check = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
tables = sys.argv[4:]
uri = f"file:{path}?mode=ro" + ("&immutable=1" if mode == "immutable" else "")
out = {"path": path, "bytes": os.path.getsize(path), "counts": {}}
with contextlib.closing(sqlite3.connect(uri, uri=True)) as conn:
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    for table in tables:
        if table in names:
            out["counts"][table] = conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
    out["schema"] = (
        conn.execute("SELECT version_num FROM alembic_version").fetchone()[0]
        if "alembic_version" in names
        else None
    )
    if check:
        rows = conn.execute("PRAGMA integrity_check").fetchall()
        out["integrity"] = "; ".join(str(r[0]) for r in rows)
print(json.dumps(out))
