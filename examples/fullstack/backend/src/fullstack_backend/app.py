"""The HTTP API: health for the load balancer, starting a run, and a run's events as SSE."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from fullstack_backend.runs import Event, Run, RunLimitError, RunStore, aiter_events
from fullstack_backend.secrets import ApiKey, load_api_key
from fullstack_backend.settings import Settings
from fullstack_backend.static import static_endpoint
from fullstack_backend.validation import InvalidInput, parse_last_event_id, parse_run_request

log = logging.getLogger("fullstack_backend.app")

SSE_HEADERS = {
    # no-transform: no proxy or CDN may compress or rewrite (and so hold back) the stream.
    "Cache-Control": "no-cache, no-transform",
    # nginx-style proxies buffer responses unless told not to.
    "X-Accel-Buffering": "no",
}


def error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


def frame(event: Event) -> bytes:
    return f"id: {event.id}\nevent: {event.event}\ndata: {event.data}\n\n".encode()


class State:
    """What the app holds between requests (one per process)."""

    def __init__(self, settings: Settings, api_key: ApiKey) -> None:
        self.settings = settings
        self.api_key = api_key
        self.runs = RunStore(
            max_runs=settings.max_runs,
            ring_size=settings.ring_size,
            step_interval_s=settings.step_interval_s,
        )
        self.streams = 0
        # Set when the server is told to stop: open streams say so and end, so the process
        # exits without waiting for clients that may never hang up.
        self.stopping = asyncio.Event()

    @property
    def mode(self) -> str:
        return "offline" if self.api_key.offline else "online"


class BoundedStream(StreamingResponse):
    """A stream that gives its concurrency slot back however it ends (even before it starts)."""

    def __init__(self, state: State, content: AsyncIterator[bytes]) -> None:
        super().__init__(content, media_type="text/event-stream", headers=SSE_HEADERS)
        self._state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._state.streams -= 1


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise InvalidInput(413, f"the body is {declared} bytes; the limit is {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise InvalidInput(413, f"the body is over the {limit}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


async def health(request: Request) -> Response:
    state: State = request.app.state.backend
    return JSONResponse(
        {
            "ok": True,
            "mode": state.mode,
            "key_source": state.api_key.source,
            "runs": len(state.runs),
            "streams": state.streams,
        },
        headers={"Cache-Control": "no-store"},
    )


async def start_run(request: Request) -> Response:
    state: State = request.app.state.backend
    try:
        body = await read_body(request, state.settings.max_body_bytes)
        wanted = parse_run_request(body, request.headers.get("content-type", ""))
    except InvalidInput as bad:
        return error(bad.status, bad.message, **({"fields": bad.fields} if bad.fields else {}))
    try:
        run = state.runs.start(wanted.prompt, wanted.steps, state.mode)
    except RunLimitError as busy:
        return error(503, f"{busy}; try again shortly", retry_after_s=5)
    url = f"/api/runs/{run.id}/events"
    return JSONResponse(
        {"id": run.id, "mode": run.mode, "steps": run.count, "events": url},
        status_code=201,
        headers={"Location": url},
    )


async def run_events(request: Request) -> Response:
    state: State = request.app.state.backend
    run = state.runs.get(request.path_params["run_id"])
    if run is None:
        # 404 also stops EventSource from reconnecting: right for a run this process never had.
        return error(404, "no such run here (finished runs are dropped; the id may be wrong)")
    try:
        raw = request.headers.get("last-event-id") or request.query_params.get("lastEventId")
        last_seen = parse_last_event_id(raw)
    except InvalidInput as bad:
        return error(bad.status, bad.message)
    if last_seen > run.last_id:
        return error(
            400,
            f"Last-Event-ID {last_seen} is ahead of this run (last id {run.last_id}): "
            "the run may be from an earlier server; start a new run",
        )
    if run.finished and last_seen >= run.last_id:
        # 204 tells EventSource to stop reconnecting: the client has everything.
        return Response(status_code=204)
    if state.streams >= state.settings.max_streams:
        return error(
            503,
            f"too many open streams ({state.settings.max_streams}); retry in a few seconds",
            retry_after_s=5,
        )
    state.streams += 1
    return BoundedStream(state, sse(state, run, last_seen))


async def sse(state: State, run: Run, last_seen: int) -> AsyncIterator[bytes]:
    settings = state.settings
    # retry: first, and a comment so headers and the first bytes leave at once.
    yield f"retry: {settings.retry_ms}\n: stream {run.id}\n\n".encode()
    if last_seen and last_seen + 1 < run.oldest_id:
        # The ring moved past the client: say so, and place its cursor before what is kept.
        gap = {"missed_from": last_seen + 1, "resume_from": run.oldest_id}
        yield frame(Event(run.oldest_id - 1, "gap", json.dumps(gap)))
        last_seen = run.oldest_id - 1
    events = aiter_events(run, last_seen, settings.heartbeat_s)
    stop = asyncio.ensure_future(state.stopping.wait())
    step: asyncio.Future[Event | None] | None = None
    try:
        while True:
            step = asyncio.ensure_future(anext(events))
            done, _ = await asyncio.wait({step, stop}, return_when=asyncio.FIRST_COMPLETED)
            if step not in done:
                payload = json.dumps({"reason": "server stopping", "reconnect": True})
                yield f"id: {last_seen}\nevent: shutdown\ndata: {payload}\n\n".encode()
                return
            try:
                item = step.result()
            except StopAsyncIteration:
                return
            if item is None:
                yield f": heartbeat {time.time():.3f}\n\n".encode()
            else:
                last_seen = item.id
                yield frame(item)
    finally:
        # However the stream ends (run over, client gone, server stopping), nothing is left
        # waiting: the pending read is cancelled before its generator is closed.
        stop.cancel()
        if step is not None and not step.done():
            step.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await step
        await events.aclose()


def create_app(settings: Settings | None = None, api_key: ApiKey | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    key = api_key or load_api_key(settings.gemini_secret_id)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state = State(settings, key)
        app.state.backend = state
        log.info(
            "backend ready",
            extra={
                "mode": state.mode,
                "key_source": key.source,
                "heartbeat_s": settings.heartbeat_s,
                "max_streams": settings.max_streams,
            },
        )
        try:
            yield
        finally:
            state.stopping.set()
            await state.runs.close()

    routes = [
        Route("/api/health", health, methods=["GET"]),
        Route("/api/runs", start_run, methods=["POST"]),
        Route("/api/runs/{run_id:str}/events", run_events, methods=["GET"]),
    ]
    if settings.static_dir:
        # Dev mode: the frontend's export on the same origin (production: CloudFront and S3).
        serve = static_endpoint(Path(settings.static_dir))
        routes.append(Route("/{path:path}", serve, methods=["GET", "HEAD"]))
    return Starlette(routes=routes, lifespan=lifespan)
