"""Rendering shared by every page, and the two static pages (home, docs)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from app.web.templating import templates


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> Response:
    context.setdefault("settings", request.app.state.settings)
    # The auth gate (app/auth/gate.py) puts the session here; base.html's logout form uses it.
    context.setdefault("admin_session", getattr(request.state, "admin_session", None))
    context.setdefault("csrf_token", getattr(request.state, "csrf_token", None))
    return templates.TemplateResponse(request, template, context, status_code=status_code)


async def home(request: Request) -> Response:
    return render(request, "home.html")


async def docs(request: Request) -> Response:
    return render(request, "docs.html")
