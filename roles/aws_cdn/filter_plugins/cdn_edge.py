"""Filter `cloudfront_edge_behaviors`: the distribution's cache behaviours from the stack model.

In the role's option shape (snake_case, as `cloudfront_api_config` reads it). Order matters:
CloudFront takes the first behaviour whose pattern matches, so the narrowest come first:
streams, then long-cached paths (the ALB's, then the frontend's hashed assets), then the
services' routed paths. The default behaviour is the frontend when there is one, else the ALB.
"""

from __future__ import annotations

from typing import Any

YEAR_S = 31536000
ALL_METHODS = ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"]
READ_METHODS = ["GET", "HEAD"]


def _behavior(
    origin: str,
    methods: list[str],
    ttl: tuple[int, int, int],
    compress: bool,
    query: bool,
    cookies: str,
    headers: list[str],
    path: str | None = None,
    functions: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "target_origin_id": origin,
        "viewer_protocol_policy": "redirect-to-https",
        "allowed_methods": {"items": list(methods), "cached_methods": list(READ_METHODS)},
        "min_ttl": ttl[0],
        "default_ttl": ttl[1],
        "max_ttl": ttl[2],
        "compress": compress,
        "forwarded_values": {
            "query_string": query,
            "cookies": {"forward": cookies},
            "headers": sorted(set(headers)),
        },
        "function_associations": list(functions or []),
    }
    if path is not None:
        out = {"path_pattern": path, **out}
    return out


def cloudfront_edge_behaviors(
    dynamic_headers: list[str],
    streams: list[dict[str, Any]] | None = None,
    cached_paths: list[dict[str, Any]] | None = None,
    origin_paths: list[str] | None = None,
    frontend: dict[str, Any] | None = None,
    spa_function_arn: str = "",
    app_origin: str = "app",
    frontend_origin: str = "frontend",
) -> dict[str, Any]:
    """{'default_cache_behavior': ..., 'cache_behaviors': [...]} for the role's options."""
    dynamic = list(dynamic_headers)

    def passthrough(path: str | None) -> dict[str, Any]:
        # Dynamic pages and the API: nothing cached, every method, cookies and query strings
        # and the viewer's country passed.
        return _behavior(app_origin, ALL_METHODS, (0, 0, 0), True, True, "all", dynamic, path)

    behaviors: list[dict[str, Any]] = []
    for stream in streams or []:
        # Server-sent events: never cached, never compressed (compression buffers events), and
        # Last-Event-ID passed so a reconnecting browser resumes where it stopped.
        behaviors.append(
            _behavior(
                app_origin, READ_METHODS, (0, 0, 0), False, True, "all",
                [*dynamic, "Last-Event-ID"], stream["path"],
            )
        )  # fmt: skip
    for cached in cached_paths or []:
        # Long-cached paths on the ALB: compressed, no cookies; query strings stay in the cache
        # key so versioned URLs (?v=...) bust the cache.
        ttl = int(cached.get("ttl", 86400))
        behaviors.append(
            _behavior(
                app_origin, READ_METHODS, (0, ttl, max(ttl, YEAR_S)), True, True, "none", [],
                cached["path"],
            )
        )  # fmt: skip
    if frontend:
        for path in frontend.get("immutable_paths") or []:
            # Hashed assets: a new build has new names, so they are cached a year.
            behaviors.append(
                _behavior(
                    frontend_origin, READ_METHODS, (0, YEAR_S, YEAR_S), True, False, "none", [],
                    path,
                )
            )  # fmt: skip
        behaviors += [passthrough(path) for path in origin_paths or []]
        age = int(frontend.get("html_max_age", 60))
        functions = (
            [{"event_type": "viewer-request", "function_arn": spa_function_arn}]
            if frontend.get("spa_fallback") and spa_function_arn
            else []
        )
        default = _behavior(
            frontend_origin, READ_METHODS, (0, age, age), True, False, "none", [],
            functions=functions,
        )  # fmt: skip
    else:
        default = passthrough(None)
    return {"default_cache_behavior": default, "cache_behaviors": behaviors}


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"cloudfront_edge_behaviors": cloudfront_edge_behaviors}
