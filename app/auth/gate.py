"""The gate: one pure-ASGI middleware that closes every route its rules do not call public.

For each HTTP request it
1. reads the rules of the route the router will pick (app/web/rules.py; declared in
   app/web/routes.py; a path that matches no route falls through to 404);
2. loads the admin session named by the cookie, if any, into `scope["state"]`
   (`admin_session`, `csrf_token`: templates use them for the nav's logout form);
3. for POST/PUT/PATCH/DELETE made with a live session, refuses cross-site requests and
   requires the session's CSRF token (header `X-CSRF-Token`, or form field `csrf_token`: the
   body is then read here, within the body-size limit, and replayed to the endpoint);
4. sends an anonymous request for a protected route to `/login?next=<path>` (browsers) or
   answers 401 JSON (`/api/*`), and marks protected responses `Cache-Control: no-store`.

Nothing is buffered on the way out, so the server-sent-events stream passes straight through.
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.auth.csrf import (
    HEADER,
    UNSAFE_METHODS,
    cross_site_reason,
    form_token,
    header,
    read_body,
    tokens_match,
)
from app.auth.service import AuthService
from app.web.rules import rules_for

LOGIN_PATH = "/login"


def login_location(scope: Scope) -> str:
    target = scope.get("path", "/")
    query = scope.get("query_string", b"")
    if query:
        target += "?" + query.decode("latin-1")
    return f"{LOGIN_PATH}?next={quote(target, safe='/')}"


class AuthGate:
    def __init__(self, app: ASGIApp, *, auth: AuthService) -> None:
        self.app = app
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        state["admin_session"] = None
        state["csrf_token"] = None
        rules = rules_for(scope)
        protected = not rules.public
        path: str = scope["path"]

        session = None
        if protected or rules.session:
            session = await self.auth.session_for(scope)
        if session is not None:
            state["admin_session"] = session
            state["csrf_token"] = session.csrf_token

        if session is not None and scope["method"] in UNSAFE_METHODS and path != LOGIN_PATH:
            # /login checks its own pre-session token (double-submit), see app/auth/routes.py.
            problem = cross_site_reason(scope)
            given = header(scope, HEADER.encode())
            if problem is None and given is None:
                body, messages = await read_body(receive)
                given = await form_token(scope, body)
                receive = _replay(messages, receive)
            if problem is None and not tokens_match(session.csrf_token, given):
                problem = (
                    "it did not carry this session's CSRF token (form field csrf_token or "
                    "header X-CSRF-Token). Reload the page and try again"
                )
            if problem is not None:
                await self._refuse(scope, receive, send, 403, f"Request refused: {problem}.")
                return

        if protected and session is None:
            if path.startswith("/api/"):
                response: Response = JSONResponse(
                    {
                        "error": "Login needed",
                        "detail": "This API needs the administrator's session: log in at "
                        "/login, then send the session cookie (and X-CSRF-Token on writes).",
                        "status": 401,
                    },
                    status_code=401,
                    headers={"Cache-Control": "no-store"},
                )
            else:
                response = RedirectResponse(
                    login_location(scope), status_code=302, headers={"Cache-Control": "no-store"}
                )
            await response(scope, receive, send)
            return

        if not protected:
            await self.app(scope, receive, send)
            return

        async def send_private(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).setdefault("Cache-Control", "private, no-store")
            await send(message)

        await self.app(scope, receive, send_private)

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, status: int, message: str
    ) -> None:
        from app.web.errors import error_response

        app = scope.get("app")
        if app is not None and "router" not in scope:
            scope["router"] = app.router
        response = error_response(Request(scope, receive), status, message)
        await response(scope, receive, send)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
