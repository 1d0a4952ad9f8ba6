"""The ASGI application, composed explicitly: settings -> database -> storage -> routes.

Request path: uvicorn -> ClientAddressMiddleware (the client, trusted proxy hops only) ->
RequestIdMiddleware (id + JSON access log) -> RequestLimit (requests in flight, event
streams apart; app/web/limits.py) -> RouteRules (the matched route's declared rules)
-> Metrics -> SecurityHeaders -> HostCheck -> PrivateCache -> OriginSecret (when set) ->
BodySizeLimit -> AuthGate (app/auth/gate.py) -> DurableAck -> Router (app/web/routes.py) ->
endpoint. The running parts live on one `Services` object (app/services.py),
`app.state.services`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware

from app import migrate
from app.auth.clientaddr import ClientAddressMiddleware, ProxyPolicy
from app.auth.gate import AuthGate
from app.auth.secret_source import origin_secret_source, warn_about_secrets_in_environment
from app.auth.service import AuthService
from app.db import Database
from app.metrics.middleware import MetricsMiddleware
from app.replication import monitor as replication
from app.replication.durable import DurableAckMiddleware
from app.services import Services
from app.settings import Settings
from app.storage.factory import build_storage
from app.storage.spool import SpoolingStorage
from app.web import errors, health
from app.web.limits import RequestLimitMiddleware
from app.web.middleware import (
    BodySizeLimitMiddleware,
    HostCheckMiddleware,
    OriginSecretMiddleware,
    PrivateCacheMiddleware,
    RequestIdMiddleware,
    SecurityHeadersMiddleware,
)
from app.web.routes import build_routes
from app.web.rules import RouteRulesMiddleware
from app.web.services import start_services

log = logging.getLogger("crayon.app")

SPOOL_DRAIN_SECONDS = 15.0


class SchemaBehind(RuntimeError):
    pass


async def _drain_spool_forever(storage: SpoolingStorage) -> None:
    while True:
        await asyncio.sleep(SPOOL_DRAIN_SECONDS)
        try:
            await asyncio.to_thread(storage.drain)
        except Exception:
            log.exception("spool drain failed; will retry")


def create_app(settings: Settings) -> Starlette:
    auth = AuthService(settings)
    warn_about_secrets_in_environment(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        problem = migrate.pending_message(settings.database_path)
        if problem:
            raise SchemaBehind(problem)
        db = Database(settings.database_path)
        await db.open()
        storage = build_storage(settings)
        started_monotonic, started_at = time.monotonic(), time.time()
        background: list[asyncio.Task[None]] = []
        if isinstance(storage, SpoolingStorage):
            await asyncio.to_thread(storage.drain)
            background.append(asyncio.create_task(_drain_spool_forever(storage)))
        await auth.start(db)
        started = await start_services(settings, db, storage)
        replica, stop_replication = await replication.attach(settings)
        svc = Services(
            settings=settings,
            auth=auth,
            db=db,
            storage=storage,
            schema_head=migrate.head_revision(),
            started_monotonic=started_monotonic,
            started_at=started_at,
            metrics=started.metrics.recorder,
            changes=started.metrics.changes,
            heartbeat_s=started.metrics.heartbeat_s,
            sse_heartbeat_s=settings.sse_heartbeat_seconds,
            analyses=started.analyses,
            stopping=started.stopping,
            replication=replica,
        )
        health.add_standard_checks(svc)
        health.add_model_check(svc)
        app.state.services = svc
        log.info(
            "crayon started",
            extra={"env": settings.env, "storage": storage.name, "db": str(db.path)},
        )
        if settings.host_unpinned:
            log.warning(
                "any Host header is accepted: set CRAYON_PUBLIC_URL or CRAYON_ALLOWED_HOSTS "
                "so requests for other host names get 400 (links stay relative until then)"
            )
        try:
            yield
        finally:
            await stop_replication()
            await started.stop()
            await auth.stop()
            for task in background:
                task.cancel()
            await db.close()

    middleware = [
        # Outermost: the limiter, the metrics and the access log all read its decision.
        Middleware(ClientAddressMiddleware, policy=ProxyPolicy.from_settings(settings)),
        Middleware(RequestIdMiddleware),
        # Requests in flight and event streams bounded apart; /healthz never refused.
        Middleware(
            RequestLimitMiddleware,
            max_requests=settings.limit_concurrency,
            max_streams=settings.max_event_streams,
        ),
        # The matched route's rules (app/web/routes.py), for every middleware below.
        Middleware(RouteRulesMiddleware),
        Middleware(MetricsMiddleware),
        Middleware(SecurityHeadersMiddleware, hsts=settings.is_production),
        Middleware(HostCheckMiddleware, hosts=settings.hosts, public_url=settings.public_url),
        Middleware(PrivateCacheMiddleware),
    ]
    origin = origin_secret_source(settings)  # CRAYON_ORIGIN_SECRET_ID, else the plain value
    if origin is not None:
        # Which routes it guards is each route's `origin_check` rule (app/web/routes.py).
        middleware.append(Middleware(OriginSecretMiddleware, source=origin))
    middleware.append(
        Middleware(BodySizeLimitMiddleware, max_bytes=settings.max_upload_bytes + 65536)
    )
    # Innermost: sees the body only within the size limit; closes every non-public route.
    middleware.append(Middleware(AuthGate, auth=auth))
    # CRAYON_DURABLE_WRITES: a write's answer waits until Litestream has shipped it.
    middleware.append(Middleware(DurableAckMiddleware))
    app = Starlette(
        routes=build_routes(),
        middleware=middleware,
        lifespan=lifespan,
        exception_handlers=errors.handlers(),
    )
    # Before the lifespan (error pages rendered early) only the settings are needed.
    app.state.settings = settings
    return app
