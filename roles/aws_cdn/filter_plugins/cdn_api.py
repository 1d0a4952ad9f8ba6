"""Filter `cloudfront_api_config`: the role's distribution settings (the options it gives
community.aws.cloudfront_distribution, snake_case) in CloudFront's own API shape, with the
origin reached through a VPC origin (VpcOriginConfig) instead of a public custom origin.

Used by the vpc_origin mode, whose distribution is written by the kit's own module
(crayon.aws.cloudfront_vpc_distribution): the same settings, one source, two writers.
"""

from __future__ import annotations

from typing import Any


def _api_list(items: list[Any]) -> dict[str, Any]:
    items = list(items)
    return {"Quantity": len(items), "Items": items} if items else {"Quantity": 0}


def _items(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return list(value.get("items") or [])
    return list(value or [])


def _behavior(b: dict[str, Any]) -> dict[str, Any]:
    methods = b["allowed_methods"]
    fv = b["forwarded_values"]
    out: dict[str, Any] = {
        "TargetOriginId": b["target_origin_id"],
        "ViewerProtocolPolicy": b["viewer_protocol_policy"],
        "AllowedMethods": {
            **_api_list(_items(methods)),
            "CachedMethods": _api_list(list(methods.get("cached_methods") or [])),
        },
        "MinTTL": int(b.get("min_ttl", 0)),
        "DefaultTTL": int(b.get("default_ttl", 0)),
        "MaxTTL": int(b.get("max_ttl", 0)),
        "Compress": bool(b.get("compress", False)),
        "ForwardedValues": {
            "QueryString": bool(fv.get("query_string", False)),
            "Cookies": {"Forward": fv.get("cookies", {}).get("forward", "none")},
            "Headers": _api_list(list(fv.get("headers") or [])),
        },
    }
    if "path_pattern" in b:
        out = {"PathPattern": b["path_pattern"], **out}
    return out


def _origin(o: dict[str, Any], vpc_origin_id: str) -> dict[str, Any]:
    custom = o.get("custom_origin_config") or {}
    headers = [
        {"HeaderName": h["header_name"], "HeaderValue": h["header_value"]}
        for h in o.get("custom_headers") or []
    ]
    return {
        "Id": o["id"],
        "DomainName": o["domain_name"],
        "CustomHeaders": _api_list(headers),
        "VpcOriginConfig": {
            "VpcOriginId": vpc_origin_id,
            "OriginReadTimeout": int(custom.get("origin_read_timeout", 30)),
            "OriginKeepaliveTimeout": int(custom.get("origin_keepalive_timeout", 5)),
        },
    }


def _viewer_certificate(v: dict[str, Any]) -> dict[str, Any]:
    if v.get("cloudfront_default_certificate"):
        return {"CloudFrontDefaultCertificate": True}
    return {
        "ACMCertificateArn": v["acm_certificate_arn"],
        "SSLSupportMethod": v.get("ssl_support_method", "sni-only"),
        "MinimumProtocolVersion": v.get("minimum_protocol_version", "TLSv1.2_2021"),
    }


def cloudfront_api_config(options: dict[str, Any], vpc_origin_id: str) -> dict[str, Any]:
    """DistributionConfig (without CallerReference and Comment) for a VPC-origin distribution."""
    if not vpc_origin_id:
        raise ValueError("cloudfront_api_config needs the VPC origin's id (build it first)")
    return {
        "Enabled": bool(options.get("enabled", True)),
        "Aliases": _api_list(list(options.get("aliases") or [])),
        "Origins": _api_list([_origin(o, vpc_origin_id) for o in options["origins"]]),
        "DefaultCacheBehavior": _behavior(options["default_cache_behavior"]),
        "CacheBehaviors": _api_list([_behavior(b) for b in options.get("cache_behaviors") or []]),
        "ViewerCertificate": _viewer_certificate(options["viewer_certificate"]),
        "PriceClass": options["price_class"],
        "HttpVersion": options.get("http_version", "http2"),
        "IsIPV6Enabled": bool(options.get("ipv6_enabled", True)),
    }


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"cloudfront_api_config": cloudfront_api_config}
