"""Count every answered request (pure ASGI, so streaming responses pass through untouched).

The work on the request path is a few header look-ups, one HMAC and a list append; the
database write happens later, in the recorder's batch. 5xx answers also emit an EMF `Errors`
line. The recorder is looked up on the app's state when the request ends, so requests served
before start-up finished (or by an app without metrics) are simply not counted.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.auth.clientaddr import client_of as resolved_client
from app.metrics import emf
from app.metrics.countries import UNKNOWN, known_country
from app.metrics.recorder import DAY, MetricsRecorder, RequestRecord, classify
from app.metrics.sessions import PROCESS_HASHER, SessionHasher


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return ""


def country_of(scope: Scope) -> str:
    """CloudFront's viewer country (an assigned ISO 3166-1 alpha-2 code), or "unknown".

    Believed only when the request came through the trusted proxies (see
    app/auth/clientaddr.py): a visitor talking to the app directly could write any header.
    """
    if not resolved_client(scope).via_proxy:
        return UNKNOWN
    return known_country(_header(scope, b"cloudfront-viewer-country"))


def session_of(scope: Scope, now: float, hasher: SessionHasher = PROCESS_HASHER) -> str:
    return hasher.hash(int(now // DAY), client_of(scope), _header(scope, b"user-agent"))


def client_of(scope: Scope) -> str:
    """The address the whole app agrees on (the limiter and the access log read the same)."""
    return resolved_client(scope).address


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, hasher: SessionHasher | None = None) -> None:
        self.app = app
        self.hasher = hasher or PROCESS_HASHER

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except BaseException:
            if status == 0:
                status = 500
            raise
        finally:
            self._record(scope, status or 500, (time.perf_counter() - started) * 1000)

    def _record(self, scope: Scope, status: int, duration_ms: float) -> None:
        app = scope.get("app")
        svc = getattr(getattr(app, "state", None), "services", None)
        recorder = getattr(svc, "metrics", None)
        kind = classify(scope["path"])
        if status >= 500:
            emf.emit_error(status, kind)
        if not isinstance(recorder, MetricsRecorder):
            return
        now = time.time()
        session = None
        if kind != "health":
            session = session_of(scope, now, self.hasher)
        recorder.record(
            RequestRecord(
                ts=now,
                kind=kind,
                status=status,
                duration_ms=round(duration_ms, 3),
                session_hash=session,
                country=country_of(scope),
            )
        )
