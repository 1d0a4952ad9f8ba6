"""How much work the app takes on at once: requests in flight, and event streams apart.

uvicorn's own `limit_concurrency` counts open *connections* (plus tasks), so idle sockets
count: a few hundred clients that send half a request head, or the dashboard's open event
streams, push it over the limit and then every request gets 503, the liveness probe included.
This bound counts what costs the app something, requests being worked on, and leaves idle
sockets to the server's own guards (app/server.py: the header deadline, the connection cap).

Each route declares which bound it counts against (`RouteRules.bound`, app/web/routes.py):
- "request": at most `max_requests` in flight; more get 503 with Retry-After;
- "stream": the long-lived event streams, at most `max_streams` open, so they can neither
  starve the requests nor be starved by them;
- "none": `/healthz`, answered from memory and never refused for load: a busy task is alive.
"""

from __future__ import annotations

import logging

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from app.web.rules import SCOPE_KEY, rules_for

log = logging.getLogger("crayon.limits")

RETRY_AFTER_SECONDS = 1
STREAM_RETRY_AFTER_SECONDS = 10


class RequestLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_requests: int, max_streams: int) -> None:
        self.app = app
        self.max_requests = max_requests
        self.max_streams = max_streams
        self.requests = 0
        self.streams = 0
        self.refused = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rules = rules_for(scope)
        scope[SCOPE_KEY] = rules  # found once; the rules middleware further in reuses it
        if rules.bound == "none":
            await self.app(scope, receive, send)
        elif rules.bound == "stream":
            if self.streams >= self.max_streams:
                await self._refuse(scope, receive, send, "event streams", self.max_streams)
                return
            self.streams += 1
            try:
                await self.app(scope, receive, send)
            finally:
                self.streams -= 1
        else:
            if self.requests >= self.max_requests:
                await self._refuse(scope, receive, send, "requests", self.max_requests)
                return
            self.requests += 1
            try:
                await self.app(scope, receive, send)
            finally:
                self.requests -= 1

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, what: str, limit: int
    ) -> None:
        self.refused += 1
        # One warning per 1000 refusals: a flood must not become a flood of log lines.
        if self.refused % 1000 == 1:
            log.warning(
                "server busy: refusing requests",
                extra={"bound": what, "limit": limit, "refused_so_far": self.refused},
            )
        retry = STREAM_RETRY_AFTER_SECONDS if what == "event streams" else RETRY_AFTER_SECONDS
        response = PlainTextResponse(
            f"The server is busy ({limit} {what} at once). Try again in {retry} seconds.",
            status_code=503,
            headers={"Retry-After": str(retry), "Cache-Control": "no-store"},
        )
        await response(scope, receive, send)
