"""The auth service the app holds in `Services.auth`: one object, started by the lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import cookie_parser
from starlette.types import Scope

from app.auth import passwords
from app.auth.clientaddr import ClientInfo, client_of
from app.auth.csrf import LoginCsrf
from app.auth.ratelimit import SlidingWindowLimiter
from app.auth.secret_source import (
    SecretUnavailable,
    ValueSource,
    admin_hash_source,
    session_key_source,
)
from app.auth.sessions import AdminSession, SessionCookie, SessionStore
from app.db import Database
from app.settings import Settings

log = logging.getLogger("crayon.auth")

CLEANUP_SECONDS = 600.0
# A wrong password re-reads the secret (it may just have been rotated) at most this often.
REFRESH_ON_MISMATCH_SECONDS = 30.0


class AuthService:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.limiter = SlidingWindowLimiter(
            per_client=settings.login_attempts_per_client,
            overall=settings.login_attempts_global,
            window_seconds=settings.login_window_seconds,
        )
        self.verifier = passwords.BoundedVerifier(
            concurrency=settings.login_hash_concurrency, queue=settings.login_hash_queue
        )
        self.idle_seconds = settings.session_idle_minutes * 60
        self.absolute_seconds = settings.session_absolute_hours * 3600
        self.hash_source: ValueSource | None = None
        self.key_source: ValueSource | None = None
        self.store: SessionStore | None = None
        self._cookie: SessionCookie | None = None
        self._login_csrf: LoginCsrf | None = None
        self._cleanup: asyncio.Task[None] | None = None

    # -- life cycle -------------------------------------------------------------------------

    async def start(self, db: Database) -> None:
        self.store = SessionStore(
            db, idle_seconds=self.idle_seconds, absolute_seconds=self.absolute_seconds
        )
        # Hashing the local password takes ~50 ms: off the event loop.
        self.hash_source = await run_in_threadpool(admin_hash_source, self.settings)
        self.key_source = await run_in_threadpool(session_key_source, self.settings)
        reason = await self.unavailable_reason()
        if reason:
            log.error(
                "admin login unavailable: protected pages stay closed", extra={"reason": reason}
            )
        else:
            log.info("admin login ready", extra={"password_from": self.hash_source.description})
        with contextlib.suppress(Exception):
            await self.store.cleanup()
        self._cleanup = asyncio.create_task(self._cleanup_forever())

    async def stop(self) -> None:
        if self._cleanup is not None:
            self._cleanup.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._cleanup
            self._cleanup = None
        self.verifier.close()

    async def _cleanup_forever(self) -> None:
        while True:
            await asyncio.sleep(CLEANUP_SECONDS)
            try:
                assert self.store is not None
                removed = await self.store.cleanup()
                if removed:
                    log.info("expired sessions removed", extra={"count": removed})
            except Exception:
                log.exception("session cleanup failed; will retry")

    # -- keys and secrets -------------------------------------------------------------------

    async def _key(self) -> str:
        if self.key_source is None:
            raise SecretUnavailable("the app is still starting")
        key = await self.key_source.get()
        if self._cookie is None or self._cookie.serializer.secret_keys[-1] != key.encode():
            self._cookie = SessionCookie(
                key, secure=self.settings.cookie_secure, max_age=self.absolute_seconds
            )
            self._login_csrf = LoginCsrf(key, secure=self.settings.cookie_secure)
        return key

    async def cookie(self) -> SessionCookie:
        await self._key()
        assert self._cookie is not None
        return self._cookie

    async def login_csrf(self) -> LoginCsrf:
        await self._key()
        assert self._login_csrf is not None
        return self._login_csrf

    @property
    def cookie_name(self) -> str:
        return SessionCookie("x" * 32, secure=self.settings.cookie_secure, max_age=1).name

    async def unavailable_reason(self) -> str | None:
        """Why nobody can log in right now (for the login page), or None."""
        try:
            await self._key()
            if self.hash_source is None:
                return "the app is still starting"
            await self.hash_source.get()
        except SecretUnavailable as exc:
            return str(exc)
        return None

    async def check_password(self, password: str) -> bool:
        """Verify against the stored hash.

        SecretUnavailable when it cannot be read; VerifierBusy when too many checks are
        already running or waiting (no hash is computed then).
        """
        if self.hash_source is None:
            raise SecretUnavailable("the app is still starting")
        stored = await self.hash_source.get()
        if await self.verifier.verify(stored, password):
            self._warn_if_weak(stored)
            return True
        age = self.hash_source.age()
        if age is not None and age >= REFRESH_ON_MISMATCH_SECONDS:
            fresh = await self.hash_source.get(refresh=True)
            if fresh != stored:
                return await self.verifier.verify(fresh, password)
        return False

    def _warn_if_weak(self, stored: str) -> None:
        if self.settings.is_production and passwords.needs_rehash(stored):
            # The app cannot rewrite the secret (its role only reads it): the operator does.
            log.warning(
                "the admin password hash uses other argon2 parameters than today's "
                "(m=19 MiB, t=2, p=1); it still works, but run `crayon hash-password` and store "
                "the new hash in the secret (see docs/security.md, 'The password')"
            )

    # -- sessions ---------------------------------------------------------------------------

    def client(self, scope: Scope) -> ClientInfo:
        return client_of(scope)

    def raw_cookie(self, scope: Scope) -> str | None:
        for name, value in scope.get("headers", []):
            if name == b"cookie":
                cookies = cookie_parser(value.decode("latin-1"))
                found = cookies.get(self.cookie_name)
                if found:
                    return found
        return None

    async def session_for(self, scope: Scope) -> AdminSession | None:
        """The live admin session named by the request's cookie, or None."""
        raw = self.raw_cookie(scope)
        if raw is None or self.store is None:
            return None
        try:
            cookie = await self.cookie()
        except SecretUnavailable:
            return None
        token = cookie.decode(raw)
        if token is None:
            return None
        return await self.store.load(token)

    def status(self) -> dict[str, Any]:
        return {
            "password": None if self.hash_source is None else self.hash_source.status(),
            "session_key": None if self.key_source is None else self.key_source.status(),
        }
