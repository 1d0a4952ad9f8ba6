"""The admin dashboard: `/dashboard`, `GET /api/metrics` and the live stream `/api/events`.

All three are protected (declared ADMIN in app/web/routes.py) and show the same figures, from
`app.metrics.queries.usage_metrics`. Pending request records are flushed before figures are
read, so a figure never lags behind a request that has finished.

The stream is server-sent events: an `event: metrics` message with the figures whenever they
change (at most about once a second, and at once after an analysis), a comment line
(`: heartbeat`) every HEARTBEAT_S seconds so proxies (ALB idle timeout 60 s, CloudFront origin
read timeout 30 s) never see an idle connection, `Cache-Control: private, no-store` and
`X-Accel-Buffering: no` so nothing buffers it. It ends cleanly when the client goes away, after
MAX_STREAM_S (the browser reconnects by itself, per the `retry:` field), when the server is
asked to stop (SIGTERM/SIGINT), so a graceful shutdown does not wait for the stream, or when the
admin session that opened it ends (logout, idle or absolute timeout: the server-side record is
re-read at least every SESSION_CHECK_S, without counting as activity): it sends `event: bye`
and closes. The browser's reconnect then meets the login gate.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import time
from collections.abc import AsyncIterator
from types import FrameType
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from app.auth.service import AuthService
from app.auth.sessions import AdminSession
from app.metrics.live import Changes
from app.metrics.queries import WINDOWS, usage_metrics, window_name
from app.services import services
from app.web import charts
from app.web.pages import render

HEARTBEAT_S: Final = 15.0
MAX_STREAM_S: Final = 600.0
MIN_EVENT_GAP_S: Final = 0.5
SESSION_CHECK_S: Final = 1.0
KIND_LABELS: Final = {
    "page": "pages",
    "api": "API",
    "files": "images",
    "static": "static files",
    "events": "live streams",
    "health": "health probes",
}


async def figures(request: Request, window: str) -> dict[str, Any]:
    svc = services(request)
    await svc.metrics.flush()
    return await usage_metrics(svc.db, window=window, heartbeat_s=svc.heartbeat_s)


def chart_context(m: dict[str, Any]) -> dict[str, Any]:
    per_day = m["series"]["analyses_per_day"]
    per_hour = m["series"]["requests_per_hour"]
    countries = sorted(m["geographic_distribution"].items(), key=lambda kv: (-kv[1], kv[0]))
    kinds = [
        (KIND_LABELS.get(k, k), float(v))
        for k, v in sorted(m["window_requests_by_kind"].items(), key=lambda kv: -kv[1])
    ]
    typical = m["window_analyses"] - m["window_anomalous"]
    return {
        "chart_analyses": charts.bar_chart(
            [(p["day"][5:], float(p["count"])) for p in per_day],
            title="Analyses per day, last 30 days",
            label_every=5,
            chart_id="chart-analyses",
        ),
        "chart_ms": charts.bar_chart(
            [(p["day"][5:], float(p["avg_ms"] or 0)) for p in per_day[-14:]],
            title="Average processing time per day (ms), last 14 days",
            colour="#0c8599",
            label_every=3,
            chart_id="chart-ms",
            width=420,
        ),
        "chart_requests": charts.bar_chart(
            [(p["hour"][11:16], float(p["count"])) for p in per_hour],
            title="Requests per hour, last 24 hours (5xx in red)",
            colour="#1971c2",
            overlay=[float(p["errors"]) for p in per_hour],
            overlay_label="errors",
            label_every=4,
            chart_id="chart-requests",
        ),
        "chart_countries": charts.hbar_chart(
            [(c, float(n)) for c, n in countries],
            title="Requests by country",
            chart_id="chart-countries",
        ),
        "chart_kinds": charts.hbar_chart(
            kinds, title="Requests by kind", colour="#5f3dc4", chart_id="chart-kinds"
        ),
        "chart_verdicts": charts.hbar_chart(
            [("typical", float(typical)), ("anomalous", float(m["window_anomalous"]))]
            if m["window_analyses"]
            else [],
            title="Verdicts",
            colour="#2b8a3e",
            chart_id="chart-verdicts",
            empty="No analyses in this window",
        ),
        "chart_uptime": charts.gauge(
            m["uptime_percentage"], title="Uptime", chart_id="chart-uptime"
        ),
    }


async def dashboard(request: Request) -> Response:
    window = window_name(request.query_params.get("window"))
    m = await figures(request, window)
    return render(
        request,
        "dashboard.html",
        m=m,
        window=window,
        windows=list(WINDOWS),
        **chart_context(m),
    )


async def api_metrics(request: Request) -> Response:
    window = window_name(request.query_params.get("window"))
    return JSONResponse(await figures(request, window), headers={"Cache-Control": "no-store"})


def install_stop_signal() -> asyncio.Event:
    """An event set when the process is asked to stop (chained to uvicorn's handler).

    uvicorn waits for open responses before it runs the lifespan shutdown, so an endless stream
    would hold a graceful shutdown for its whole timeout; with this event the streams end at once.
    Outside the main thread (tests with TestClient) there is no signal to chain: nothing to do.
    """
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous = signal.getsignal(sig)

        def handler(signum: int, frame: FrameType | None, previous: Any = previous) -> None:
            loop.call_soon_threadsafe(stopping.set)
            if callable(previous):
                previous(signum, frame)

        with contextlib.suppress(ValueError):  # not the main thread
            signal.signal(sig, handler)
    return stopping


def _sse(event: str, data: dict[str, Any], event_id: int | None = None) -> str:
    head = f"event: {event}\n" + (f"id: {event_id}\n" if event_id is not None else "")
    return head + f"data: {json.dumps(data, separators=(',', ':'))}\n\n"


async def events(request: Request) -> Response:
    window = window_name(request.query_params.get("window"))
    svc = services(request)
    changes: Changes = svc.changes
    stopping: asyncio.Event = svc.stopping
    heartbeat_s = svc.sse_heartbeat_s
    # The gate let this request in with a live session; the stream outlives that check.
    session = getattr(request.state, "admin_session", None)
    auth: AuthService = svc.auth

    async def session_ended() -> bool:
        if not isinstance(session, AdminSession):
            return True  # fail closed: a stream without a known session does not run
        store = auth.store
        if store is None:
            return True
        digest = session.digest
        # Streams of one session share one look-up per SESSION_CHECK_S.
        period = int(time.monotonic() // SESSION_CHECK_S)
        return not await svc.live_sessions.get(digest, period, lambda: store.is_live(digest))

    async def shared_figures(version: int) -> dict[str, Any]:
        # Every stream wakes on the same change: the figures are computed once for all.
        return await svc.live_figures.get(window, version, lambda: figures(request, window))

    async def stream() -> AsyncIterator[str]:
        started = last_write = checked = time.monotonic()
        seen = changes.version
        yield "retry: 3000\n"
        yield _sse("metrics", await shared_figures(seen), seen)
        while True:
            now = time.monotonic()
            if now - checked >= SESSION_CHECK_S:
                checked = now
                if await session_ended():
                    yield _sse("bye", {"reason": "session ended"})
                    return
            if stopping.is_set() or now - started > MAX_STREAM_S:
                yield _sse(
                    "bye", {"reason": "server stopping" if stopping.is_set() else "reconnect"}
                )
                return
            wait = max(0.05, min(heartbeat_s - (now - last_write), 1.0))
            changed = await changes.wait_newer(seen, wait)
            if changed:
                seen = changes.version
                yield _sse("metrics", await shared_figures(seen), seen)
                last_write = time.monotonic()
                await asyncio.sleep(MIN_EVENT_GAP_S)
            elif time.monotonic() - last_write >= heartbeat_s:
                yield f": heartbeat {int(time.time())}\n\n"
                last_write = time.monotonic()

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={
            "Cache-Control": "private, no-store",
            "X-Accel-Buffering": "no",
        },
    )
