"""Login attempts: a sliding window per client address and one for everybody.

In memory, which is right for Crayon: the app runs as exactly one process (SQLite has one
writer, see docs/security.md). A restart forgets the counts; that is accepted. The global
limit bounds an attacker with many addresses; its price is that such an attack also delays
the real admin until the window passes (the login page says so).

Clients are counted by `app.auth.clientaddr.ClientInfo.limit_key`: the normalised address
the whole app agrees on (trusted proxy hops only), IPv6 grouped by /64. The route checks the
limits before anything else, so a refused attempt costs no password hash.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

MAX_TRACKED_CLIENTS = 10_000


class SlidingWindowLimiter:
    def __init__(
        self,
        *,
        per_client: int,
        overall: int,
        window_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_client = per_client
        self.overall = overall
        self.window = window_seconds
        self.clock = clock
        self._clients: dict[str, deque[float]] = {}
        self._all: deque[float] = deque()

    def _prune(self, q: deque[float], now: float) -> None:
        while q and q[0] <= now - self.window:
            q.popleft()

    def _retry_after(self, q: deque[float], limit: int, now: float) -> float:
        # The window admits a new attempt when the oldest of the last `limit` leaves it.
        return max(1.0, q[-limit] + self.window - now)

    def hit(self, client: str) -> tuple[float, str] | None:
        """Count an attempt; None when allowed, else (seconds to wait, which limit)."""
        now = self.clock()
        self._prune(self._all, now)
        q = self._clients.get(client)
        if q is not None:
            self._prune(q, now)
        if q is not None and len(q) >= self.per_client:
            return math.ceil(self._retry_after(q, self.per_client, now)), "client"
        if len(self._all) >= self.overall:
            return math.ceil(self._retry_after(self._all, self.overall, now)), "global"
        if q is None:
            if len(self._clients) >= MAX_TRACKED_CLIENTS:
                self._sweep(now)
            q = self._clients.setdefault(client, deque())
        q.append(now)
        self._all.append(now)
        return None

    def forget(self, client: str) -> None:
        """A successful login clears that client's count (not the global one)."""
        self._clients.pop(client, None)

    def _sweep(self, now: float) -> None:
        for key in list(self._clients):
            q = self._clients[key]
            self._prune(q, now)
            if not q:
                del self._clients[key]
        while len(self._clients) >= MAX_TRACKED_CLIENTS:
            self._clients.pop(next(iter(self._clients)))
