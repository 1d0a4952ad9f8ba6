"""`/demo` (public): the pre-analysed synthetic samples made by `crayon demo ensure`."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response

from app.services import services
from app.web.analysis_service import public_view
from app.web.pages import render


async def demo(request: Request) -> Response:
    rows = await services(request).db.fetchall(
        "SELECT id, created_at, source, age_group, score, verdict, threshold, model_version, "
        "processing_ms, width, height, drawing_key, heatmap_key, result_json, country "
        "FROM analyses WHERE source = 'demo'"
    )
    samples = []
    for row in rows:
        view = public_view(row)
        extra = json.loads(row["result_json"])
        view["title"] = extra.get("title", row["id"])
        view["position"] = extra.get("position", 99)
        samples.append(view)
    samples.sort(key=lambda s: (s["position"], s["id"]))
    return render(request, "demo.html", samples=samples)
