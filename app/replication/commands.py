"""`crayon db restore` and `crayon db status`."""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.replication import config, litestream
from app.replication.config import LitestreamPaths
from app.settings import Settings


class CommandError(RuntimeError):
    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def _config_file(settings: Settings, paths: LitestreamPaths, workdir: Path) -> Path:
    """A Litestream config for this database: from the settings when CRAYON_REPLICA_URL is
    set, else the one the host's Litestream uses (CRAYON_LITESTREAM_CONFIG)."""
    if settings.replica_url:
        target = LitestreamPaths(paths.database, workdir / "litestream.yml", paths.socket)
        return config.write(settings, target)
    if paths.config.is_file():
        return paths.config
    raise CommandError(
        "No replica configured: set CRAYON_REPLICA_URL=s3://BUCKET/PREFIX "
        "(or CRAYON_LITESTREAM_CONFIG to the host's litestream.yml)."
    )


def live_holders(paths: LitestreamPaths) -> list[str]:
    """Why the database looks live (empty when it does not): the crayon lock, a Litestream
    answering on the socket, or processes with the database or its WAL open."""
    reasons: list[str] = []
    if paths.lock.exists():
        fd = os.open(paths.lock, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            reasons.append(f"a running crayon holds {paths.lock}")
        finally:
            os.close(fd)
    try:
        info = litestream.control(paths.socket, "GET", "/info", timeout=2.0)
        reasons.append(f"Litestream (pid {info.get('pid')}) answers on {paths.socket}")
    except litestream.ControlError:
        pass
    targets = {str(paths.database), f"{paths.database}-wal"}
    pids: set[str] = set()
    for pid in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not pid.isdigit() or pid == str(os.getpid()):
            continue
        try:
            for fd_name in os.listdir(f"/proc/{pid}/fd"):
                if os.readlink(f"/proc/{pid}/fd/{fd_name}") in targets:
                    pids.add(pid)
                    break
        except OSError:
            continue
    if pids:
        reasons.append("processes with the database open: " + ", ".join(sorted(pids, key=int)))
    return reasons


def _timestamp(text: str) -> str:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise CommandError(
            f"--timestamp {text!r}: use ISO 8601, e.g. 2026-05-01T12:00:00Z"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # a time without a zone is UTC
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def integrity(path: Path) -> str:
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        rows = conn.execute("PRAGMA integrity_check").fetchall()
    return "; ".join(str(r[0]) for r in rows)


def restore(
    settings: Settings,
    *,
    timestamp: str | None = None,
    output: Path | None = None,
    force: bool = False,
) -> dict[str, Any]:
    paths = config.paths_for(settings)
    target = (output or paths.database).absolute()
    if target == paths.database:
        holders = live_holders(paths)
        if holders and not force:
            raise CommandError(
                f"{target} is live ({'; '.join(holders)}). Restoring over it would lose the "
                "writes since the restore point and confuse Litestream. Stop the app first, or "
                "restore elsewhere with --output PATH; --force overwrites anyway.",
                3,
            )
    if target.exists() and not force:
        raise CommandError(f"{target} exists; use --force to replace it, or --output PATH.", 3)
    target.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="crayon-restore-") as work:
        cfg = _config_file(settings, paths, Path(work))
        staging = target.with_name(f".{target.name}.restore-{os.getpid()}")
        for leftover in (staging, Path(f"{staging}-wal"), Path(f"{staging}-shm")):
            leftover.unlink(missing_ok=True)
        cmd = [litestream.binary(settings), "restore", "-config", str(cfg), "-o", str(staging)]
        if timestamp:
            cmd += ["-timestamp", _timestamp(timestamp)]
        cmd.append(str(paths.database))
        done = subprocess.run(
            cmd, env=litestream.environment(), capture_output=True, text=True, check=False
        )
        if done.returncode != 0 or not staging.exists():
            staging.unlink(missing_ok=True)
            detail = (done.stderr or done.stdout).strip()[-800:]
            raise CommandError(f"litestream restore failed (exit {done.returncode}): {detail}", 1)
        verdict = integrity(staging)
        if verdict != "ok":
            staging.unlink(missing_ok=True)
            raise CommandError(f"the restored copy fails PRAGMA integrity_check: {verdict}", 1)
        if target.exists():
            for suffix in ("-wal", "-shm"):
                Path(f"{target}{suffix}").unlink(missing_ok=True)
            state = target.with_name(f".{target.name}-litestream")
            if state.exists():
                shutil.rmtree(state)
        os.replace(staging, target)
    with contextlib.closing(sqlite3.connect(f"file:{target}?mode=ro", uri=True)) as conn:
        try:
            revision = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.Error:
            revision = None
    return {
        "restored": str(target),
        "timestamp": _timestamp(timestamp) if timestamp else "latest",
        "bytes": target.stat().st_size,
        "seconds": round(time.monotonic() - started, 2),
        "integrity": "ok",
        "schema": revision[0] if revision else None,
    }


def replica_files(settings: Settings, paths: LitestreamPaths) -> list[dict[str, Any]]:
    """What the replica holds (`litestream ltx -level all`), one dict per file."""
    with tempfile.TemporaryDirectory(prefix="crayon-ltx-") as work:
        cfg = _config_file(settings, paths, Path(work))
        done = subprocess.run(
            [
                litestream.binary(settings),
                "ltx",
                "-config",
                str(cfg),
                "-level",
                "all",
                str(paths.database),
            ],
            env=litestream.environment(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    if done.returncode != 0:
        raise CommandError(
            f"litestream ltx failed: {(done.stderr or done.stdout).strip()[-500:]}", 1
        )
    return litestream.parse_ltx_listing(done.stdout)


def status(settings: Settings) -> dict[str, Any]:
    paths = config.paths_for(settings)
    body: dict[str, Any] = {
        "database": str(paths.database),
        "exists": paths.database.exists(),
        "bytes": paths.database.stat().st_size if paths.database.exists() else None,
        "local_txid": litestream.local_txid(paths.state_dir),
        "replica": settings.replica_url,
    }
    try:
        listing = litestream.control(paths.socket, "GET", "/list", timeout=3.0)
        mine = [d for d in listing.get("databases", []) if d.get("path") == str(paths.database)]
        body["litestream"] = mine[0] if mine else {"status": "not replicating this database"}
    except litestream.ControlError as exc:
        body["litestream"] = {"status": "not running", "detail": str(exc)}
    files = replica_files(settings, paths)
    if files:
        newest = max(files, key=lambda f: f["max_txid"])
        body["replica_txid"] = newest["max_txid"]
        body["replica_newest_file_at"] = newest["created"]
        body["replica_files"] = len(files)
        levels = sorted({f["level"] for f in files})
        body["replica_levels"] = levels
        l0 = [f for f in files if f["level"] == 0]
        if l0:
            body["point_in_time_from"] = min(f["created"] for f in l0)
    else:
        body["replica_txid"] = None
    body["restorable"] = litestream.chain_gap(files) or "yes"
    local, remote = body["local_txid"], body.get("replica_txid")
    if isinstance(local, int) and isinstance(remote, int):
        body["lag_txids"] = max(0, local - remote)
        created = body.get("replica_newest_file_at")
        if body["lag_txids"] and isinstance(created, str):
            newest_at = datetime.fromisoformat(created.replace("Z", "+00:00")).timestamp()
            body["lag_s"] = round(time.time() - newest_at, 1)
        else:
            body["lag_s"] = 0.0
    return body


def cmd_db_restore(args: argparse.Namespace, settings: Settings) -> int:
    try:
        result = restore(
            settings,
            timestamp=args.timestamp,
            output=Path(args.output) if args.output else None,
            force=args.force,
        )
    except (CommandError, config.ReplicationConfigError, litestream.LitestreamMissing) as exc:
        print(f"crayon: {exc}", file=sys.stderr)
        return exc.code if isinstance(exc, CommandError) else 2
    print(json.dumps(result, indent=2))
    return 0


def cmd_db_status(args: argparse.Namespace, settings: Settings) -> int:
    try:
        result = status(settings)
    except (CommandError, config.ReplicationConfigError, litestream.LitestreamMissing) as exc:
        print(f"crayon: {exc}", file=sys.stderr)
        return exc.code if isinstance(exc, CommandError) else 2
    print(json.dumps(result, indent=2))
    return 0


def add_parser(sub: Any) -> None:
    """`crayon db ...` subcommands (called from app/cli.py)."""
    db = sub.add_parser("db", help="the database's replica: restore and status")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    rst = db_sub.add_parser("restore", help="restore the database from its replica")
    rst.add_argument("--timestamp", help="point in time (ISO 8601, UTC if no zone)")
    rst.add_argument("--output", metavar="PATH", help="restore to PATH instead of the app's db")
    rst.add_argument("--force", action="store_true", help="replace an existing or live database")
    rst.set_defaults(handler=cmd_db_restore)
    st = db_sub.add_parser("status", help="replica position and lag")
    st.set_defaults(handler=cmd_db_status)
