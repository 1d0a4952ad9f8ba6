"""Jinja2 templates shared by every page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.templating import Jinja2Templates

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

#: Set in the scope by HostCheckMiddleware when CRAYON_PUBLIC_URL pins the host links use.
PUBLIC_URL_KEY = "crayon.public_url"

templates = Jinja2Templates(directory=str(TEMPLATE_DIR))


@jinja2.pass_context
def _url_for(context: dict[str, Any], name: str, /, **path_params: Any) -> str:
    # Absolute only when the scheme and host come from CRAYON_PUBLIC_URL; otherwise a
    # path, so a link is never built from the request's (client-controlled) Host header.
    request: Request = context["request"]
    url = request.url_for(name, **path_params)
    if request.scope.get(PUBLIC_URL_KEY):
        return str(url)
    return url.path + (f"?{url.query}" if url.query else "")


templates.env.globals["url_for"] = _url_for
