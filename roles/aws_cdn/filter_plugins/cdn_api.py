"""Filter `cloudfront_api_config`: the role's distribution settings (snake_case options, in
community.aws.cloudfront_distribution's terms) in CloudFront's own API shape.

The public mode (module crayon.aws.cloudfront_distribution_config) gets the ALB as a custom
origin; the vpc_origin mode (crayon.aws.cloudfront_vpc_distribution) gets it through a VPC
origin (VpcOriginConfig). A frontend bucket is an S3 origin signed by an Origin Access
Control in both. The same settings, one source, two writers.
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
        "FunctionAssociations": _api_list(
            [
                {"FunctionARN": f["function_arn"], "EventType": f["event_type"]}
                for f in b.get("function_associations") or []
            ]
        ),
    }
    if "path_pattern" in b:
        out = {"PathPattern": b["path_pattern"], **out}
    return out


def _origin(o: dict[str, Any], vpc_origin_id: str | None) -> dict[str, Any]:
    custom = o.get("custom_origin_config") or {}
    headers = [
        {"HeaderName": h["header_name"], "HeaderValue": h["header_value"]}
        for h in o.get("custom_headers") or []
    ]
    base = {
        "Id": o["id"],
        "DomainName": o["domain_name"],
        "OriginPath": "",
        "CustomHeaders": _api_list(headers),
    }
    if "s3_origin_config" in o:
        # A private bucket read through an Origin Access Control (no legacy OAI).
        return {
            **base,
            "S3OriginConfig": {"OriginAccessIdentity": ""},
            "OriginAccessControlId": o.get("origin_access_control_id", ""),
        }
    if vpc_origin_id is None:
        return {
            **base,
            "CustomOriginConfig": {
                "HTTPPort": int(custom.get("http_port", 80)),
                "HTTPSPort": int(custom.get("https_port", 443)),
                "OriginProtocolPolicy": custom.get("origin_protocol_policy", "http-only"),
                "OriginSslProtocols": _api_list(_items(custom.get("origin_ssl_protocols"))),
                "OriginReadTimeout": int(custom.get("origin_read_timeout", 30)),
                "OriginKeepaliveTimeout": int(custom.get("origin_keepalive_timeout", 5)),
            },
        }
    return {
        **base,
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


def cloudfront_api_config(
    options: dict[str, Any], vpc_origin_id: str | None = None
) -> dict[str, Any]:
    """DistributionConfig (without CallerReference and Comment); no vpc_origin_id: public."""
    if vpc_origin_id is not None and not vpc_origin_id:
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
        "DefaultRootObject": str(options.get("default_root_object") or ""),
    }


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"cloudfront_api_config": cloudfront_api_config}
