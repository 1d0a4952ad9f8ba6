"""The replicated app as users run it: `crayon serve` with CRAYON_REPLICA_URL (Litestream as
the parent process, the app its child), a moto server of its own on loopback, real SQLite.

Used by the drills in this folder and by bench/replication.py.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import httpx

from app import migrate
from app.analysis.training import save_model
from app.storage.local import LocalStorage
from tests.pages.support import drawing_png, login, shared_model
from tests.support.moto_server import MotoServer, free_port, require_loopback

BIN = Path(sys.executable).parent
BUCKET = "crayon-replica-drill"
ADMIN_PASSWORD = "a-local-password-123"


def make_bucket(moto: MotoServer, bucket: str = BUCKET) -> None:
    require_loopback(moto.url)
    s3 = boto3.client(
        "s3",
        endpoint_url=moto.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    s3.create_bucket(Bucket=bucket)


def bucket_keys(moto: MotoServer, bucket: str = BUCKET) -> list[str]:
    s3 = boto3.client(
        "s3",
        endpoint_url=require_loopback(moto.url),
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys += [o["Key"] for o in page.get("Contents", [])]
    return keys


def children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as handle:
                found += [int(p) for p in handle.read().split()]
    except OSError:
        pass
    return found


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


@dataclass
class ReplicatedApp:
    data_dir: Path
    moto: MotoServer
    durable: bool = False
    extra_env: Mapping[str, str] = field(default_factory=dict)
    prefix: str = "db"
    endpoint: str | None = None  # e.g. an S3Link in front of moto
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))
    _admin: httpx.Client | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def db_path(self) -> Path:
        return self.data_dir / "crayon.db"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CRAYON_"))}
        env.update(self.moto.env())
        if self.endpoint:
            env["AWS_ENDPOINT_URL"] = env["AWS_URL"] = self.endpoint
        env.update(
            {
                "CRAYON_DATA_DIR": str(self.data_dir),
                "CRAYON_ADMIN_PASSWORD": ADMIN_PASSWORD,
                "CRAYON_REPLICA_URL": f"s3://{BUCKET}/{self.prefix}",
                "CRAYON_DURABLE_WRITES": "1" if self.durable else "0",
                "CRAYON_RESTORE_TIMEOUT": "60",
                "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
            }
        )
        env.update(self.extra_env)
        return env

    def prepare(self) -> None:
        """The model in local storage (files are not the database: they stay on disk)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        save_model(LocalStorage(self.data_dir / "files"), shared_model())

    def start(self, timeout: float = 60.0) -> ReplicatedApp:
        self.log_path = self.data_dir.parent / f"app-{self.port}-{int(time.time() * 1000)}.log"
        self.proc = subprocess.Popen(
            [str(BIN / "crayon"), "serve", "--port", str(self.port)],
            env=self.env(),
            stdout=open(self.log_path, "wb"),  # noqa: SIM115 - the child keeps it
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"crayon exited {self.proc.returncode}:\n{self.output()[-3000:]}"
                )
            try:
                if self.client.get(self.base + "/readyz").status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"crayon did not get ready in {timeout}s:\n{self.output()[-3000:]}")

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def pids(self) -> tuple[int, list[int]]:
        """(Litestream's pid, the app's pids): `crayon serve` exec'd Litestream in place."""
        assert self.proc is not None
        return self.proc.pid, children(self.proc.pid)

    def kill9(self) -> None:
        """Host loss, as far as one machine can play it: SIGKILL to Litestream and the app at
        the same instant; no final sync, no shutdown."""
        assert self.proc is not None
        litestream_pid, app_pids = self.pids()
        os.killpg(self.proc.pid, signal.SIGKILL)
        for pid in [litestream_pid, *app_pids]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while any(alive(p) for p in app_pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.proc = None

    def stop(self) -> int:
        if self.proc is None:
            return 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        finally:
            self.proc = None

    def lose_local_database(self) -> None:
        """The disk's database is gone: db, WAL, shm and Litestream's local state."""
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.db_path}{suffix}").unlink(missing_ok=True)
        shutil.rmtree(self.data_dir / ".crayon.db-litestream", ignore_errors=True)

    def upload(self, seed: int) -> httpx.Response:
        return self.client.post(
            self.base + "/api/analyses",
            files={"file": ("drawing.png", drawing_png(seed), "image/png")},
            data={"age_group": "6-8"},
        )

    def replication(self) -> dict[str, Any]:
        """The replication check's details (admin-only: /readyz/detail), logged in as needed."""
        if self._admin is None:
            self._admin = httpx.Client(base_url=self.base, timeout=10)
        answer = self._admin.get("/readyz/detail", follow_redirects=False)
        if answer.status_code in (302, 401):
            login(self._admin, ADMIN_PASSWORD)
            answer = self._admin.get("/readyz/detail", follow_redirects=False)
        rep: dict[str, Any] = answer.json()["checks"]["replication"]
        return rep

    def crayon(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "crayon"), *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def analysis_ids(db: Path) -> set[str]:
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        return {row[0] for row in conn.execute("SELECT id FROM analyses")}


def fresh_db(path: Path) -> None:
    migrate.upgrade(path)


class S3Link:
    """A TCP relay on loopback between the app/Litestream and moto, which a test can cut and
    restore: an S3 outage with S3's state kept (stopping moto would also wipe its buckets)."""

    def __init__(self, target_port: int) -> None:
        import socket
        import threading

        self._socket_mod = socket
        self._threading = threading
        self.target_port = target_port
        self.port = free_port()
        self.up = True
        self._conns: list[Any] = []
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", self.port))
        self._server.settimeout(0.2)
        self._closed = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            try:
                upstream = self._socket_mod.create_connection(("127.0.0.1", self.target_port), 2)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                self._threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, src: Any, dst: Any) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.close()

    def cut(self) -> None:
        self.up = False
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(self._socket_mod.SHUT_RDWR)
                conn.close()

    def restore(self) -> None:
        self.up = True

    def close(self) -> None:
        self._closed = True
        self.cut()
        self._server.close()
