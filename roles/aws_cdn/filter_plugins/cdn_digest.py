"""Filters: a comparable digest of a CloudFront distribution, from either side.

community.aws.cloudfront_distribution always reports a change on re-runs, because it compares
its own partial config with the server's fuller one. The role instead compares the settings it
manages, normalised the same way from the module's options (what we want) and from the API's
DistributionSummary (what exists), and calls the module only when they differ.
"""

from __future__ import annotations

from typing import Any


def _items(value: Any) -> list[Any]:
    """A CloudFront list: {'Quantity': n, 'Items': [...]}, {'items': [...]}, or a plain list."""
    if value is None:
        return []
    if isinstance(value, dict):
        return list(value.get("Items", value.get("items", [])) or [])
    return list(value)


def _behavior(path: str, b: dict[str, Any], camel: bool) -> dict[str, Any]:
    def g(camel_key: str, snake_key: str, default: Any = None) -> Any:
        return b.get(camel_key if camel else snake_key, default)

    fv = g("ForwardedValues", "forwarded_values", {}) or {}
    methods = g("AllowedMethods", "allowed_methods", {}) or {}
    if camel:
        cookies = (fv.get("Cookies") or {}).get("Forward", "none")
        headers = _items(fv.get("Headers"))
        query = bool(fv.get("QueryString", False))
        cached = _items(methods.get("CachedMethods"))
    else:
        cookies = (fv.get("cookies") or {}).get("forward", "none")
        headers = _items(fv.get("headers"))
        query = bool(fv.get("query_string", False))
        cached = _items(methods.get("cached_methods"))
    return {
        "path": path,
        "origin": g("TargetOriginId", "target_origin_id"),
        "viewer_protocol": g("ViewerProtocolPolicy", "viewer_protocol_policy"),
        "methods": sorted(_items(methods)),
        "cached_methods": sorted(cached),
        "ttl": [
            int(g("MinTTL", "min_ttl", 0) or 0),
            int(g("DefaultTTL", "default_ttl", 0) or 0),
            int(g("MaxTTL", "max_ttl", 0) or 0),
        ],
        "compress": bool(g("Compress", "compress", False)),
        "query_string": query,
        "cookies": cookies,
        "headers": sorted(headers),
    }


def _origin(o: dict[str, Any], camel: bool) -> dict[str, Any]:
    if camel:
        c = o.get("CustomOriginConfig") or {}
        return {
            "id": o.get("Id"),
            "domain": o.get("DomainName"),
            "protocol": c.get("OriginProtocolPolicy"),
            "ports": [int(c.get("HTTPPort", 80)), int(c.get("HTTPSPort", 443))],
            "ssl_protocols": sorted(_items(c.get("OriginSslProtocols"))),
            "timeouts": [
                int(c.get("OriginReadTimeout", 30)),
                int(c.get("OriginKeepaliveTimeout", 5)),
            ],
            "headers": sorted(
                (h.get("HeaderName"), h.get("HeaderValue")) for h in _items(o.get("CustomHeaders"))
            ),
        }
    c = o.get("custom_origin_config") or {}
    return {
        "id": o.get("id"),
        "domain": o.get("domain_name"),
        "protocol": c.get("origin_protocol_policy"),
        "ports": [int(c.get("http_port", 80)), int(c.get("https_port", 443))],
        "ssl_protocols": sorted(_items(c.get("origin_ssl_protocols"))),
        "timeouts": [
            int(c.get("origin_read_timeout", 30)),
            int(c.get("origin_keepalive_timeout", 5)),
        ],
        "headers": sorted(
            (h.get("header_name"), h.get("header_value")) for h in o.get("custom_headers") or []
        ),
    }


def _certificate(vc: dict[str, Any], camel: bool) -> list[Any]:
    arn = vc.get("ACMCertificateArn" if camel else "acm_certificate_arn")
    if arn:
        return [arn, vc.get("MinimumProtocolVersion" if camel else "minimum_protocol_version")]
    return ["cloudfront-default"]


def cloudfront_summary_digest(summary: dict[str, Any]) -> dict[str, Any]:
    """Digest of a DistributionSummary / DistributionConfig as the API returns it."""
    if not summary:
        return {}
    behaviors = [_behavior("*", summary.get("DefaultCacheBehavior") or {}, True)]
    behaviors += [
        _behavior(b.get("PathPattern"), b, True) for b in _items(summary.get("CacheBehaviors"))
    ]
    return {
        "comment": summary.get("Comment"),
        "enabled": bool(summary.get("Enabled")),
        "aliases": sorted(_items(summary.get("Aliases"))),
        "origins": sorted(
            (_origin(o, True) for o in _items(summary.get("Origins"))), key=lambda x: x["id"]
        ),
        "behaviors": behaviors,
        "certificate": _certificate(summary.get("ViewerCertificate") or {}, True),
        "price_class": summary.get("PriceClass"),
        "http_version": summary.get("HttpVersion"),
        "ipv6": bool(summary.get("IsIPV6Enabled")),
    }


def cloudfront_options_digest(options: dict[str, Any]) -> dict[str, Any]:
    """Digest of the community.aws.cloudfront_distribution options the role passes."""
    behaviors = [_behavior("*", options.get("default_cache_behavior") or {}, False)]
    behaviors += [
        _behavior(b["path_pattern"], b, False) for b in options.get("cache_behaviors") or []
    ]
    return {
        "comment": options.get("comment"),
        "enabled": bool(options.get("enabled", True)),
        "aliases": sorted(options.get("aliases") or []),
        "origins": sorted(
            (_origin(o, False) for o in options.get("origins") or []), key=lambda x: x["id"]
        ),
        "behaviors": behaviors,
        "certificate": _certificate(options.get("viewer_certificate") or {}, False),
        "price_class": options.get("price_class"),
        "http_version": options.get("http_version"),
        "ipv6": bool(options.get("ipv6_enabled")),
    }


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "cloudfront_summary_digest": cloudfront_summary_digest,
            "cloudfront_options_digest": cloudfront_options_digest,
        }
