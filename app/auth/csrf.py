"""CSRF defences.

1. Synchronizer token: each session has its own random token (stored with the session).
   Every state-changing request (POST/PUT/PATCH/DELETE) that carries a live session cookie
   must present it, in the `X-CSRF-Token` header (API, scripts) or the `csrf_token` form field
   (HTML forms; the templates add it). The gate checks this before the endpoint runs.
2. Fetch metadata: when the browser says the request is cross-site (`Sec-Fetch-Site`), or,
   without that header, when `Origin` names another host, the request is refused.
3. Login: there is no session yet, so the login form carries a signed double-submit token:
   a random nonce in a cookie, and its signature (made with the session key) in the form.
   Another site can neither read the cookie nor forge the signature: no login CSRF.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.types import Message, Receive, Scope

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
HEADER = "x-csrf-token"
FIELD = "csrf_token"
LOGIN_COOKIE_LOCAL = "crayon_login_csrf"
LOGIN_COOKIE_SECURE = "__Host-crayon_login_csrf"
LOGIN_TOKEN_MAX_AGE = 2 * 3600


def tokens_match(expected: str, given: str | None) -> bool:
    if not given or not expected:
        return False
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def cross_site_reason(scope: Scope) -> str | None:
    """Why this request looks cross-site, or None. Absent headers prove nothing either way."""
    site = header(scope, b"sec-fetch-site")
    if site is not None:
        if site.lower() in {"same-origin", "none"}:
            return None
        return f"the browser marked it as {site} (Sec-Fetch-Site)"
    origin = header(scope, b"origin")
    if origin is None:
        return None
    if origin == "null":
        return "it came from an opaque origin (Origin: null)"
    origin_host = urlsplit(origin).netloc.lower()
    hosts = {
        (header(scope, b"host") or "").lower(),
        (header(scope, b"x-forwarded-host") or "").split(",")[0].strip().lower(),
    }
    if origin_host and origin_host in hosts:
        return None
    return f"its Origin {origin!r} is not this site"


async def form_token(scope: Scope, body: bytes) -> str | None:
    """The `csrf_token` field of a urlencoded or multipart body, parsed from `body`."""
    content_type = (header(scope, b"content-type") or "").lower()
    if not content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        return None
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    sub_scope = {**scope, "state": {}}
    request = Request(sub_scope, replay)
    try:
        form = await request.form(max_files=8, max_fields=64)
    except Exception:
        return None
    try:
        value = form.get(FIELD)
        return value if isinstance(value, str) else None
    finally:
        await form.close()


async def read_body(receive: Receive) -> tuple[bytes, list[Message]]:
    """Read the whole request body; also return the messages to replay them downstream."""
    chunks: list[bytes] = []
    messages: list[Message] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks), messages


class LoginCsrf:
    """Signed double-submit token for the login form."""

    def __init__(self, key: str, *, secure: bool) -> None:
        self.serializer = URLSafeTimedSerializer(key, salt="crayon.login-csrf")
        self.cookie_name = LOGIN_COOKIE_SECURE if secure else LOGIN_COOKIE_LOCAL
        self.secure = secure

    @staticmethod
    def new_nonce() -> str:
        return secrets.token_urlsafe(24)

    def form_token(self, nonce: str) -> str:
        return self.serializer.dumps(nonce)

    def check(self, cookie_nonce: str | None, token: str | None) -> bool:
        if not cookie_nonce or not token or len(token) > 512:
            return False
        try:
            signed = self.serializer.loads(token, max_age=LOGIN_TOKEN_MAX_AGE)
        except (BadSignature, ValueError, TypeError):
            return False
        return isinstance(signed, str) and tokens_match(signed, cookie_nonce)
