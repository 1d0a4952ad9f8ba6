"""GET/POST /login and POST /logout."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from app.auth.csrf import FIELD
from app.auth.passwords import VerifierBusy
from app.auth.secret_source import SecretUnavailable
from app.auth.service import AuthService
from app.auth.sessions import AdminSession
from app.services import services

log = logging.getLogger("crayon.auth")

DEFAULT_NEXT = "/dashboard"
MAX_PASSWORD_CHARS = 1024
_PAGE_NAMES = {
    "/dashboard": "The dashboard",
    "/history": "The analysis history",
    "/config": "The configuration page",
    "/api": "This API",
}


def safe_next(raw: str | None) -> str:
    """`raw` when it is a path on this site; otherwise the dashboard (no open redirects)."""
    if not raw or len(raw) > 2048 or not raw.startswith("/") or raw.startswith("//"):
        return DEFAULT_NEXT
    if "\\" in raw or any(ord(c) < 0x20 or ord(c) == 0x7F for c in raw):
        return DEFAULT_NEXT
    parts = urlsplit(raw)
    if parts.scheme or parts.netloc or parts.path in {"/login", "/logout"}:
        return DEFAULT_NEXT
    return raw


def access_needed(next_path: str) -> str:
    first = "/" + urlsplit(next_path).path.lstrip("/").split("/", 1)[0]
    name = _PAGE_NAMES.get(first, "This page")
    return f"{name} needs the administrator's password."


def _auth(request: Request) -> AuthService:
    auth = services(request).auth
    assert isinstance(auth, AuthService)
    return auth


async def _login_response(
    request: Request,
    next_path: str,
    *,
    status_code: int = 200,
    error: str | None = None,
    headers: dict[str, str] | None = None,
    notice: str | None = None,
) -> Response:
    from app.web.pages import render

    auth = _auth(request)
    unavailable = await auth.unavailable_reason()
    token = None
    nonce = None
    if unavailable is None or "session" not in unavailable:
        try:
            login_csrf = await auth.login_csrf()
        except SecretUnavailable:
            login_csrf = None
        if login_csrf is not None:
            nonce = request.cookies.get(login_csrf.cookie_name) or ""
            if not 16 <= len(nonce) <= 64:
                nonce = login_csrf.new_nonce()
            token = login_csrf.form_token(nonce)
    if unavailable and status_code < 400:
        status_code = 503
    response = render(
        request,
        "login.html",
        status_code=status_code,
        next_path=next_path,
        access_needed=access_needed(next_path),
        error=error,
        notice=notice,
        unavailable=unavailable,
        login_token=token,
        password_from=None if auth.hash_source is None else auth.hash_source.description,
    )
    response.headers["Cache-Control"] = "no-store"
    for key, value in (headers or {}).items():
        response.headers[key] = value
    if nonce is not None:
        response.set_cookie(
            (await auth.login_csrf()).cookie_name,
            nonce,
            max_age=2 * 3600,
            path="/",
            secure=auth.settings.cookie_secure,
            httponly=True,
            samesite="lax",
        )
    return response


async def login_page(request: Request) -> Response:
    next_path = safe_next(request.query_params.get("next"))
    if getattr(request.state, "admin_session", None) is not None:
        return RedirectResponse(next_path, status_code=303)
    notice = "You have logged out." if "logged_out" in request.query_params else None
    return await _login_response(request, next_path, notice=notice)


async def login_submit(request: Request) -> Response:
    auth = _auth(request)
    client = auth.client(request.scope)
    # Limits first: a refused attempt reads no body and costs no hash.
    limited = auth.limiter.hit(client.limit_key)
    next_path = safe_next(request.query_params.get("next"))
    if limited is not None:
        wait, which = limited
        who = "from your address" if which == "client" else "on this site (from everybody)"
        log.warning("login rate limited", extra={"client": client.address, "limit": which})
        return await _login_response(
            request,
            next_path,
            status_code=429,
            error=f"Too many login attempts {who}. Try again in {int(wait)} seconds.",
            headers={"Retry-After": str(int(wait))},
        )
    content_type = request.headers.get("content-type", "").lower()
    if not content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        return await _login_response(
            request, next_path, status_code=400, error="Send the login form (password field)."
        )
    try:
        form = await request.form(max_files=0, max_fields=8, max_part_size=8192)
    except Exception:
        return await _login_response(
            request, next_path, status_code=400, error="The login form could not be read."
        )
    password = form.get("password")
    token = form.get(FIELD)
    raw_next = form.get("next")
    if isinstance(raw_next, str) and raw_next:
        next_path = safe_next(raw_next)
    try:
        login_csrf = await auth.login_csrf()
    except SecretUnavailable:
        return await _login_response(request, next_path, status_code=503)
    nonce = request.cookies.get(login_csrf.cookie_name)
    if not login_csrf.check(nonce, token if isinstance(token, str) else None):
        return await _login_response(
            request,
            next_path,
            status_code=403,
            error="The login form expired or did not come from this site (CSRF check). "
            "It has been renewed: enter the password again.",
        )
    if not isinstance(password, str) or not password or len(password) > MAX_PASSWORD_CHARS:
        return await _login_response(
            request, next_path, status_code=400, error="Enter the administrator's password."
        )
    try:
        ok = await auth.check_password(password)
    except SecretUnavailable:
        return await _login_response(request, next_path, status_code=503)
    except VerifierBusy as busy:
        log.warning("login refused: password checks busy", extra={"client": client.address})
        return await _login_response(
            request,
            next_path,
            status_code=503,
            error="Too many logins are being checked right now. Try again in "
            f"{busy.retry_after} seconds.",
            headers={"Retry-After": str(busy.retry_after)},
        )
    if not ok:
        log.warning("login failed: wrong password", extra={"client": client.address})
        return await _login_response(
            request, next_path, status_code=401, error="Wrong password. Try again."
        )
    # Session fixation: whatever session the browser had is ended; the new id is fresh.
    assert auth.store is not None
    previous = getattr(request.state, "admin_session", None)
    if isinstance(previous, AdminSession):
        await auth.store.revoke(previous.digest)
    session_token, _session = await auth.store.create(client.address)
    auth.limiter.forget(client.limit_key)
    cookie = await auth.cookie()
    response = RedirectResponse(next_path, status_code=303, headers={"Cache-Control": "no-store"})
    response.set_cookie(
        cookie.name,
        cookie.encode(session_token),
        max_age=auth.absolute_seconds,
        path="/",
        secure=cookie.secure,
        httponly=True,
        samesite="lax",
    )
    response.delete_cookie(
        login_csrf.cookie_name, path="/", secure=cookie.secure, httponly=True, samesite="lax"
    )
    log.info("admin logged in", extra={"client": client.address})
    return response


async def logout(request: Request) -> Response:
    auth = _auth(request)
    session = getattr(request.state, "admin_session", None)
    if isinstance(session, AdminSession) and auth.store is not None:
        await auth.store.revoke(session.digest)
        log.info("admin logged out")
    secure = auth.settings.cookie_secure
    response = RedirectResponse(
        "/login?logged_out=1", status_code=303, headers={"Cache-Control": "no-store"}
    )
    response.delete_cookie(auth.cookie_name, path="/", secure=secure, httponly=True, samesite="lax")
    return response


def auth_routes() -> list[BaseRoute]:
    return [
        Route("/login", login_page, name="login", methods=["GET"]),
        Route("/login", login_submit, name="login_submit", methods=["POST"]),
        Route("/logout", logout, name="logout", methods=["POST"]),
    ]
