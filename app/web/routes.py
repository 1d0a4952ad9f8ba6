"""The route table: the one place to read the app's request paths.

Every route is protected unless its path is in PUBLIC_PATHS: a new page is closed by default
(fail closed), and tests enumerate this table to prove it.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from app.auth.routes import auth_routes
from app.web import analyses, config_page, dashboard, demo_page, health, history, pages
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
        # Analyses: the upload API and each result by its unguessable id (capability URL);
        # the list of analyses (/history) stays protected.
        "/api/analyses",
        "/analyses",
        "/files",
    }
)


def build_routes() -> list[BaseRoute]:
    return [
        Route("/", pages.home, name="home"),
        Route("/demo", demo_page.demo, name="demo"),
        Route("/upload", analyses.upload_page, name="upload", methods=["GET", "POST"]),
        Route("/analyses/{analysis_id}", analyses.result_page, name="result"),
        Route("/files/{analysis_id}/{name}", analyses.file, name="analysis_file"),
        Route("/api/analyses", analyses.api_create, name="api_analyses", methods=["POST"]),
        Route("/api/analyses/{analysis_id}", analyses.api_get, name="api_analysis"),
        Route("/docs", pages.docs, name="docs"),
        Route("/dashboard", dashboard.dashboard, name="dashboard"),
        Route("/api/metrics", dashboard.api_metrics, name="api_metrics"),
        Route("/api/events", dashboard.events, name="api_events"),
        Route("/history", history.history, name="history"),
        Route("/history/export.csv", history.export_csv, name="history_export"),
        Route("/config", config_page.config, name="config", methods=["GET", "POST"]),
        *auth_routes(),
        Route("/healthz", health.healthz, name="healthz"),
        Route("/readyz", health.readyz, name="readyz"),
        Mount("/static", app=StaticFiles(directory=str(STATIC_DIR)), name="static"),
    ]
