"""The app's own load bound (app/web/limits.py): requests in flight are bounded, event streams
have a cap of their own, and /healthz is never refused for load."""

from __future__ import annotations

import asyncio

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from app.web.limits import RequestLimitMiddleware
from app.web.routes import build_routes
from app.web.rules import PUBLIC, RouteRules, declared_rules, with_rules


def _app(release: asyncio.Event) -> Starlette:
    async def slow(request: Request) -> Response:
        await release.wait()
        return PlainTextResponse("done")

    async def fast(request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(
        routes=[
            with_rules(Route("/slow", slow), PUBLIC),
            with_rules(Route("/stream", slow), RouteRules(public=True, bound="stream")),
            with_rules(Route("/healthz", fast), RouteRules(public=True, bound="none")),
            with_rules(Route("/fast", fast), PUBLIC),
        ],
        middleware=[Middleware(RequestLimitMiddleware, max_requests=2, max_streams=1)],
    )


async def _hold(http: httpx.AsyncClient, path: str, n: int) -> list[asyncio.Task[httpx.Response]]:
    tasks = [asyncio.create_task(http.get(path)) for _ in range(n)]
    await asyncio.sleep(0.05)  # they are in flight, waiting on `release`
    return tasks


async def test_requests_beyond_the_bound_get_503_with_retry_after_and_probes_pass() -> None:
    release = asyncio.Event()
    transport = httpx.ASGITransport(app=_app(release))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        held = await _hold(http, "/slow", 2)
        refused = await http.get("/fast")
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "1"
        assert "busy" in refused.text
        # The probe is not counted, whatever is in flight.
        assert (await http.get("/healthz")).status_code == 200
        release.set()
        assert [(await t).status_code for t in held] == [200, 200]
        # In flight counts down again: the bound is requests, not a quota.
        assert (await http.get("/fast")).status_code == 200


async def test_event_streams_have_their_own_cap_and_do_not_use_up_requests() -> None:
    release = asyncio.Event()
    transport = httpx.ASGITransport(app=_app(release))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        stream = await _hold(http, "/stream", 1)
        second = await http.get("/stream")
        assert second.status_code == 503 and second.headers["retry-after"] == "10"
        # The open stream takes nothing from the request bound (2): two requests still fit.
        held = await _hold(http, "/slow", 2)
        assert all(not t.done() for t in held)
        release.set()
        assert [(await t).status_code for t in [*stream, *held]] == [200, 200, 200]


def test_the_route_table_declares_the_probe_unbounded_and_the_event_stream_a_stream() -> None:
    bounds = {
        getattr(route, "path", ""): rules.bound
        for route in build_routes()
        if (rules := declared_rules(route)) is not None
    }
    assert bounds["/healthz"] == "none"
    assert bounds["/api/events"] == "stream"
    # Everything else, /readyz included, counts as a request.
    others = {p: b for p, b in bounds.items() if p not in ("/healthz", "/api/events")}
    assert set(others.values()) == {"request"}, others
