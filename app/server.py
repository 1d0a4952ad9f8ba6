"""The HTTP server's limits, set on purpose: uvicorn with a request-head deadline and a cap on
open connections that sheds idle sockets first.

uvicorn has no header timeout: an h11 connection is only timed while idle *between* requests
(`timeout_keep_alive`), so a client that opens a connection and sends half a request head
holds a descriptor forever (slow-loris). `guarded_h11` adds one timer per connection, armed
whenever the connection waits for a request head (on open, after each response) and
disarmed when a complete head has arrived; when it fires the connection is closed. Each
deadline falls at random in the second half of the timeout, so a crowd of slow clients that
arrived together is not closed (and does not reconnect) all at once.

uvicorn's `limit_concurrency` is deliberately not used: it counts open connections, so idle
sockets (half-sent heads, open event streams) push it over and then every request gets 503,
`/healthz` included. The app bounds requests in flight instead (app/web/limits.py), and
`guarded_h11` bounds connections: at `max_connections` a new connection displaces the one
that has waited longest for its request head (a slow-loris socket or an idle keep-alive),
so a probe's fresh connection is served while the idle ones pay.

It also stops without resetting anyone. On a graceful stop (a release restarting the app behind
its systemd socket) uvicorn closes every connection that is between requests at once, but a
connection accepted a moment before usually has its request in flight or unread in the
receive buffer: closing it then resets the client (a failed request at every release under
load). Such connections get a short grace to deliver their head, are answered with
`Connection: close`, and are closed only if nothing comes; connections still in the socket's
backlog wait there for the next process.
"""

from __future__ import annotations

import asyncio
import logging
import random
import resource
import time
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from app.settings import Settings

log = logging.getLogger("crayon.server")


# At a graceful stop, how long a connection that has not sent a request yet may take to send
# one, and how long an idle keep-alive connection gets for a request already on its way.
FRESH_GRACE_SECONDS = 2.0
IDLE_GRACE_SECONDS = 0.1


def guarded_h11(header_timeout: float, max_connections: int = 4096) -> type[H11Protocol]:
    """An H11Protocol that closes a connection whose request head is not in within
    `header_timeout` seconds, and holds at most `max_connections` connections (the one
    waiting longest for its head makes room for a new one), and serves the requests in
    flight at a graceful stop."""

    # Connections waiting for a request head, oldest first (a dict keeps insertion order).
    waiting: dict[H11Protocol, None] = {}

    class HeaderDeadlineH11Protocol(H11Protocol):
        _head_timer: asyncio.TimerHandle | None = None
        _waiting_for: object = None
        _served = 0
        _stopping = False

        def _arm(self, timeout: float = header_timeout) -> None:
            self._disarm()
            self._waiting_for = self.cycle  # a new cycle object means a head has arrived
            # Spread over the second half of the timeout, never past it: slow clients that
            # arrived together would otherwise all be closed, and reconnect, together (1,000
            # at once cost the event loop ~0.4 s, and a probe queued behind them).
            deadline = header_timeout * random.uniform(0.5, 1.0)  # noqa: S311 - not a secret
            self._head_timer = self.loop.call_later(deadline, self._head_deadline)
            waiting[self] = None

        def _disarm(self) -> None:
            waiting.pop(self, None)
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _check_head(self) -> None:
            if self._head_timer is not None and self.cycle is not self._waiting_for:
                self._disarm()

        def _head_deadline(self) -> None:
            self._head_timer = None
            waiting.pop(self, None)
            if self.cycle is self._waiting_for and not self.transport.is_closing():
                if self._stopping:
                    super().shutdown()  # nothing came: close it as uvicorn would have
                else:
                    self.transport.close()

        def _make_room(self) -> bool:
            """At the cap: close the connection that has waited longest for its head.
            False when every other connection is busy with a request (then this one goes)."""
            if len(self.connections) <= max_connections:
                return True
            for victim in waiting:
                if victim is not self:
                    victim._disarm()  # type: ignore[attr-defined]
                    victim.transport.close()
                    return True
            return False

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if not self._make_room():
                self.transport.close()
                return
            self._arm()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self._stopping and self.cycle is not None:
                self.cycle.keep_alive = False  # answer it, then close
            self._check_head()

        def shutdown(self) -> None:
            between = self.cycle is None or self.cycle.response_complete
            if not between or self.transport.is_closing():
                super().shutdown()
                return
            # Between requests: wait a moment for a head instead of closing (which would reset
            # a request already sent); the head deadline closes the connection if none comes.
            self._stopping = True
            self._arm(FRESH_GRACE_SECONDS if not self._served else IDLE_GRACE_SECONDS)

        def on_response_complete(self) -> None:
            self._served += 1
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm()
                self._check_head()  # a pipelined head may already have been handled

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return HeaderDeadlineH11Protocol


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn.run() keyword arguments for the limits in the settings."""
    return {
        "http": guarded_h11(settings.header_timeout_seconds, settings.max_connections),
        "timeout_keep_alive": settings.keep_alive_seconds,
        "h11_max_incomplete_event_size": settings.max_header_bytes,
        # Not uvicorn's limit_concurrency (it counts idle sockets and refuses /healthz): the
        # app bounds requests in flight (settings.limit_concurrency, app/web/limits.py).
        "limit_concurrency": None,
        "backlog": settings.backlog,
    }


def raise_open_files_limit() -> tuple[int, int]:
    """Raise the soft RLIMIT_NOFILE to the hard limit (the default soft 1024 is what a few
    hundred slow clients exhaust). Returns (soft, hard) as they are afterwards."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError) as exc:
            log.warning("could not raise the open-files limit", extra={"error": str(exc)})
    return soft, hard


class RateLimitFilter(logging.Filter):
    """Lets one record per (logger, message template) through every `interval` seconds and
    counts the rest, so an error loop (accept() failing with EMFILE) cannot flood the log; the
    next record that passes says how many were suppressed."""

    def __init__(self, interval: float = 10.0) -> None:
        super().__init__()
        self.interval = interval
        self._last: dict[tuple[str, str], float] = {}
        self._suppressed: dict[tuple[str, str], int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, str(record.msg))
        now = time.monotonic()
        last = self._last.get(key)
        if last is not None and now - last < self.interval:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return False
        self._last[key] = now
        suppressed = self._suppressed.pop(key, 0)
        if suppressed:
            record.suppressed = suppressed
        if len(self._last) > 1000:  # bounded: forget the oldest keys
            for old in sorted(self._last, key=self._last.__getitem__)[:500]:
                self._last.pop(old, None)
        return True


def limit_server_error_logs(interval: float = 10.0) -> RateLimitFilter:
    """Install the rate limit on the loggers an accept() error loop writes to."""
    limiter = RateLimitFilter(interval)
    for name in ("uvicorn.error", "asyncio"):
        logging.getLogger(name).addFilter(limiter)
    return limiter
