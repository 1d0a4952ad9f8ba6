"""Start and stop the metrics machinery with the app (called from the lifespan)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from starlette.applications import Starlette

from app.db import Database
from app.metrics import heartbeat
from app.metrics.live import Changes
from app.metrics.recorder import MetricsRecorder
from app.settings import Settings

log = logging.getLogger("crayon.metrics")


def heartbeat_interval(settings: Settings) -> int:
    raw = settings.extra.get("CRAYON_HEARTBEAT_SECONDS", "")
    try:
        value = int(raw)
    except ValueError:
        return heartbeat.DEFAULT_INTERVAL_S
    return min(max(value, 1), 3600)


def flush_interval(settings: Settings) -> float:
    raw = settings.extra.get("CRAYON_METRICS_FLUSH_SECONDS", "")
    try:
        return min(max(float(raw), 0.05), 60.0)
    except ValueError:
        return 1.0


def sse_heartbeat_interval(settings: Settings) -> float:
    raw = settings.extra.get("CRAYON_SSE_HEARTBEAT_SECONDS", "")
    try:
        return min(max(float(raw), 0.2), 60.0)
    except ValueError:
        return 15.0


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


async def start(app: Starlette, settings: Settings, db: Database) -> MetricsRuntime:
    changes = Changes()
    recorder = MetricsRecorder(db, flush_seconds=flush_interval(settings))
    recorder.on_flush(changes.bump)
    runtime = MetricsRuntime(recorder, changes, heartbeat_interval(settings))
    runtime.tasks.append(asyncio.create_task(recorder.run(), name="metrics-flush"))
    runtime.tasks.append(
        asyncio.create_task(heartbeat.run(db, runtime.heartbeat_s), name="heartbeat")
    )
    app.state.metrics = recorder
    app.state.changes = changes
    app.state.heartbeat_s = runtime.heartbeat_s
    app.state.sse_heartbeat_s = sse_heartbeat_interval(settings)
    return runtime
