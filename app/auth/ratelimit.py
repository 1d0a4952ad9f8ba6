"""Login attempts: a sliding window per client address and one for everybody.

In memory, which is right for Crayon: the app runs as exactly one process (SQLite has one
writer, see docs/security.md). A restart forgets the counts; that is accepted. The global
limit bounds an attacker with many addresses; its price is that such an attack also delays
the real admin until the window passes (the login page says so).

The client address is the ASGI peer unless `CRAYON_TRUSTED_PROXY_HOPS` says how many proxies
stand in front of the app (CloudFront: 1; CloudFront then an ALB: 2). Each proxy appends the
address it saw to X-Forwarded-For, so the client is the N-th entry from the right; anything
left of it was written by the client and is not believed.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Mapping

from starlette.types import Scope

from app.settings import SettingsError

MAX_TRACKED_CLIENTS = 10_000


def trusted_proxy_hops(extra: Mapping[str, str]) -> int:
    raw = extra.get("CRAYON_TRUSTED_PROXY_HOPS", "").strip()
    if not raw:
        return 0
    try:
        hops = int(raw)
    except ValueError:
        raise SettingsError(
            f"CRAYON_TRUSTED_PROXY_HOPS={raw!r} is not a whole number (0, 1 or 2)."
        ) from None
    if not 0 <= hops <= 5:
        raise SettingsError(f"CRAYON_TRUSTED_PROXY_HOPS={hops} is out of range: use 0..5.")
    return hops


def client_address(scope: Scope, hops: int) -> str:
    peer = scope.get("client")
    address = str(peer[0]) if peer else "unknown"
    if hops <= 0:
        return address
    forwarded: list[str] = []
    for name, value in scope.get("headers", []):
        if name == b"x-forwarded-for":
            forwarded.extend(p.strip() for p in value.decode("latin-1").split(","))
    forwarded = [p for p in forwarded if p]
    if len(forwarded) >= hops:
        return forwarded[-hops][:64]
    return address


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
