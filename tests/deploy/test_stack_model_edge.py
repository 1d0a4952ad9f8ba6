"""The stack model's edge fields (stack.frontend, stack.alb, stack.cdn, services' streams and
cached_paths): defaults, the behaviour plan aws_cdn gets, and each bad declaration refused
before any AWS call with the service, the field and what to fix. Pure Python: no AWS, no
Ansible run, except the last test (the behaviours aws_cdn builds from the model)."""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def _load(name: str, path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


STACK_MODULE = _load("crayon_stack_edge", ROOT / "plugins/filter/crayon_stack.py")
EDGE = _load("cdn_edge", ROOT / "roles/aws_cdn/filter_plugins/cdn_edge.py")
API = _load("cdn_api", ROOT / "roles/aws_cdn/filter_plugins/cdn_api.py")
FilterError = STACK_MODULE.AnsibleFilterError

STACK: dict[str, Any] = {
    "name": "fs",
    "env": "prod",
    "account_id": "123456789012",
    "frontend": {"source": "examples/fullstack/frontend/out"},
    "alb": {"idle_timeout": 120},
}
BACKEND: dict[str, Any] = {
    "name": "backend",
    "routing": {"paths": ["/api/*"]},
    "streams": {"paths": ["/api/runs/*/events"], "heartbeat_seconds": 15},
}


def model(stack: dict | None = None, services: list | None = None) -> dict:
    return dict(
        STACK_MODULE.crayon_stack(
            copy.deepcopy(STACK if stack is None else stack),
            copy.deepcopy([BACKEND] if services is None else services),
        )
    )


def refused(stack: dict | None = None, services: list | None = None) -> str:
    with pytest.raises(FilterError) as caught:
        model(stack, services)
    return " ".join(str(caught.value).split())


def with_backend(**fields: Any) -> list[dict]:
    return [{**BACKEND, **fields}]


def test_defaults_and_names() -> None:
    m = model()
    assert m["frontend"] == {
        "source": "examples/fullstack/frontend/out",
        "spa_fallback": "/index.html",
        "immutable_paths": ["/_next/static/*"],
        "html_max_age": 60,
    }
    assert m["alb"] == {"idle_timeout": 120}
    assert m["cdn"] == {"origin_read_timeout": 60}
    assert m["names"]["buckets"]["frontend"] == "fs-prod-frontend-123456789012"
    assert m["names"]["frontend_oac"] == "fs-prod-frontend"
    assert m["names"]["spa_function"] == "fs-prod-spa-fallback"
    assert m["edge"] == {
        "streams": [{"service": "backend", "path": "/api/runs/*/events", "heartbeat_seconds": 15}],
        "cached_paths": [],
        "origin_paths": ["/api/*"],
        "heartbeat_max": 15,
    }
    # No frontend declared: no bucket name, no S3 origin, the ALB is the default behaviour.
    plain = model({k: v for k, v in STACK.items() if k != "frontend"})
    assert plain["frontend"] is None and "frontend" not in plain["names"]["buckets"]
    assert plain["edge"]["origin_paths"] == []


def test_frontend_as_a_service_owns_the_default_path() -> None:
    """The other form: the frontend is a container (Next.js server) on /*, the backend /api/*."""
    stack = {k: v for k, v in STACK.items() if k != "frontend"}
    web = {"name": "web", "port": 3000, "routing": {"paths": ["/*"]}}
    m = model(stack, [web, BACKEND])
    assert [s["routing"]["paths"] for s in m["services"]] == [["/*"], ["/api/*"]]
    assert m["edge"]["streams"][0]["service"] == "backend"
    # But not both forms at once: /* at the edge would hide the static frontend.
    words = refused(STACK, [web, BACKEND])
    assert "service 'web': routing.paths '/*' would take every path at the edge" in words
    assert "drop stack.frontend and run the frontend as a service that owns /*" in words


@pytest.mark.parametrize(
    "stack,services,words",
    [
        # A stream that a cached path also matches (the bad inventory).
        (
            STACK,
            with_backend(cached_paths=[{"path": "/api/*", "ttl": 60}]),
            "service 'backend': streams.paths '/api/runs/*/events' overlaps the cached path "
            "'/api/*' (service 'backend' cached_paths): a stream must never be cached or "
            "compressed; narrow or remove '/api/*', or move the stream off it",
        ),
        (
            STACK,
            with_backend(cached_paths=[{"path": "/api/runs/*/events"}]),
            "streams.paths '/api/runs/*/events' equals the cached path '/api/runs/*/events'",
        ),
        (
            {**STACK, "frontend": {"source": "out", "immutable_paths": ["/api/runs/*"]}},
            None,
            "overlaps the cached path '/api/runs/*' (stack.frontend.immutable_paths)",
        ),
        (
            STACK,
            [
                BACKEND,
                {
                    "name": "files",
                    "routing": {"paths": ["/files/*"]},
                    "cached_paths": [{"path": "/api/runs/1/events"}],
                },
            ],
            "overlaps the cached path '/api/runs/1/events' (service 'files' cached_paths)",
        ),
        # A stream outside its own service's routing.
        (
            STACK,
            with_backend(streams={"paths": ["/events"]}),
            "service 'backend': streams.paths '/events' is not inside the service's "
            "routing.paths (/api/*)",
        ),
        # Heartbeats against the ALB idle timeout and CloudFront's origin read timeout.
        (
            {**STACK, "alb": {"idle_timeout": 15}},
            None,
            "streams.heartbeat_seconds (15 s) is not shorter than stack.alb.idle_timeout (15 s)",
        ),
        (
            {**STACK, "cdn": {"origin_read_timeout": 10}},
            None,
            "streams.heartbeat_seconds (15 s) is not shorter than stack.cdn.origin_read_timeout",
        ),
        # Field shapes.
        (
            {**STACK, "frontend": {"spa_fallback": "/index.html"}},
            None,
            "frontend.source is missing",
        ),
        (
            {**STACK, "frontend": {"source": "out", "spa_fallback": "/*"}},
            None,
            "frontend.spa_fallback is '/*'",
        ),
        (
            {**STACK, "frontend": {"source": "out", "html_max_age": -1}},
            None,
            "frontend.html_max_age",
        ),
        (
            {**STACK, "frontend": {"source": "out", "cache": 1}},
            None,
            "frontend has unknown key(s) cache",
        ),
        ({**STACK, "alb": {"idle_timeout": 0}}, None, "alb.idle_timeout is 0, outside 1-4000"),
        ({**STACK, "cdn": {"origin_read_timeout": 500}}, None, "cdn.origin_read_timeout is 500"),
        (STACK, with_backend(streams={"paths": ["api"]}), "streams.paths has 'api'"),
        (STACK, with_backend(streams={"paths": ["/api/e"], "every": 3}), "streams has unknown"),
        (
            STACK,
            with_backend(cached_paths=[{"path": "/api/s/*", "ttl": "long"}]),
            "cached_paths[0].ttl",
        ),
        (
            {**STACK, "roles": {"aws_cdn": False}},
            None,
            "stack: frontend is declared but roles.aws_cdn is false",
        ),
        (
            STACK,
            [
                BACKEND,
                {
                    **BACKEND,
                    "name": "copy",
                    "routing": {"paths": ["/api/*"], "hosts": ["x.example"]},
                },
            ],
            "streams.paths '/api/runs/*/events' is also a stream of service 'backend'",
        ),
        (
            {k: v for k, v in STACK.items() if k != "frontend"},
            [{"name": "shop", "buckets": 1}],
            "unknown key(s) buckets",
        ),
        (
            {**STACK, "buckets": [{"name": "frontend"}]},
            None,
            "buckets[0].name is 'frontend', which the stack uses itself",
        ),
    ],
)
def test_bad_edge_declarations_are_refused(stack: dict, services: list | None, words: str) -> None:
    assert words in refused(stack, services)


def test_crayon_inventories_keep_their_edge() -> None:
    """Crayon's stream and /static/* moved into the model: same paths as before, same TTL."""
    for env in ("production", "dev", "emulated", "local"):
        data = yaml.safe_load((ROOT / f"inventories/{env}/group_vars/all/main.yml").read_text())
        (app,) = data["services"]
        assert app["streams"] == {"paths": ["/api/events"], "heartbeat_seconds": 15}, env
        assert app["cached_paths"] == [{"path": "/static/*", "ttl": 86400}], env


def test_behaviours_from_the_model() -> None:
    """What aws_cdn builds (filters cdn_edge + cdn_api) from a model with a frontend."""
    m = model(STACK, with_backend(cached_paths=[{"path": "/api/static/*", "ttl": 600}]))
    front = {**m["frontend"], "bucket": m["names"]["buckets"]["frontend"]}
    plan = EDGE.cloudfront_edge_behaviors(
        ["Accept", "Host"],
        streams=m["edge"]["streams"],
        cached_paths=m["edge"]["cached_paths"],
        origin_paths=m["edge"]["origin_paths"],
        frontend=front,
        spa_function_arn="arn:aws:cloudfront::123456789012:function/fs-prod-spa-fallback",
    )
    options = {
        "origins": [
            {
                "id": "app",
                "domain_name": "alb.example",
                "custom_origin_config": {"origin_read_timeout": 60},
            },
            {
                "id": "frontend",
                "domain_name": f"{front['bucket']}.s3.us-east-1.amazonaws.com",
                "s3_origin_config": {},
                "origin_access_control_id": "E2OAC",
            },
        ],
        "viewer_certificate": {"cloudfront_default_certificate": True},
        "price_class": "PriceClass_100",
        "default_root_object": "index.html",
        **plan,
    }
    config = API.cloudfront_api_config(options)
    s3 = config["Origins"]["Items"][1]
    assert s3["S3OriginConfig"] == {"OriginAccessIdentity": ""}
    assert s3["OriginAccessControlId"] == "E2OAC" and "CustomOriginConfig" not in s3
    assert config["Origins"]["Items"][0]["CustomOriginConfig"]["OriginReadTimeout"] == 60
    order = [(b["PathPattern"], b["TargetOriginId"]) for b in config["CacheBehaviors"]["Items"]]
    assert order == [
        ("/api/runs/*/events", "app"),
        ("/api/static/*", "app"),
        ("/_next/static/*", "frontend"),
        ("/api/*", "app"),
    ]
    stream = config["CacheBehaviors"]["Items"][0]
    assert stream["Compress"] is False and stream["DefaultTTL"] == stream["MaxTTL"] == 0
    assert "Last-Event-ID" in stream["ForwardedValues"]["Headers"]["Items"]
    default = config["DefaultCacheBehavior"]
    assert default["FunctionAssociations"] == {
        "Quantity": 1,
        "Items": [
            {
                "FunctionARN": "arn:aws:cloudfront::123456789012:function/fs-prod-spa-fallback",
                "EventType": "viewer-request",
            }
        ],
    }
    # The SPA fallback rides on the frontend's default behaviour only: API 404s stay 404s.
    assert all(
        b["FunctionAssociations"] == {"Quantity": 0} for b in config["CacheBehaviors"]["Items"]
    )
    # The S3 behaviours never forward Host (S3 would refuse the ALB's name).
    assert default["ForwardedValues"]["Headers"] == {"Quantity": 0}
