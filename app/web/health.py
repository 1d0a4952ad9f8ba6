"""Liveness and readiness.

/healthz answers from memory only: it proves the process and its event loop are alive.
/readyz checks what a request needs (app/readiness.py): the database, the schema at head,
the storage (cached), replication, a loaded reference model (app/web/analysis_service.py);
it answers a status only. /readyz/detail is the admin's.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from app.readiness import Cached, CheckResult
from app.services import Services, services
from app.web.analysis_service import MODEL_NOT_READY, analysis_ready


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})


async def readyz(request: Request) -> JSONResponse:
    """Public: a status only (the load balancer's probe). Details: /readyz/detail (admin)."""
    failing, _ = await services(request).readiness.run()
    body: dict[str, Any] = (
        {"status": "ready"}
        if failing is None
        else {
            "status": "not ready",
            "reason": failing,
        }
    )
    return JSONResponse(
        body, status_code=200 if failing is None else 503, headers={"Cache-Control": "no-store"}
    )


async def readyz_detail(request: Request) -> JSONResponse:
    """Admin only (declared in app/web/routes.py): every check with its details."""
    svc = services(request)
    failing, checks = await svc.readiness.run()
    body = {
        "status": "ready" if failing is None else "not ready",
        "failing": failing,
        "checks": checks,
        "uptime_s": round(time.monotonic() - svc.started_monotonic, 1),
    }
    return JSONResponse(
        body,
        status_code=200 if failing is None else 503,
        headers={"Cache-Control": "private, no-store"},
    )


def add_standard_checks(svc: Services) -> None:
    """Database and schema, storage (cached), replication when configured."""
    readiness = svc.readiness

    async def database() -> CheckResult:
        current = await asyncio.wait_for(
            svc.db.fetchval("SELECT version_num FROM alembic_version"), timeout=2
        )
        detail = {"current": current, "head": svc.schema_head}
        if current != svc.schema_head:
            detail["error"] = "schema behind the code: run crayon migrate"
        return CheckResult(current == svc.schema_head, detail)

    async def storage() -> CheckResult:
        status = await run_in_threadpool(svc.storage.status)
        return CheckResult(bool(status.get("ok", False)), dict(status))

    readiness.add("database", database)
    readiness.add("storage", Cached(storage, svc.settings.ready_cache_seconds))
    replication = svc.replication
    if replication is not None:

        async def replicating() -> CheckResult:
            status = await replication.status()
            return CheckResult(status.get("ok") is not False, dict(status))

        readiness.add("replication", replicating)


def add_model_check(svc: Services) -> None:
    """Not ready (503) until the reference model is loaded: an analysis cannot be served."""

    async def model() -> CheckResult:
        if analysis_ready(svc.analyses):
            return CheckResult(True, {"loaded": True})
        return CheckResult(False, {"loaded": False, "error": MODEL_NOT_READY})

    svc.readiness.add("model", model)
