"""The app's long-lived parts on one typed object, built by the lifespan (app/main.py) and
stored once as `app.state.services`; handlers read typed attributes through `services()`."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import HTTPConnection

from app.metrics.live import Shared
from app.readiness import Readiness

if TYPE_CHECKING:
    from app.auth.service import AuthService
    from app.db import Database
    from app.metrics.live import Changes
    from app.metrics.recorder import MetricsRecorder
    from app.replication.monitor import Replication
    from app.settings import Settings
    from app.storage.base import Storage
    from app.web.analysis_service import AnalysisService


@dataclass
class Services:
    settings: Settings
    auth: AuthService
    db: Database
    storage: Storage
    schema_head: str
    started_monotonic: float
    started_at: float
    metrics: MetricsRecorder
    changes: Changes
    heartbeat_s: int
    sse_heartbeat_s: float
    analyses: AnalysisService
    stopping: asyncio.Event
    replication: Replication | None = None
    # Named readiness checks (/readyz); other parts add theirs (e.g. "the model is loaded").
    readiness: Readiness = field(default_factory=Readiness)
    # What the open event streams compute once per change and share (app/web/dashboard.py).
    live_figures: Shared[dict[str, Any]] = field(default_factory=Shared)
    live_sessions: Shared[bool] = field(default_factory=Shared)


def services(conn: HTTPConnection) -> Services:
    """The running app's services (set by the lifespan before the first request)."""
    found = getattr(conn.app.state, "services", None)
    if not isinstance(found, Services):
        raise RuntimeError("the app's services are not started (the lifespan has not run)")
    return found
