"""Liveness and readiness.

/healthz answers from memory only: it proves the process and its event loop are alive.
/readyz checks what a request needs: the database, the schema at head, the storage, and a
loaded reference model (an analysis can be served).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from app import migrate
from app.web.analysis_service import MODEL_NOT_READY, analysis_ready


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})


async def readyz(request: Request) -> JSONResponse:
    state = request.app.state
    checks: dict[str, Any] = {}
    problems: list[str] = []

    head = state.schema_head
    try:
        current = await asyncio.wait_for(
            state.db.fetchval("SELECT version_num FROM alembic_version"), timeout=2
        )
        checks["database"] = "ok"
        checks["migrations"] = {"current": current, "head": head}
        if current != head:
            problems.append(
                f"database at revision {current}, code expects {head}: run crayon migrate"
            )
    except Exception as exc:  # any failure means not ready; the reason is reported
        checks["database"] = f"error: {exc}"
        problems.append("database unreachable")

    storage_status = await run_in_threadpool(state.storage.status)
    checks["storage"] = storage_status
    if not storage_status.get("ok", False):
        problems.append(f"storage: {storage_status.get('error', 'unreachable')}")

    model_ready = analysis_ready(getattr(state, "analyses", None))
    checks["model"] = "ok" if model_ready else "not loaded"
    if not model_ready:
        problems.append(MODEL_NOT_READY)

    replication = getattr(state, "replication", None)
    if replication is not None:
        rep = await replication.status()
        checks["replication"] = rep
        if rep.get("ok") is False:
            problems.append(f"replication: {rep.get('error', 'failing')}")

    body = {
        "status": "ready" if not problems else "not ready",
        "problems": problems,
        "checks": checks,
        "uptime_s": round(time.monotonic() - state.started_monotonic, 1),
    }
    return JSONResponse(
        body, status_code=200 if not problems else 503, headers={"Cache-Control": "no-store"}
    )


def schema_head() -> str:
    return migrate.head_revision()
