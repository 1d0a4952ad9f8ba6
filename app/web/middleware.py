"""Pure ASGI middleware: request ids and access logs, security headers, the origin check.

Written against ASGI directly rather than BaseHTTPMiddleware so streaming responses (the
server-sent-events stream) pass through unbuffered.
"""

from __future__ import annotations

import hmac
import logging
import re
import time
import uuid
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.auth.clientaddr import client_of
from app.auth.secret_source import FixedValue, SecretUnavailable, ValueSource
from app.logs import request_id_var
from app.web.rules import rules_for
from app.web.templating import PUBLIC_URL_KEY

access_log = logging.getLogger("crayon.access")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


class RequestIdMiddleware:
    """Give every request an id (from X-Request-ID when sane), log one JSON line per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = ""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            duration_ms = (time.perf_counter() - started) * 1000
            access_log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "client": client_of(scope).address,
                    "status": status,
                    "duration_ms": round(duration_ms, 2),
                },
            )
            request_id_var.reset(token)


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", CSP)
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
                headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
                headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
                if self.hsts:
                    headers.setdefault(
                        "Strict-Transport-Security", "max-age=31536000; includeSubDomains"
                    )
            await send(message)

        await self.app(scope, receive, send_wrapper)


class OriginSecretMiddleware:
    """Only CloudFront knows the origin secret: requests that go around it are refused.

    The expected value comes from `source` (Secrets Manager by id, re-read as it ages, or a
    fixed value); while it cannot be read every checked request gets 503 (fail closed).
    Routes declared without `origin_check` (/healthz) stay open so load balancers and systemd
    health checks work without it.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        secret: str | None = None,
        source: ValueSource | None = None,
    ) -> None:
        self.app = app
        if source is None:
            if not secret:
                raise ValueError("OriginSecretMiddleware needs a secret or a source")
            source = FixedValue(secret, "CRAYON_ORIGIN_SECRET")
        self.source = source

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not rules_for(scope).origin_check:
            await self.app(scope, receive, send)
            return
        given = b""
        for name, value in scope["headers"]:
            if name == b"x-origin-verify":
                given = value
                break
        try:
            expected = (await self.source.get()).encode()
        except SecretUnavailable:
            response = PlainTextResponse(
                "The origin check cannot read its secret right now; try again in a minute.",
                status_code=503,
                headers={"Retry-After": "30"},
            )
            await response(scope, receive, send)
            return
        if not hmac.compare_digest(given, expected):
            response = PlainTextResponse(
                "Direct access to the origin is not allowed; use the site's public address.",
                status_code=403,
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


class BodySizeLimitMiddleware:
    """Refuse bodies over the limit: by Content-Length before reading, else while streaming."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared < 0 or declared > self.max_bytes:
                    await self._refuse(scope, receive, send)
                    return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except BodyTooLarge:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit_mb = self.max_bytes / (1024 * 1024)
        response = PlainTextResponse(
            f"The request body is larger than the {limit_mb:.0f} MB limit. Send a smaller file.",
            status_code=413,
        )
        await response(scope, receive, send)


class BodyTooLarge(Exception):
    pass


class HostCheckMiddleware:
    """Answer only the configured host names (Starlette's TrustedHostMiddleware), so a forged
    Host header cannot steer absolute links; then, when a public URL is configured, build every
    absolute link from it rather than from the request. Without one, templates link by path
    only (app/web/templating.py), never from the Host header.

    Routes declared `any_host` (/healthz, /readyz) answer whatever the Host: load balancers
    probe a task by its IP address.
    """

    def __init__(self, app: ASGIApp, *, hosts: tuple[str, ...], public_url: str | None) -> None:
        self.app = app
        self.checked = TrustedHostMiddleware(
            self._public, allowed_hosts=list(hosts), www_redirect=False
        )
        self.public = urlsplit(public_url) if public_url else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or rules_for(scope).any_host:
            await self.app(scope, receive, send)
            return
        await self.checked(scope, receive, send)

    async def _public(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.public is not None:
            host = self.public.netloc.encode("latin-1")
            scope["scheme"] = self.public.scheme
            scope["headers"] = [(k, v) for k, v in scope["headers"] if k != b"host"] + [
                (b"host", host)
            ]
            port = self.public.port or (443 if self.public.scheme == "https" else 80)
            scope["server"] = (self.public.hostname or "", port)
            scope[PUBLIC_URL_KEY] = True
        await self.app(scope, receive, send)


class PrivateCacheMiddleware:
    """`Cache-Control: private, no-store` on every response that carries a token or depends on
    the session: a shared cache must never hand one visitor's CSRF token or admin nav to the
    next. That is a response to a request with the admin's session, or one that sets a cookie
    (the login form's pre-session token)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                state = scope.get("state", {})
                personal = state.get("admin_session") is not None or state.get("csrf_token")
                if personal or "set-cookie" in headers:
                    headers["Cache-Control"] = "private, no-store"
            await send(message)

        await self.app(scope, receive, send_wrapper)
