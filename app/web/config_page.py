"""`/config` (protected): what this instance runs with, and the editable anomaly threshold.

The threshold is stored in `app_settings` (so it survives restarts and is replicated with the
database) and applies to analyses from the next one on; stored results keep the threshold they
were judged against. The form carries the session's CSRF token (checked by the auth layer).
"""

from __future__ import annotations

import inspect
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from app.services import services
from app.web.analysis_service import AnalysisService, Refused
from app.web.pages import render


async def replication_status(request: Request) -> dict[str, Any]:
    """The replication component's status, or "not configured"."""
    replication = services(request).replication
    if replication is None:
        return {"configured": False, "summary": "not configured"}
    try:
        status: Any = replication.status()
        if inspect.isawaitable(status):
            status = await status
    except Exception as exc:  # show the failure instead of failing the page
        return {"configured": True, "ok": False, "summary": f"error: {exc}"}
    if not isinstance(status, dict):
        return {"configured": True, "summary": str(status)}
    return {"configured": True, **status}


async def _context(request: Request) -> dict[str, Any]:
    state = services(request)
    settings = state.settings
    svc = state.analyses
    model = svc.model if isinstance(svc, AnalysisService) else None
    storage_status = await run_in_threadpool(state.storage.status)
    return {
        "environment": settings.env,
        "storage_backend": settings.storage_backend,
        "storage_name": getattr(state.storage, "name", settings.storage_backend),
        "storage_status": storage_status,
        "bucket": settings.s3_bucket,
        "prefix": settings.s3_prefix,
        "data_dir": str(settings.data_dir),
        "model": None
        if model is None
        else {
            "version": model.version,
            "trained_at": model.trained_at,
            "source": model.source,
            "samples": model.n_samples,
        },
        "replication": await replication_status(request),
        "replica_url": settings.replica_url,
        "threshold": svc.threshold if isinstance(svc, AnalysisService) else None,
        "schema": state.schema_head,
    }


async def config(request: Request) -> Response:
    if request.method == "POST":
        return await _save(request)
    return render(
        request,
        "config.html",
        saved=request.query_params.get("saved") == "1",
        **await _context(request),
    )


async def _save(request: Request) -> Response:
    form = await request.form(max_files=0, max_fields=8, max_part_size=4096)
    raw = str(form.get("threshold", "")).strip()
    svc = services(request).analyses
    error = None
    try:
        value = float(raw)
        if value != value:  # NaN
            raise ValueError
        await svc.set_threshold(value)
    except ValueError:
        error = f"{raw[:20]!r} is not a number: enter a threshold from 0 to 1, e.g. 0.5."
    except Refused as exc:
        error = exc.message
    if error:
        return render(
            request, "config.html", status_code=400, error=error, **await _context(request)
        )
    return RedirectResponse("/config?saved=1", status_code=303)
