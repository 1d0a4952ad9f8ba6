"""The ASGI application, composed explicitly: settings -> database -> storage -> routes.

Request path: uvicorn -> ClientAddressMiddleware (the client, trusted proxy hops only) ->
RequestIdMiddleware (id + JSON access log) -> SecurityHeaders ->
OriginSecret (when set) -> BodySizeLimit -> AuthGate (app/auth/gate.py) -> Router
(app/web/routes.py) -> endpoint.
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
from app.settings import Settings
from app.storage.factory import build_storage
from app.storage.spool import SpoolingStorage
from app.web import errors
from app.web.middleware import (
    BodySizeLimitMiddleware,
    OriginSecretMiddleware,
    RequestIdMiddleware,
    SecurityHeadersMiddleware,
)
from app.web.routes import PUBLIC_PATHS, build_routes
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
        app.state.settings = settings
        app.state.db = db
        app.state.storage = storage
        app.state.schema_head = migrate.head_revision()
        app.state.started_monotonic = time.monotonic()
        app.state.started_at = time.time()
        background: list[asyncio.Task[None]] = []
        if isinstance(storage, SpoolingStorage):
            await asyncio.to_thread(storage.drain)
            background.append(asyncio.create_task(_drain_spool_forever(storage)))
        await auth.start(db)
        stop_services = await start_services(app, settings, db, storage)
        stop_replication = await replication.attach(app, settings)
        log.info(
            "crayon started",
            extra={"env": settings.env, "storage": storage.name, "db": str(db.path)},
        )
        try:
            yield
        finally:
            await stop_replication()
            await stop_services()
            await auth.stop()
            for task in background:
                task.cancel()
            await db.close()

    middleware = [
        # Outermost: the limiter, the metrics and the access log all read its decision.
        Middleware(ClientAddressMiddleware, policy=ProxyPolicy.from_settings(settings)),
        Middleware(RequestIdMiddleware),
        Middleware(MetricsMiddleware),
        Middleware(SecurityHeadersMiddleware, hsts=settings.is_production),
    ]
    origin = origin_secret_source(settings)  # CRAYON_ORIGIN_SECRET_ID, else the plain value
    if origin is not None:
        middleware.append(
            Middleware(OriginSecretMiddleware, source=origin, open_paths=frozenset({"/healthz"}))
        )
    middleware.append(
        Middleware(BodySizeLimitMiddleware, max_bytes=settings.max_upload_mb * 1024 * 1024 + 65536)
    )
    # Innermost: sees the body only within the size limit; closes every non-public route.
    middleware.append(Middleware(AuthGate, auth=auth, public_paths=PUBLIC_PATHS))
    # CRAYON_DURABLE_WRITES: a write's answer waits until Litestream has shipped it.
    middleware.append(Middleware(DurableAckMiddleware))
    app = Starlette(
        routes=build_routes(),
        middleware=middleware,
        lifespan=lifespan,
        exception_handlers=errors.handlers(),
    )
    app.state.settings = settings
    app.state.auth = auth
    return app
