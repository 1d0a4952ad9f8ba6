"""Start and stop this package's long-lived parts with the app (one call from the lifespan).

Metrics (recorder, heartbeats, live changes), the analysis service (model, threshold) and the
stop signal for the live streams.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.applications import Starlette

from app.db import Database
from app.metrics import runtime as metrics_runtime
from app.settings import Settings
from app.storage.base import Storage
from app.web.analysis_service import AnalysisService
from app.web.dashboard import install_stop_signal


async def start_services(
    app: Starlette, settings: Settings, db: Database, storage: Storage
) -> Callable[[], Awaitable[None]]:
    metrics = await metrics_runtime.start(app, settings, db)
    analyses = AnalysisService(settings, db, storage)
    analyses.changes = metrics.changes
    await analyses.start()
    app.state.analyses = analyses
    install_stop_signal(app)

    async def stop() -> None:
        app.state.stopping.set()
        await analyses.stop()
        await metrics.stop()

    return stop
