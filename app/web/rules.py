"""Which rules apply to a request, declared on its route (app/web/routes.py), read here.

Each route carries one `RouteRules`; `RouteRulesMiddleware` finds the route the router will
pick, once per request, and leaves its rules in the scope for the middleware further in (the
auth gate, the origin check, the host check, durable writes). A path that matches no route
gets `UNMATCHED` and falls through to the router's 404.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

SCOPE_KEY = "crayon.route_rules"


@dataclass(frozen=True)
class RouteRules:
    # Anyone may call it; False: the admin's session is needed (the gate sends others away).
    public: bool
    # Load the admin session (nav, CSRF checks); False keeps probes and static files cheap.
    session: bool = True
    # A successful write waits until the replica has it (CRAYON_DURABLE_WRITES).
    durable: bool = False
    # Must carry X-Origin-Verify when CRAYON_ORIGIN_SECRET is set (False: health probes).
    origin_check: bool = True
    # Answered whatever the Host header says (load balancers probe by the task's IP).
    any_host: bool = False
    # Which bound it counts against (app/web/limits.py): "request" (requests in flight),
    # "stream" (long-lived event streams: a cap of their own, so they cannot starve requests)
    # or "none" (the liveness probe: answered from memory, never refused for load).
    bound: Literal["request", "stream", "none"] = "request"


PUBLIC = RouteRules(public=True)
ADMIN = RouteRules(public=False)
PROBE = RouteRules(public=True, session=False, any_host=True)
UNMATCHED = RouteRules(public=True)


def with_rules(route: BaseRoute, rules: RouteRules) -> BaseRoute:
    """Attach `rules` to `route` (the route table declares every route's rules this way)."""
    route.crayon_rules = rules  # type: ignore[attr-defined]
    return route


def declared_rules(route: BaseRoute) -> RouteRules | None:
    rules = getattr(route, "crayon_rules", None)
    return rules if isinstance(rules, RouteRules) else None


def matching_route(scope: Scope) -> BaseRoute | None:
    """The route the router will pick: the first full match, else the first partial one
    (a known path with another method: the router answers 405)."""
    app = scope.get("app")
    router = getattr(app, "router", None)
    partial: BaseRoute | None = None
    routes: list[BaseRoute] = list(getattr(router, "routes", ()))
    for route in routes:
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return route
        if match == Match.PARTIAL and partial is None:
            partial = route
    return partial


def rules_for(scope: Scope) -> RouteRules:
    """The rules the outer middleware stored for this request (computed here if it did not)."""
    rules = scope.get(SCOPE_KEY)
    if isinstance(rules, RouteRules):
        return rules
    route = matching_route(scope)
    found = declared_rules(route) if route is not None else UNMATCHED
    # A route without rules is closed: fail closed, never open by omission.
    return found if found is not None else ADMIN


class RouteRulesMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope[SCOPE_KEY] = rules_for(scope)
        await self.app(scope, receive, send)
