"""CloudFront as AWS (moto) reports it: behaviours, TTLs, headers, origin secret, viewer HTTPS.

moto stores the legacy cache settings (ForwardedValues, TTLs) and custom origin headers as
given, so every field below is a real read-back. moto does not serve traffic: that CloudFront
passes CloudFront-Viewer-Country, streams SSE unbuffered and adds the header in flight is
configured here and documented, not exercised.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from conftest import NAME

Aws = Callable[[str], Any]
COMMENT = f"{NAME} (Crayon kit, role aws_cdn)"


@pytest.fixture(scope="module")
def dist(aws: Aws) -> dict[str, Any]:
    items = aws("cloudfront").list_distributions()["DistributionList"].get("Items", [])
    found = [d for d in items if d["Comment"] == COMMENT]
    assert len(found) == 1, [d["Comment"] for d in items]
    cfg = aws("cloudfront").get_distribution_config(Id=found[0]["Id"])["DistributionConfig"]
    return {"summary": found[0], "config": cfg}


def _behaviours(cfg: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out = {"*": cfg["DefaultCacheBehavior"]}
    for b in cfg.get("CacheBehaviors", {}).get("Items", []):
        out[b["PathPattern"]] = b
    return out


def test_enabled_with_https_to_viewers(dist: dict[str, Any]) -> None:
    cfg = dist["config"]
    assert cfg["Enabled"] is True
    assert cfg["PriceClass"] == "PriceClass_100"
    assert cfg["HttpVersion"] == "http2and3"
    for path, b in _behaviours(cfg).items():
        assert b["ViewerProtocolPolicy"] == "redirect-to-https", path


def test_origin_is_the_alb_with_the_secret_header(dist: dict[str, Any], aws: Aws) -> None:
    origins = dist["config"]["Origins"]["Items"]
    assert len(origins) == 1
    origin = origins[0]
    lbs = aws("elbv2").describe_load_balancers()["LoadBalancers"]
    alb = next(lb for lb in lbs if lb["LoadBalancerName"].startswith(NAME))
    assert origin["DomainName"] == alb["DNSName"]
    custom = origin["CustomOriginConfig"]
    assert custom["OriginProtocolPolicy"] in {"http-only", "https-only"}
    assert custom["OriginSslProtocols"]["Items"] == ["TLSv1.2"]
    assert custom["OriginReadTimeout"] == 60
    headers = {h["HeaderName"]: h["HeaderValue"] for h in origin["CustomHeaders"]["Items"]}
    secret = aws("secretsmanager").get_secret_value(SecretId="crayon/emulated/origin-verify")
    assert headers == {"X-Origin-Verify": secret["SecretString"]}
    assert len(secret["SecretString"]) >= 16


def test_dynamic_paths_are_not_cached(dist: dict[str, Any]) -> None:
    b = _behaviours(dist["config"])["*"]
    assert (b["MinTTL"], b["DefaultTTL"], b["MaxTTL"]) == (0, 0, 0)
    fv = b["ForwardedValues"]
    assert fv["QueryString"] is True
    assert fv["Cookies"]["Forward"] == "all"
    headers = set(fv["Headers"]["Items"])
    assert {"CloudFront-Viewer-Country", "Origin", "Referer", "Accept"} <= headers
    assert len(headers) <= 10
    methods = set(b["AllowedMethods"]["Items"])
    assert methods == {"GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"}
    assert set(b["AllowedMethods"]["CachedMethods"]["Items"]) == {"GET", "HEAD"}


def test_sse_stream_is_not_cached_nor_compressed(dist: dict[str, Any]) -> None:
    behaviours = _behaviours(dist["config"])
    b = behaviours["/api/events"]
    assert (b["MinTTL"], b["DefaultTTL"], b["MaxTTL"]) == (0, 0, 0)
    assert b["Compress"] is False
    headers = set(b["ForwardedValues"]["Headers"]["Items"])
    assert {"Last-Event-ID", "CloudFront-Viewer-Country"} <= headers
    assert b["ForwardedValues"]["Cookies"]["Forward"] == "all"
    # Listed before /static/* and the default: CloudFront matches behaviours in order.
    assert list(behaviours)[1] == "/api/events"


def test_static_files_are_cached_long(dist: dict[str, Any]) -> None:
    b = _behaviours(dist["config"])["/static/*"]
    assert b["DefaultTTL"] == 86400
    assert b["MaxTTL"] == 31536000
    assert b["Compress"] is True
    assert b["ForwardedValues"]["Cookies"]["Forward"] == "none"
    assert b["ForwardedValues"]["Headers"]["Quantity"] == 0
    assert set(b["AllowedMethods"]["Items"]) == {"GET", "HEAD"}


def test_default_certificate_without_custom_domain(dist: dict[str, Any]) -> None:
    cfg = dist["config"]
    assert cfg["Aliases"]["Quantity"] == 0
    assert cfg["ViewerCertificate"]["CloudFrontDefaultCertificate"] is True
