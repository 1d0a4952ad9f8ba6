"""Durable acks share syncs: the app's Replication monitor against a real Litestream."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.replication import config, litestream
from app.replication.monitor import NotDurable, Replication
from app.settings import Settings
from tests.replication.harness import BUCKET
from tests.support.moto_server import MotoServer


@pytest.fixture
def replicating(tmp_path: Path, own_moto: MotoServer) -> Iterator[Replication]:
    settings = Settings(
        data_dir=tmp_path,
        replica_url=f"s3://{BUCKET}/batching",
        aws_endpoint_url=own_moto.url,
        durable_writes=True,
    )
    paths = config.paths_for(settings)
    config.write(settings, paths)
    with sqlite3.connect(paths.database) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE t (x)")
    proc = subprocess.Popen(
        [litestream.binary(), "replicate", "-config", str(paths.config)],
        env=litestream.environment({**os.environ, **own_moto.env()}),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            litestream.control(paths.socket, "GET", "/info")
            break
        except litestream.ControlError:
            time.sleep(0.05)
    try:
        yield Replication(paths, replica_url=settings.replica_url, sync_interval=1.0, durable=True)
    finally:
        proc.terminate()
        proc.wait(10)


async def test_fifty_waiters_share_one_sync(replicating: Replication) -> None:
    await replicating.start()
    try:
        conn = sqlite3.connect(replicating.paths.database, isolation_level=None)
        conn.execute("INSERT INTO t VALUES (1)")
        conn.close()
        answers = await asyncio.gather(*(replicating.wait_durable() for _ in range(50)))
        assert replicating.durable_syncs == 1
        assert all(a["replicated_txid"] >= a["txid"] for a in answers)
        status = await replicating.status()
        assert status["ok"] and status["replicated_txid"] == status["local_txid"]
    finally:
        await replicating.stop()


async def test_a_waiter_arriving_during_a_sync_waits_for_the_next(
    replicating: Replication,
) -> None:
    await replicating.start()
    try:
        first = asyncio.ensure_future(replicating.wait_durable())
        await asyncio.sleep(0)  # the first sync is now under way
        second = asyncio.ensure_future(replicating.wait_durable())
        await asyncio.gather(first, second)
        assert replicating.durable_syncs == 2
    finally:
        await replicating.stop()


async def test_no_litestream_means_a_clear_refusal(tmp_path: Path) -> None:
    paths = config.LitestreamPaths(tmp_path / "x.db", tmp_path / "ls.yml", tmp_path / "no.sock")
    replication = Replication(paths, replica_url="s3://b/p", sync_interval=1.0, durable=True)
    await replication.start()
    try:
        with pytest.raises(NotDurable):
            await replication.wait_durable(2)
        status = await replication.status()
        assert status["ok"] is False and "control socket" in status["error"]
    finally:
        await replication.stop()
