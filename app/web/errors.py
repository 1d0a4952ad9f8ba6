"""Error pages: a clear message for people, JSON for API clients, never a bare 500 trace."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.web.pages import render

log = logging.getLogger("crayon.errors")

_TITLES = {
    400: "Bad request",
    401: "Login needed",
    403: "Forbidden",
    404: "Page not found",
    405: "Method not allowed",
    413: "Too large",
    415: "Unsupported file type",
    422: "Could not process",
    429: "Too many attempts",
    500: "Something went wrong",
    503: "Temporarily unavailable",
}


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or "application/json" in request.headers.get(
        "accept", ""
    )


def error_response(
    request: Request, status: int, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    title = _TITLES.get(status, "Error")
    if wants_json(request):
        return JSONResponse(
            {"error": title, "detail": message, "status": status},
            status_code=status,
            headers=dict(headers or {}),
        )
    response = render(
        request, "error.html", status_code=status, title=title, message=message, status=status
    )
    response.headers.update(dict(headers or {}))
    return response


async def http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    messages = {
        404: f"There is no page at {request.url.path}. Try the home page.",
        405: f"{request.method} is not allowed on {request.url.path}.",
    }
    # Starlette's own exceptions carry only the status phrase ("Not Found"): say more.
    generic = {_TITLES.get(exc.status_code), HTTPStatus(exc.status_code).phrase}
    detail = exc.detail if exc.detail and exc.detail not in generic else None
    message = detail or messages.get(exc.status_code) or _TITLES.get(exc.status_code, "Error")
    return error_response(request, exc.status_code, str(message), exc.headers)


async def server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error", exc_info=exc)
    return error_response(
        request,
        500,
        "The server hit an unexpected error. It has been logged with this request's id; "
        "please try again.",
    )


def handlers() -> Mapping[Any, Callable[[Request, Exception], Any]]:
    return {HTTPException: http_exception, Exception: server_error}
