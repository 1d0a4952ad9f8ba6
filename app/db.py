"""SQLite through aiosqlite: one writer connection, one reader, WAL mode.

SQLite allows one writer at a time. Like Datasette, every write goes through a single
dedicated connection guarded by a lock, so writers queue in the app instead of failing with
"database is locked"; reads use their own connection and, thanks to WAL, never wait on a write.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

T = TypeVar("T")

Params = Sequence[Any] | dict[str, Any]


def _configure(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA journal_mode=WAL")
    # NORMAL is durable across application crashes in WAL mode; Litestream ships the WAL
    # continuously, which is what protects against losing the host.
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=5000")


def connect_sync(path: Path) -> sqlite3.Connection:
    """A plain sqlite3 connection with the app's pragmas (for the CLI and migrations)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    _configure(conn)
    return conn


class Database:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = await aiosqlite.connect(self.path, isolation_level=None)
        await self._writer.execute("PRAGMA journal_mode=WAL")
        for conn_pragma in ("synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=5000"):
            await self._writer.execute(f"PRAGMA {conn_pragma}")
        self._reader = await aiosqlite.connect(self.path, isolation_level=None)
        for conn_pragma in ("foreign_keys=ON", "busy_timeout=5000", "query_only=ON"):
            await self._reader.execute(f"PRAGMA {conn_pragma}")
        self._writer.row_factory = aiosqlite.Row
        self._reader.row_factory = aiosqlite.Row

    async def close(self) -> None:
        for conn in (self._reader, self._writer):
            if conn is not None:
                await conn.close()
        self._reader = self._writer = None

    @property
    def writer(self) -> aiosqlite.Connection:
        if self._writer is None:
            raise RuntimeError("Database is not open")
        return self._writer

    @property
    def reader(self) -> aiosqlite.Connection:
        if self._reader is None:
            raise RuntimeError("Database is not open")
        return self._reader

    async def execute_write(self, sql: str, params: Params = ()) -> int:
        """Run one write statement in its own transaction; returns lastrowid."""
        async with self._write_lock:
            cursor = await self.writer.execute(sql, params)
            return cursor.lastrowid or 0

    async def execute_write_many(self, sql: str, rows: Iterable[Params]) -> None:
        async with self._write_lock:
            await self.writer.execute("BEGIN IMMEDIATE")
            try:
                await self.writer.executemany(sql, rows)
            except BaseException:
                await self.writer.execute("ROLLBACK")
                raise
            await self.writer.execute("COMMIT")

    async def transaction(self, fn: Callable[[aiosqlite.Connection], Awaitable[T]]) -> T:
        """Run `fn` on the writer inside one IMMEDIATE transaction, rolled back on error."""
        async with self._write_lock:
            await self.writer.execute("BEGIN IMMEDIATE")
            try:
                result = await fn(self.writer)
            except BaseException:
                await self.writer.execute("ROLLBACK")
                raise
            await self.writer.execute("COMMIT")
            return result

    async def fetchall(self, sql: str, params: Params = ()) -> list[aiosqlite.Row]:
        cursor = await self.reader.execute(sql, params)
        return list(await cursor.fetchall())

    async def fetchone(self, sql: str, params: Params = ()) -> aiosqlite.Row | None:
        cursor = await self.reader.execute(sql, params)
        return await cursor.fetchone()

    async def fetchval(self, sql: str, params: Params = ()) -> Any:
        row = await self.fetchone(sql, params)
        return None if row is None else row[0]
