"""The route table: the one place to read the app's request paths and the rules of each.

Every route declares its `RouteRules` (app/web/rules.py) here, beside its path: public or
admin-only, whether it loads the session, waits for durable writes, needs the origin secret,
answers any Host. A route without rules is closed (fail closed); tests enumerate this table.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from app.auth.routes import auth_routes
from app.web import analyses, config_page, dashboard, demo_page, health, history, pages
from app.web.rules import ADMIN, PROBE, PUBLIC, RouteRules, with_rules
from app.web.templating import STATIC_DIR

# /healthz: systemd and the load balancers call it without the origin secret, and it is never
# refused for load (a busy task is alive; app/web/limits.py).
PROBE_NO_ORIGIN = RouteRules(
    public=True, session=False, origin_check=False, any_host=True, bound="none"
)
# The dashboard's event stream: admin-only, long-lived, counted by its own cap.
ADMIN_STREAM = RouteRules(public=False, bound="stream")

# The routes app/auth/routes.py defines, by name (a new one there fails here until declared).
_AUTH_RULES = {"login": PUBLIC, "login_submit": PUBLIC, "logout": ADMIN}


def build_routes() -> list[BaseRoute]:
    # Writes that must survive the host: the upload API and form, the configuration page.
    durable_public = RouteRules(public=True, durable=True)
    durable_admin = RouteRules(public=False, durable=True)
    static = RouteRules(public=True, session=False)
    return [
        with_rules(Route("/", pages.home, name="home"), PUBLIC),
        with_rules(Route("/demo", demo_page.demo, name="demo"), PUBLIC),
        with_rules(
            Route("/upload", analyses.upload_page, name="upload", methods=["GET", "POST"]),
            durable_public,
        ),
        # Each result by its unguessable id (a capability URL); the list (/history) is closed.
        with_rules(Route("/analyses/{analysis_id}", analyses.result_page, name="result"), PUBLIC),
        with_rules(
            Route("/files/{analysis_id}/{name}", analyses.file, name="analysis_file"), PUBLIC
        ),
        with_rules(
            Route("/api/analyses", analyses.api_create, name="api_analyses", methods=["POST"]),
            durable_public,
        ),
        with_rules(
            Route("/api/analyses/{analysis_id}", analyses.api_get, name="api_analysis"),
            durable_public,
        ),
        with_rules(Route("/docs", pages.docs, name="docs"), PUBLIC),
        with_rules(Route("/dashboard", dashboard.dashboard, name="dashboard"), ADMIN),
        with_rules(Route("/api/metrics", dashboard.api_metrics, name="api_metrics"), ADMIN),
        with_rules(Route("/api/events", dashboard.events, name="api_events"), ADMIN_STREAM),
        with_rules(Route("/history", history.history, name="history"), ADMIN),
        with_rules(Route("/history/export.csv", history.export_csv, name="history_export"), ADMIN),
        with_rules(
            Route("/config", config_page.config, name="config", methods=["GET", "POST"]),
            durable_admin,
        ),
        *(with_rules(route, _AUTH_RULES[getattr(route, "name", "")]) for route in auth_routes()),
        with_rules(Route("/healthz", health.healthz, name="healthz"), PROBE_NO_ORIGIN),
        with_rules(Route("/readyz", health.readyz, name="readyz"), PROBE),
        with_rules(Route("/readyz/detail", health.readyz_detail, name="readyz_detail"), ADMIN),
        with_rules(
            Mount("/static", app=StaticFiles(directory=str(STATIC_DIR)), name="static"), static
        ),
    ]
