"""Start and stop this package's long-lived parts with the app (one call from the lifespan).

Metrics (recorder, heartbeats, live changes), the analysis service (model, threshold) and the
stop signal for the live streams.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from app.db import Database
from app.metrics import runtime as metrics_runtime
from app.settings import Settings
from app.storage.base import Storage
from app.web.analysis_service import AnalysisService
from app.web.dashboard import install_stop_signal


@dataclass
class Started:
    metrics: metrics_runtime.MetricsRuntime
    analyses: AnalysisService
    stopping: asyncio.Event

    async def stop(self) -> None:
        self.stopping.set()
        await self.analyses.stop()
        await self.metrics.stop()


async def start_services(settings: Settings, db: Database, storage: Storage) -> Started:
    metrics = await metrics_runtime.start(settings, db)
    analyses = AnalysisService(settings, db, storage)
    analyses.changes = metrics.changes
    await analyses.start()
    return Started(metrics, analyses, install_stop_signal())
