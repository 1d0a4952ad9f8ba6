"""The route table: the one place to read the app's request paths.

Every route is protected unless its path is in PUBLIC_PATHS: a new page is closed by default
(fail closed), and tests enumerate this table to prove it.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from app.web import health, pages
from app.web.templating import STATIC_DIR

PUBLIC_PATHS: frozenset[str] = frozenset(
    {
        "/",
        "/demo",
        "/upload",
        "/docs",
        "/healthz",
        "/readyz",
        "/login",
        "/static",
    }
)


def build_routes() -> list[BaseRoute]:
    return [
        Route("/", pages.home, name="home"),
        Route("/demo", pages.demo, name="demo"),
        Route("/upload", pages.upload, name="upload"),
        Route("/docs", pages.docs, name="docs"),
        Route("/dashboard", pages.dashboard, name="dashboard"),
        Route("/history", pages.history, name="history"),
        Route("/config", pages.config, name="config"),
        Route("/healthz", health.healthz, name="healthz"),
        Route("/readyz", health.readyz, name="readyz"),
        Mount("/static", app=StaticFiles(directory=str(STATIC_DIR)), name="static"),
    ]
