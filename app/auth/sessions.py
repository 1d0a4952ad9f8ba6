"""Server-side admin sessions: the cookie names a record; logout deletes its power.

A signed-cookie-only session (Starlette's SessionMiddleware) cannot be revoked: a copied
cookie stays valid until it expires. Here the cookie carries a random 32-byte token, signed
and timestamped with itsdangerous; the database keeps only the token's SHA-256 (a leaked
database or replica does not hold live tokens) with the session's CSRF token, its idle and
absolute deadlines and its revocation time. A token is accepted only while its record exists,
is not revoked and has not passed either deadline.

`last_seen` is written at most every `TOUCH_SECONDS`, so a session may end up to that much
*before* its idle timeout, never after it.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

from app.db import Database

TOUCH_SECONDS = 60.0
LOCAL_COOKIE = "crayon_session"
SECURE_COOKIE = "__Host-crayon_session"


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


@dataclass(frozen=True)
class AdminSession:
    digest: str
    csrf_token: str
    created_at: float
    last_seen: float
    expires_at: float


class SessionStore:
    def __init__(
        self,
        db: Database,
        *,
        idle_seconds: float,
        absolute_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.idle_seconds = idle_seconds
        self.absolute_seconds = absolute_seconds
        self.clock = clock

    async def create(self, client: str | None) -> tuple[str, AdminSession]:
        """A new session: (the token for the cookie, the record)."""
        token = secrets.token_urlsafe(32)
        now = self.clock()
        session = AdminSession(
            digest=token_digest(token),
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen=now,
            expires_at=now + self.absolute_seconds,
        )
        await self.db.execute_write(
            "INSERT INTO admin_sessions (id, created_at, last_seen, expires_at, csrf_token, client)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                session.digest,
                session.created_at,
                session.last_seen,
                session.expires_at,
                session.csrf_token,
                (client or "")[:64],
            ),
        )
        return token, session

    async def load(self, token: str) -> AdminSession | None:
        """The live session for `token`, touching its idle deadline; None when not live."""
        digest = token_digest(token)
        row = await self.db.fetchone(
            "SELECT created_at, last_seen, expires_at, revoked_at, csrf_token"
            " FROM admin_sessions WHERE id = ?",
            (digest,),
        )
        if row is None or row["revoked_at"] is not None:
            return None
        now = self.clock()
        if now >= row["expires_at"] or now - row["last_seen"] >= self.idle_seconds:
            return None
        last_seen = row["last_seen"]
        if now - last_seen >= TOUCH_SECONDS:
            last_seen = now
            await self.db.execute_write(
                "UPDATE admin_sessions SET last_seen = ? WHERE id = ? AND revoked_at IS NULL",
                (now, digest),
            )
        return AdminSession(
            digest=digest,
            csrf_token=row["csrf_token"],
            created_at=row["created_at"],
            last_seen=last_seen,
            expires_at=row["expires_at"],
        )

    async def is_live(self, digest: str) -> bool:
        """Whether the session is still live, without touching its idle deadline.

        For long requests (the event stream) that re-check their session as they go: an open
        stream is not activity, so it must not keep an idle session alive.
        """
        row = await self.db.fetchone(
            "SELECT last_seen, expires_at, revoked_at FROM admin_sessions WHERE id = ?",
            (digest,),
        )
        if row is None or row["revoked_at"] is not None:
            return False
        now = self.clock()
        return bool(now < row["expires_at"] and now - row["last_seen"] < self.idle_seconds)

    async def revoke(self, digest: str) -> None:
        await self.db.execute_write(
            "UPDATE admin_sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            (self.clock(), digest),
        )

    async def cleanup(self) -> int:
        """Delete records past either deadline (revoked ones included); returns how many."""
        now = self.clock()
        before = await self.db.fetchval("SELECT count(*) FROM admin_sessions")
        await self.db.execute_write(
            "DELETE FROM admin_sessions WHERE expires_at <= ? OR last_seen <= ?",
            (now, now - self.idle_seconds),
        )
        after = await self.db.fetchval("SELECT count(*) FROM admin_sessions")
        return int(before or 0) - int(after or 0)


class SessionCookie:
    """The cookie: `__Host-` prefixed and Secure in production, HttpOnly, SameSite=Lax, Path=/."""

    def __init__(self, key: str, *, secure: bool, max_age: int) -> None:
        self.serializer = URLSafeTimedSerializer(key, salt="crayon.admin-session")
        self.secure = secure
        self.max_age = max_age
        self.name = SECURE_COOKIE if secure else LOCAL_COOKIE

    def encode(self, token: str) -> str:
        return self.serializer.dumps(token)

    def decode(self, value: str) -> str | None:
        """The token, or None when the value is forged, malformed or older than max_age."""
        if not value or len(value) > 512:
            return None
        try:
            token = self.serializer.loads(value, max_age=self.max_age)
        except (BadSignature, ValueError, TypeError):
            return None
        return token if isinstance(token, str) and 16 <= len(token) <= 128 else None
