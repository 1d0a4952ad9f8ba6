"""Uploads and results: `POST /api/analyses`, `GET /api/analyses/{id}`, `/upload`,
`/analyses/{id}` and the images under `/files/{id}/`.

The API and the form share one path (`AnalysisService.submit`). Every bad input gets a 4xx
with a sentence a person understands; oversized bodies are refused from Content-Length by
`BodySizeLimitMiddleware` before any byte of the body is read, and while streaming otherwise.
Results are public by their id (128 random bits: a capability URL); the list of analyses is
not (see /history).
"""

from __future__ import annotations

import re
import time
from typing import Any, Final

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from app.analysis.common import AGE_GROUPS
from app.analysis.decode import MAX_UPLOAD_BYTES
from app.metrics.middleware import country_of, session_of
from app.services import services
from app.storage.keys import InvalidKey, validate_key
from app.web.analysis_service import ID_PATTERN, AnalysisService, Origin, Refused, public_view
from app.web.errors import error_response
from app.web.middleware import BodyTooLarge
from app.web.pages import render

_ID = re.compile(f"^{ID_PATTERN}$")
_FILES: Final = {"drawing.png": "drawing_key", "heatmap.png": "heatmap_key"}
AGE_LABELS: Final = {"3-5": "3 to 5 years", "6-8": "6 to 8 years", "9-12": "9 to 12 years"}


def service(request: Request) -> AnalysisService:
    svc = getattr(getattr(request.app.state, "services", None), "analyses", None)
    if not isinstance(svc, AnalysisService):
        raise Refused("The analysis service is not running.", 503)
    return svc


async def _read_upload(request: Request) -> tuple[bytes, str | None, object]:
    """(file bytes, declared content type, age group) from a multipart body, or Refused."""
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        raise Refused(
            "Send the drawing as multipart/form-data with the fields 'file' and 'age_group'.",
            415,
        )
    try:
        form = await request.form(max_files=1, max_fields=8, max_part_size=64 * 1024)
    except (BodyTooLarge, HTTPException):
        raise
    except ClientDisconnect:
        raise Refused("The upload was interrupted before it finished.", 400) from None
    except Exception:
        raise Refused(
            "The upload could not be read: the multipart body is malformed.", 400
        ) from None
    try:
        upload = form.get("file")
        age_group = form.get("age_group")
        if not isinstance(upload, UploadFile):
            raise Refused("Attach the drawing as a file in the field 'file'.", 400)
        # CRAYON_MAX_UPLOAD_MB: the file itself, not only the body (which has form overhead).
        limit = services(request).settings.max_upload_bytes
        data = await upload.read(limit + 1)
        if len(data) > limit:
            raise Refused(f"The file is larger than the {limit // 1_048_576} MB limit.", 413)
        return data, upload.content_type, age_group
    finally:
        await form.close()


def _origin(request: Request) -> Origin:
    return Origin(
        session_hash=session_of(request.scope, time.time()), country=country_of(request.scope)
    )


async def api_create(request: Request) -> Response:
    try:
        data, content_type, age_group = await _read_upload(request)
        view = await service(request).submit(data, content_type, age_group, _origin(request))
    except Refused as exc:
        return error_response(request, exc.status, exc.message, _retry(exc))
    return JSONResponse(view, status_code=201, headers={"Location": f"/api/analyses/{view['id']}"})


async def api_get(request: Request) -> Response:
    analysis_id = request.path_params["analysis_id"]
    row = await service(request).get(analysis_id) if _ID.match(analysis_id) else None
    if row is None:
        return error_response(request, 404, f"There is no analysis with id {analysis_id[:64]!r}.")
    return JSONResponse(public_view(row), headers={"Cache-Control": "no-store"})


def _form_context(request: Request, **extra: Any) -> dict[str, Any]:
    return {
        "age_groups": AGE_GROUPS,
        "age_labels": AGE_LABELS,
        "max_mb": min(MAX_UPLOAD_BYTES, services(request).settings.max_upload_bytes) // 1_048_576,
        **extra,
    }


async def upload_page(request: Request) -> Response:
    if request.method != "POST":
        return render(request, "upload.html", **_form_context(request))
    age_group: object = None
    try:
        data, content_type, age_group = await _read_upload(request)
        view = await service(request).submit(data, content_type, age_group, _origin(request))
    except Refused as exc:
        return render(
            request,
            "upload.html",
            status_code=exc.status,
            **_form_context(request, error=exc.message, chosen=age_group),
        )
    return RedirectResponse(view["result_url"], status_code=303)


async def result_page(request: Request) -> Response:
    analysis_id = request.path_params["analysis_id"]
    row = await service(request).get(analysis_id) if _ID.match(analysis_id) else None
    if row is None:
        return error_response(request, 404, "There is no analysis at this address.")
    return render(request, "result.html", a=public_view(row), age_labels=AGE_LABELS)


async def file(request: Request) -> Response:
    analysis_id = request.path_params["analysis_id"]
    column = _FILES.get(request.path_params["name"])
    if column is None or not _ID.match(analysis_id):
        return error_response(request, 404, "There is no such image.")
    row = await service(request).get(analysis_id)
    if row is None:
        return error_response(request, 404, "There is no such image.")
    try:
        key = validate_key(row[column])
        data = await run_in_threadpool(services(request).storage.get, key)
    except (KeyError, InvalidKey):
        return error_response(request, 404, "The image is not in storage.")
    cache = "public, max-age=86400" if row["source"] == "demo" else "private, max-age=86400"
    return Response(
        data,
        media_type="image/png",
        headers={"Cache-Control": cache, "Content-Disposition": "inline"},
    )


def _retry(exc: Refused) -> dict[str, str] | None:
    return {"Retry-After": "30"} if exc.status in (429, 503) else None
