"""`crayon serve --replicate`: the app as Litestream's child.

1. write Litestream's config from the settings (config.py);
2. refuse when another replicator already serves this database (its socket answers, or the
   database lock is held): two Litestreams on one replica corrupt it;
3. when the local database is missing, restore it from the replica first (a replica that
   cannot be read stops the start: starting empty would bury the replica's data);
4. run the migrations;
5. exec `litestream replicate -exec "<python> -m app.cli serve ..."`: Litestream replicates
   and runs the app as its child; SIGTERM stops the child, then Litestream does a final sync.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import logging
import os
import shlex
import shutil
import sqlite3
import subprocess
import sys
import time
import zipfile
from pathlib import Path

from app import migrate
from app.replication import config, litestream
from app.replication.config import LitestreamPaths
from app.settings import Settings

log = logging.getLogger("crayon.replication")

CHILD_MARK = "CRAYON_REPLICATED_CHILD"
DEFAULT_RESTORE_TIMEOUT = 300.0


class StartRefused(RuntimeError):
    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def wants_replication(args: argparse.Namespace, settings: Settings) -> bool:
    """--replicate, or CRAYON_REPLICA_URL without an external Litestream (its socket set)."""
    if settings.replicated_child:
        return False
    if getattr(args, "replicate", False):
        return True
    return bool(settings.replica_url) and not settings.litestream_socket


def before_serve(args: argparse.Namespace, settings: Settings) -> int | None:
    """Called first by `crayon serve`: None to serve here, or an exit code (exec never returns)."""
    if wants_replication(args, settings):
        try:
            run_replicated(args, settings)
        except (StartRefused, config.ReplicationConfigError, litestream.LitestreamMissing) as exc:
            code = exc.code if isinstance(exc, StartRefused) else 2
            print(f"crayon: not serving. {exc}", file=sys.stderr)
            return code
    if getattr(args, "migrate", False):
        migrate.upgrade(settings.database_path)
    return None


def take_lock(paths: LitestreamPaths) -> int:
    """An exclusive flock proves no other crayon uses the database; it is then downgraded to
    shared and kept open across exec, so Litestream and the app hold it while they run."""
    paths.lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(paths.lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise StartRefused(
            f"{paths.database} is in use by another crayon process (lock {paths.lock} held). "
            "Stop it first: two writers or two Litestreams on one database corrupt it.",
            3,
        ) from None
    fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    os.set_inheritable(fd, True)
    return fd


def refuse_running_replicator(paths: LitestreamPaths) -> None:
    try:
        litestream.control(paths.socket, "GET", "/info", timeout=2.0)
    except litestream.ControlError:
        if paths.socket.exists() or paths.socket.is_symlink():
            paths.socket.unlink()  # a stale socket left by a killed Litestream
        return
    raise StartRefused(
        f"a Litestream already answers on {paths.socket}: two replicators on one replica "
        "corrupt it. Stop it, or run without --replicate (CRAYON_LITESTREAM_SOCKET=that "
        "socket) to use it.",
        3,
    )


def clear_stale_state(paths: LitestreamPaths) -> None:
    """Without its database, a WAL, shm or Litestream state dir is garbage that would confuse
    the restored database: remove it."""
    for suffix in ("-wal", "-shm"):
        Path(f"{paths.database}{suffix}").unlink(missing_ok=True)
    if paths.state_dir.exists():
        shutil.rmtree(paths.state_dir)


def restore_if_missing(settings: Settings, paths: LitestreamPaths) -> bool:
    """Restore the database from the replica when the local file is missing. True if restored."""
    if paths.database.exists():
        return False
    clear_stale_state(paths)
    started = time.monotonic()
    cmd = [
        litestream.binary(settings),
        "restore",
        "-config",
        str(paths.config),
        "-if-db-not-exists",
        "-if-replica-exists",
        str(paths.database),
    ]
    try:
        done = subprocess.run(
            cmd,
            env=litestream.environment(),
            capture_output=True,
            text=True,
            timeout=settings.restore_timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise StartRefused(
            f"could not read the replica {settings.replica_url} within "
            f"{settings.restore_timeout:g} s "
            "(is S3 reachable?). Not starting with an empty database over a replica that may "
            "hold data; the start will be retried."
        ) from None
    if done.returncode != 0:
        raise StartRefused(
            f"restoring {paths.database} from {settings.replica_url} failed "
            f"(litestream exit {done.returncode}): {(done.stderr or done.stdout).strip()[-800:]}"
        )
    if not paths.database.exists():
        log.info("no replica yet: starting a new database", extra={"replica": settings.replica_url})
        return False
    with contextlib.closing(sqlite3.connect(paths.database)) as conn:
        verdict = conn.execute("PRAGMA quick_check").fetchone()[0]
    if verdict != "ok":
        raise StartRefused(f"the restored database fails its integrity check: {verdict}")
    log.info(
        "database restored from the replica",
        extra={
            "replica": settings.replica_url,
            "seconds": round(time.monotonic() - started, 2),
            "bytes": paths.database.stat().st_size,
        },
    )
    return True


def child_command(args: argparse.Namespace) -> list[str]:
    """This same program, as `serve`, run by Litestream."""
    main = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if main is not None and main.is_file() and zipfile.is_zipfile(main):
        cmd = [sys.executable, str(main.resolve()), "serve"]  # the shiv single-file build
    else:
        cmd = [sys.executable, "-m", "app.cli", "serve"]
    if getattr(args, "host", None):
        cmd += ["--host", args.host]
    if getattr(args, "port", None):
        cmd += ["--port", str(args.port)]
    bundle = os.environ.get("AWS_CA_BUNDLE")
    env_bin = shutil.which("env")
    if bundle and env_bin:
        # Litestream must not see AWS_CA_BUNDLE; the app's own AWS clients still should.
        cmd = [env_bin, f"AWS_CA_BUNDLE={bundle}", *cmd]
    return cmd


def run_replicated(args: argparse.Namespace, settings: Settings) -> None:
    paths = config.paths_for(settings)
    binary = litestream.binary(settings)
    config.write(settings, paths)
    lock_fd = take_lock(paths)
    refuse_running_replicator(paths)
    restore_if_missing(settings, paths)
    migrate.upgrade(paths.database)
    problem = migrate.pending_message(paths.database)
    if problem:
        raise StartRefused(problem, 2)
    env = litestream.environment()
    env[CHILD_MARK] = "1"
    env["CRAYON_LITESTREAM_SOCKET"] = str(paths.socket)
    env["CRAYON_LITESTREAM_CONFIG"] = str(paths.config)
    env["CRAYON_LITESTREAM_LOCK_FD"] = str(lock_fd)
    argv = [
        binary,
        "replicate",
        "-config",
        str(paths.config),
        "-exec",
        shlex.join(child_command(args)),
    ]
    log.info("exec litestream", extra={"argv": argv})
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(binary, argv, env)  # noqa: S606 - argv, no shell
