"""The app's view of replication: status for /readyz and /config, alarms, durable acks.

Litestream runs outside the app (its parent under `crayon serve --replicate`, or its own
systemd unit on a host). The app talks to it only through its control socket:
- a poll every few seconds (GET /list) records when Litestream last synced; when no sync has
  succeeded for `stale_after` seconds, replication is failing: that is logged (JSON) and sent
  as the EMF metric `ReplicationErrors` (so the CloudWatch alarm fires), and /readyz says so;
- `wait_durable()` asks Litestream to ship what is committed and waits until the replica has
  it (POST /sync with wait). Concurrent callers share one sync: a request that arrives while a
  sync is running joins the next one, which starts as soon as the running one ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import IO, Any

from app.metrics import emf
from app.replication import litestream
from app.replication.config import LitestreamPaths, parse_duration, paths_for
from app.settings import Settings

log = logging.getLogger("crayon.replication")

POLL_SECONDS = 2.0
VERIFY_SECONDS = 300.0
REALERT_SECONDS = 60.0
DEFAULT_DURABLE_TIMEOUT = 10.0


class NotDurable(RuntimeError):
    """A committed write could not be confirmed on the replica in time."""


def _parse_time(text: object) -> float | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        # Go prints nanoseconds; Python takes at most microseconds.
        head, dot, frac = text.rstrip("Z").partition(".")
        value = head + (("." + frac[:6]) if dot else "")
        return datetime.fromisoformat(value).replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


class Replication:
    def __init__(
        self,
        paths: LitestreamPaths,
        *,
        replica_url: str | None,
        sync_interval: float,
        durable: bool,
        durable_timeout: float = DEFAULT_DURABLE_TIMEOUT,
        stale_after: float | None = None,
        poll_seconds: float = POLL_SECONDS,
        verify_seconds: float = VERIFY_SECONDS,
        binary: str | None = None,
    ) -> None:
        self.paths = paths
        self.replica_url = replica_url
        self.sync_interval = sync_interval
        self.durable = durable
        self.durable_timeout = durable_timeout
        self.stale_after = stale_after or max(10.0, 5 * sync_interval)
        self.poll_seconds = poll_seconds
        self.verify_seconds = verify_seconds
        self.binary = binary
        self.replica_check: str | None = None
        self.replica_checked_at: float | None = None
        self.replica_broken: str | None = None
        self.started = time.time()
        self.last_sync_at: float | None = None
        self.litestream_state: str | None = None
        self.reachable = False
        self.failing_since: float | None = None
        self.last_error: str | None = None
        self.error_count = 0
        self._last_alert = 0.0
        self._alerted_kind = ""
        self.replicated_txid: int | None = None
        self.durable_syncs = 0
        self.durable_waiters = 0
        self._waiters: list[asyncio.Future[dict[str, Any]]] = []
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        await self.poll_once()
        self._tasks = [
            asyncio.create_task(self._poll_forever(), name="replication-poll"),
            asyncio.create_task(self._sync_loop(), name="replication-durable"),
        ]
        if self.verify_seconds > 0 and self.binary and self.paths.config.is_file():
            self._tasks.append(asyncio.create_task(self._verify_forever(), name="replica-verify"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for fut in self._waiters:
            if not fut.done():
                fut.set_exception(NotDurable("the app is stopping"))
        self._waiters.clear()

    # -- status ------------------------------------------------------------------------------
    async def _poll_forever(self) -> None:
        while True:
            await asyncio.sleep(self.poll_seconds)
            try:
                await self.poll_once()
            except Exception:  # the monitor must outlive any surprise
                log.exception("replication poll failed")

    async def poll_once(self) -> None:
        now = time.time()
        try:
            answer = await asyncio.to_thread(
                litestream.control, self.paths.socket, "GET", "/list", None, 3.0
            )
        except litestream.ControlError as exc:
            self.reachable = False
            self._problem(now, f"Litestream is not answering: {exc}")
            return
        self.reachable = True
        mine = None
        for entry in answer.get("databases") or []:
            if isinstance(entry, dict) and str(entry.get("path")) == str(self.paths.database):
                mine = entry
        if mine is None:
            self._problem(now, f"Litestream does not replicate {self.paths.database}")
            return
        self.litestream_state = str(mine.get("status"))
        synced = _parse_time(mine.get("last_sync_at"))
        if synced is not None:
            self.last_sync_at = synced
        reference = self.last_sync_at or self.started
        age = now - reference
        if self.litestream_state != "replicating":
            self._problem(now, f"Litestream reports {self.litestream_state!r}")
        elif age > self.stale_after:
            self._problem(
                now,
                f"no successful sync to the replica for {age:.0f} s "
                f"(sync interval {self.sync_interval:g} s)",
            )
        elif self.replica_broken:
            self._problem(now, f"the replica is not restorable: {self.replica_broken}")
        else:
            self._healthy(now)

    async def _verify_forever(self) -> None:
        while True:
            await asyncio.sleep(self.verify_seconds)
            try:
                await self.verify_replica()
            except Exception:
                log.exception("replica verification failed to run")

    async def verify_replica(self) -> str | None:
        """List the replica's files (a few S3 LIST requests) and check that they still form a
        restorable chain. Returns the problem, or None."""
        assert self.binary is not None
        proc = await asyncio.create_subprocess_exec(
            self.binary,
            "ltx",
            "-config",
            str(self.paths.config),
            "-level",
            "all",
            str(self.paths.database),
            env=litestream.environment(),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), 60)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            return None  # S3 slow or down: the sync monitor reports that
        self.replica_checked_at = time.time()
        if proc.returncode != 0:
            return None
        gap = litestream.chain_gap(litestream.parse_ltx_listing(out.decode()))
        if gap and litestream.local_txid(self.paths.state_dir) is None:
            gap = None  # nothing captured locally yet: an empty replica is expected
        self.replica_check = gap or "restorable"
        if gap:
            self.replica_broken = gap
            self._problem(time.time(), f"the replica is not restorable: {gap}")
        elif self.replica_broken:
            self.replica_broken = None
        return gap

    def _problem(self, now: float, message: str) -> None:
        first = self.failing_since is None
        if first:
            self.failing_since = now
        self.last_error = message
        kind = message.split(":", 1)[0]
        if first or kind != self._alerted_kind or now - self._last_alert >= REALERT_SECONDS:
            self._last_alert = now
            self._alerted_kind = kind
            self.error_count += 1
            log.error(
                "replication failing",
                extra={"detail": message, "replica": self.replica_url, "since": self.failing_since},
            )
            emf.emit_replication_error(1, message)

    def _healthy(self, now: float) -> None:
        if self.failing_since is not None:
            log.info(
                "replication recovered",
                extra={"after_s": round(now - self.failing_since, 1), "replica": self.replica_url},
            )
        self.failing_since = None
        self._alerted_kind = ""

    async def status(self) -> dict[str, Any]:
        now = time.time()
        since = None if self.last_sync_at is None else round(now - self.last_sync_at, 2)
        body: dict[str, Any] = {
            "ok": self.failing_since is None,
            "replica": self.replica_url,
            "litestream": self.litestream_state if self.reachable else "unreachable",
            "last_sync_at": None
            if self.last_sync_at is None
            else datetime.fromtimestamp(self.last_sync_at, UTC).isoformat(timespec="seconds"),
            "seconds_since_sync": since,
            # Upper bound on how old an unshipped commit can be.
            "lag_s": since,
            "sync_interval_s": self.sync_interval,
            "local_txid": litestream.local_txid(self.paths.state_dir),
            "replicated_txid": self.replicated_txid,
            "durable_writes": self.durable,
            "durable_waiters": self.durable_waiters,
            "durable_syncs": self.durable_syncs,
            "errors": self.error_count,
            "replica_check": self.replica_check,
        }
        if self.failing_since is not None:
            body["error"] = self.last_error
            body["failing_for_s"] = round(now - self.failing_since, 1)
        elif self.last_error:
            body["last_error"] = self.last_error
        return body

    # -- durable acknowledgements ------------------------------------------------------------
    async def wait_durable(self, limit_s: float | None = None) -> dict[str, Any]:
        """Return once every write committed before this call is on the replica.

        Raises NotDurable when Litestream cannot confirm it within `limit_s` seconds
        (default: durable_timeout).
        """
        limit = self.durable_timeout if limit_s is None else limit_s
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        self.durable_waiters += 1
        self._wake.set()
        try:
            return await asyncio.wait_for(asyncio.shield(fut), limit)
        except TimeoutError:
            raise NotDurable(f"the replica did not confirm the write within {limit:g} s") from None

    async def _sync_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._waiters = self._waiters, []
            batch = [f for f in batch if not f.done()]
            if not batch:
                continue
            try:
                answer = await self._sync_until_shipped()
            except Exception as exc:
                self._problem(time.time(), f"durable sync failed: {exc}")
                for fut in batch:
                    if not fut.done():
                        fut.set_exception(NotDurable(str(exc)))
                continue
            self.durable_syncs += 1
            replicated = answer.get("replicated_txid")
            if isinstance(replicated, int):
                self.replicated_txid = replicated
            self.last_sync_at = time.time()
            for fut in batch:
                if not fut.done():
                    fut.set_result(answer)

    async def _sync_until_shipped(self) -> dict[str, Any]:
        """POST /sync with wait, again until the replica holds the txid the first answer
        named (every write of the batch committed before it), or the durable timeout."""
        deadline = time.monotonic() + self.durable_timeout
        target: int | None = None
        pause = 0.02
        while True:
            left = deadline - time.monotonic()
            try:
                answer = await asyncio.to_thread(
                    litestream.sync_wait, self.paths.socket, self.paths.database, max(left, 1.0)
                )
            except litestream.ControlError as exc:
                if time.monotonic() + pause >= deadline:
                    raise
                log.warning("durable sync retry", extra={"detail": str(exc)})
            else:
                if target is None and isinstance(answer.get("txid"), int):
                    target = answer["txid"]
                if litestream.shipped(answer, target):
                    return answer
                if time.monotonic() + pause >= deadline:
                    raise litestream.ControlError(
                        f"replica at txid {answer.get('replicated_txid')}, "
                        f"write at txid {target} (timeout {self.durable_timeout:g} s)"
                    )
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.25)


def configured(settings: Settings) -> bool:
    """Replication is in play when a replica URL or an external Litestream socket is set."""
    return bool(settings.replica_url or settings.litestream_socket)


def hold_lock(paths: LitestreamPaths) -> IO[bytes] | None:
    """A shared flock on `<db>.lock` while the app runs: `crayon db restore` sees a live db."""
    try:
        paths.lock.parent.mkdir(parents=True, exist_ok=True)
        handle = open(paths.lock, "ab")  # noqa: SIM115 - held for the app's lifetime
        fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as exc:
        log.warning("could not take the database lock", extra={"error": str(exc)})
        return None
    return handle


def build(settings: Settings) -> Replication:
    return Replication(
        paths_for(settings),
        replica_url=settings.replica_url,
        sync_interval=parse_duration(settings.replica_sync_interval),
        durable=settings.durable_writes,
        durable_timeout=settings.durable_timeout,
        stale_after=settings.replication_stale_s or None,
        verify_seconds=settings.replica_verify_s,
        binary=_binary_or_none(settings),
    )


def _binary_or_none(settings: Settings) -> str | None:
    try:
        return litestream.binary(settings)
    except litestream.LitestreamMissing:
        return None


async def attach(
    settings: Settings,
) -> tuple[Replication | None, Callable[[], Awaitable[None]]]:
    """Called from the app's lifespan: the lock, and the replication monitor when configured."""
    lock = hold_lock(paths_for(settings))
    replication: Replication | None = None
    if configured(settings):
        replication = build(settings)
        await replication.start()
        log.info(
            "replication monitor started",
            extra={"socket": str(replication.paths.socket), "durable": replication.durable},
        )
    elif settings.durable_writes:
        log.warning("CRAYON_DURABLE_WRITES is set but no replica is configured: ignored")

    async def stop() -> None:
        if replication is not None:
            await replication.stop()
        if lock is not None:
            lock.close()

    return replication, stop
