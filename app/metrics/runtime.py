"""Start and stop the metrics machinery with the app (called from the lifespan)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from app.db import Database
from app.metrics import heartbeat
from app.metrics.live import Changes
from app.metrics.recorder import MetricsRecorder
from app.settings import Settings

log = logging.getLogger("crayon.metrics")


@dataclass
class MetricsRuntime:
    recorder: MetricsRecorder
    changes: Changes
    heartbeat_s: int
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.recorder.flush()


async def start(settings: Settings, db: Database) -> MetricsRuntime:
    changes = Changes()
    recorder = MetricsRecorder(db, flush_seconds=settings.metrics_flush_seconds)
    recorder.on_flush(changes.bump)
    runtime = MetricsRuntime(recorder, changes, settings.heartbeat_seconds)
    runtime.tasks.append(asyncio.create_task(recorder.run(), name="metrics-flush"))
    runtime.tasks.append(
        asyncio.create_task(heartbeat.run(db, runtime.heartbeat_s), name="heartbeat")
    )
    return runtime
