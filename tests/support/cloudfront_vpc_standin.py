"""A STAND-IN for CloudFront's VPC-origin calls, NOT CloudFront and NOT an emulator of it.

moto 5.2 has no CloudFront VPC origins (no CreateVpcOrigin), and no AWS account is reachable
from the test machines. So the aws_cdn role's VPC-origin module is tested against this: a small
HTTP server on 127.0.0.1 that speaks CloudFront's REST-XML wire protocol (API 2020-05-31,
SigV4-signed for the ``cloudfront`` service, ETag / If-Match) for exactly the calls the kit's
modules make: CreateVpcOrigin, GetVpcOrigin, ListVpcOrigins, UpdateVpcOrigin, DeleteVpcOrigin
(module cloudfront_vpc_origin), and CreateDistributionWithTags, GetDistribution,
GetDistributionConfig, ListDistributions, UpdateDistribution, DeleteDistribution (module
cloudfront_vpc_distribution: moto drops an origin's VpcOriginConfig, so a distribution that
uses a VPC origin is tested here). A distribution's config is kept as the XML botocore sent
and returned as is; the stand-in checks what CloudFront checks for VPC origins: every origin
has exactly one of S3OriginConfig, CustomOriginConfig and VpcOriginConfig, a VpcOriginId names
an existing VPC origin, a VPC origin in use cannot be deleted, and only a disabled distribution
can be deleted. The real boto3 ``cloudfront`` client talks to it through ``endpoint_url``.

What it proves: the module builds the requests botocore serialises, parses the answers in
CloudFront's documented shapes, converges (a second run makes no write call), honours check
mode and If-Match, and deletes.

What it cannot prove: that AWS accepts the origin (the ALB must be internal, the instance in a
private subnet; quotas), the deploy time (minutes on AWS: Status "Deploying" then "Deployed"),
how CloudFront's managed security group reaches the origin, prices.

Run alone: ``python -m tests.support.cloudfront_vpc_standin`` prints its URL and serves.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ACCOUNT = "123456789012"
NS = "http://cloudfront.amazonaws.com/doc/2020-05-31/"
BASE = "/2020-05-31/vpc-origin"
DIST = "/2020-05-31/distribution"
SIGV4 = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=[^/]+/\d{8}/(?P<region>[a-z0-9-]+)/(?P<service>[a-z0-9-]+)/"
    r"aws4_request, ?SignedHeaders=[^,]+, ?Signature=[0-9a-f]{64}$"
)
ORIGIN_ARN = re.compile(
    r"^arn:aws:(elasticloadbalancing:[a-z0-9-]+:\d{12}:loadbalancer/(app|net)/.+"
    r"|ec2:[a-z0-9-]+:\d{12}:instance/i-[0-9a-f]+)$"
)
POLICIES = {"http-only", "https-only", "match-viewer"}


class ApiError(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def _text(el: ET.Element | None, name: str) -> str | None:
    found = None if el is None else el.find(f"{{{NS}}}{name}")
    return None if found is None or found.text is None else found.text.strip()


def _endpoint_config(body: bytes) -> dict[str, Any]:
    # Loopback only, fed by the test process's own boto3 client: no untrusted XML.
    root = ET.fromstring(body)  # noqa: S314
    cfg = root if root.tag == f"{{{NS}}}VpcOriginEndpointConfig" else None
    if cfg is None:
        cfg = root.find(f".//{{{NS}}}VpcOriginEndpointConfig")
    if cfg is None:
        raise ApiError("MalformedInput", "VpcOriginEndpointConfig is required")
    out: dict[str, Any] = {
        "Name": _text(cfg, "Name"),
        "Arn": _text(cfg, "Arn"),
        "HTTPPort": int(_text(cfg, "HTTPPort") or 0),
        "HTTPSPort": int(_text(cfg, "HTTPSPort") or 0),
        "OriginProtocolPolicy": _text(cfg, "OriginProtocolPolicy"),
    }
    ssl = cfg.find(f"{{{NS}}}OriginSslProtocols/{{{NS}}}Items")
    out["OriginSslProtocols"] = [] if ssl is None else [(e.text or "") for e in ssl]
    if not out["Name"] or not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", out["Name"]):
        raise ApiError("InvalidArgument", f"bad Name {out['Name']!r}")
    if not out["Arn"] or not ORIGIN_ARN.match(out["Arn"]):
        raise ApiError("InvalidArgument", f"Arn must be an ALB, NLB or EC2 instance: {out['Arn']}")
    if out["OriginProtocolPolicy"] not in POLICIES:
        raise ApiError("InvalidArgument", f"bad OriginProtocolPolicy {out['OriginProtocolPolicy']}")
    for port in ("HTTPPort", "HTTPSPort"):
        if not 1 <= out[port] <= 65535:
            raise ApiError("InvalidArgument", f"{port} must be 1-65535")
    return out


class VpcOriginState:
    """In-memory VPC origins; `calls` lists every call, writes included, in order."""

    def __init__(self) -> None:
        self.origins: dict[str, dict[str, Any]] = {}
        self.distributions: dict[str, dict[str, Any]] = {}
        self.calls: list[str] = []
        self.lock = threading.Lock()

    def write_calls(self) -> list[str]:
        return [c for c in self.calls if not c.startswith(("Get", "List"))]

    def _get(self, oid: str) -> dict[str, Any]:
        if oid not in self.origins:
            raise ApiError("EntityNotFound", f"The VPC origin {oid} does not exist.", 404)
        return self.origins[oid]

    def _check_etag(self, origin: dict[str, Any], if_match: str | None) -> None:
        if not if_match:
            raise ApiError("InvalidIfMatchVersion", "If-Match is required")
        if if_match != origin["ETag"]:
            raise ApiError("PreconditionFailed", "If-Match does not match the ETag", 412)

    def create(self, body: bytes) -> dict[str, Any]:
        cfg = _endpoint_config(body)
        if any(o["Config"]["Name"] == cfg["Name"] for o in self.origins.values()):
            raise ApiError("EntityAlreadyExists", f"A VPC origin named {cfg['Name']} exists", 409)
        oid = "vo_" + uuid.uuid4().hex[:22]
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        self.origins[oid] = {
            "Id": oid,
            "Arn": f"arn:aws:cloudfront::{ACCOUNT}:vpcorigin/{oid}",
            "Status": "Deploying",
            "CreatedTime": now,
            "LastModifiedTime": now,
            "Config": cfg,
            "ETag": uuid.uuid4().hex[:14].upper(),
        }
        return self.origins[oid]

    def get(self, oid: str) -> dict[str, Any]:
        origin = self._get(oid)
        origin["Status"] = "Deployed"  # the first look after a write sees "Deploying"
        return origin

    def update(self, oid: str, body: bytes, if_match: str | None) -> dict[str, Any]:
        origin = self._get(oid)
        self._check_etag(origin, if_match)
        cfg = _endpoint_config(body)
        if cfg["Arn"] != origin["Config"]["Arn"]:
            raise ApiError("IllegalUpdate", "the origin's Arn cannot change")
        origin.update(
            Config=cfg,
            Status="Deploying",
            ETag=uuid.uuid4().hex[:14].upper(),
            LastModifiedTime=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        )
        return origin

    def delete(self, oid: str, if_match: str | None) -> dict[str, Any]:
        origin = self._get(oid)
        self._check_etag(origin, if_match)
        users = [
            d["Id"] for d in self.distributions.values() if oid in _vpc_origin_ids(d["Config"])
        ]
        if users:
            raise ApiError(
                "CannotDeleteEntityWhileInUse",
                f"The VPC origin {oid} is used by distribution {', '.join(users)}",
                409,
            )
        return self.origins.pop(oid)

    # ---- distributions -------------------------------------------------------------------
    def _dist(self, did: str) -> dict[str, Any]:
        if did not in self.distributions:
            raise ApiError("NoSuchDistribution", f"The distribution {did} does not exist.", 404)
        return self.distributions[did]

    def _check_config(self, cfg: ET.Element) -> None:
        for name in ("CallerReference", "Comment", "Enabled"):
            if _text(cfg, name) is None:
                raise ApiError("MalformedInput", f"DistributionConfig needs {name}")
        origins = cfg.findall(f"{{{NS}}}Origins/{{{NS}}}Items/{{{NS}}}Origin")
        if not origins:
            raise ApiError("InvalidArgument", "a distribution needs at least one origin")
        for o in origins:
            kinds = [k for k in _ORIGIN_KINDS if o.find(f"{{{NS}}}{k}") is not None]
            if len(kinds) != 1:
                raise ApiError(
                    "InvalidOrigin",
                    f"origin {_text(o, 'Id')} must have exactly one of {', '.join(_ORIGIN_KINDS)}"
                    f" (has {kinds or 'none'})",
                )
        for vid in _vpc_origin_ids(cfg):
            if vid not in self.origins:
                raise ApiError("EntityNotFound", f"The VPC origin {vid} does not exist.", 404)

    def create_distribution(self, body: bytes) -> dict[str, Any]:
        root = ET.fromstring(body)  # noqa: S314 - loopback, the test's own client
        cfg = root.find(f"{{{NS}}}DistributionConfig")
        if cfg is None:
            raise ApiError("MalformedInput", "DistributionConfigWithTags needs DistributionConfig")
        self._check_config(cfg)
        ref = _text(cfg, "CallerReference")
        if any(_text(d["Config"], "CallerReference") == ref for d in self.distributions.values()):
            raise ApiError("DistributionAlreadyExists", f"CallerReference {ref} is in use", 409)
        did = "E" + uuid.uuid4().hex[:13].upper()
        self.distributions[did] = {
            "Id": did,
            "ARN": f"arn:aws:cloudfront::{ACCOUNT}:distribution/{did}",
            "DomainName": f"d{uuid.uuid4().hex[:13]}.cloudfront.net",
            "Status": "InProgress",
            "LastModifiedTime": _now(),
            "Config": cfg,
            "ETag": uuid.uuid4().hex[:14].upper(),
        }
        return self.distributions[did]

    def get_distribution(self, did: str) -> dict[str, Any]:
        dist = self._dist(did)
        dist["Status"] = "Deployed"  # the first look after a write sees "InProgress"
        return dist

    def update_distribution(self, did: str, body: bytes, if_match: str | None) -> dict[str, Any]:
        dist = self._dist(did)
        self._check_etag(dist, if_match)
        cfg = ET.fromstring(body)  # noqa: S314 - loopback, the test's own client
        self._check_config(cfg)
        if _text(cfg, "CallerReference") != _text(dist["Config"], "CallerReference"):
            raise ApiError("IllegalUpdate", "CallerReference cannot change")
        dist.update(
            Config=cfg,
            Status="InProgress",
            ETag=uuid.uuid4().hex[:14].upper(),
            LastModifiedTime=_now(),
        )
        return dist

    def delete_distribution(self, did: str, if_match: str | None) -> None:
        dist = self._dist(did)
        self._check_etag(dist, if_match)
        if _text(dist["Config"], "Enabled") != "false" or dist["Status"] != "Deployed":
            raise ApiError(
                "DistributionNotDisabled", f"Distribution {did} must be disabled and deployed", 409
            )
        del self.distributions[did]


_ORIGIN_KINDS = ("S3OriginConfig", "CustomOriginConfig", "VpcOriginConfig")
# Copied from a distribution's config into its summary (ListDistributions).
_SUMMARY_KEYS = (
    "Aliases",
    "Origins",
    "DefaultCacheBehavior",
    "CacheBehaviors",
    "Comment",
    "PriceClass",
    "Enabled",
    "ViewerCertificate",
    "HttpVersion",
    "IsIPV6Enabled",
)
ET.register_namespace("", NS)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _vpc_origin_ids(cfg: ET.Element) -> list[str]:
    return [
        (e.text or "").strip()
        for e in cfg.findall(
            f"{{{NS}}}Origins/{{{NS}}}Items/{{{NS}}}Origin/{{{NS}}}VpcOriginConfig/{{{NS}}}VpcOriginId"
        )
    ]


def _ns(parent: ET.Element, name: str, text: object | None = None) -> ET.Element:
    child = ET.SubElement(parent, f"{{{NS}}}{name}")
    if text is not None:
        child.text = str(text)
    return child


def _distribution_xml(d: dict[str, Any]) -> bytes:
    root = ET.Element(f"{{{NS}}}Distribution")
    for key in ("Id", "ARN", "Status", "LastModifiedTime"):
        _ns(root, key, d[key])
    _ns(root, "InProgressInvalidationBatches", 0)
    _ns(root, "DomainName", d["DomainName"])
    root.append(d["Config"])
    return ET.tostring(root, xml_declaration=True, encoding="utf-8")


def _config_xml(d: dict[str, Any]) -> bytes:
    return ET.tostring(d["Config"], xml_declaration=True, encoding="utf-8")


def _distribution_list_xml(dists: list[dict[str, Any]]) -> bytes:
    root = ET.Element(f"{{{NS}}}DistributionList")
    _ns(root, "Marker", "")
    _ns(root, "MaxItems", 100)
    _ns(root, "IsTruncated", "false")
    _ns(root, "Quantity", len(dists))
    items = _ns(root, "Items")
    for d in dists:
        s = _ns(items, "DistributionSummary")
        for key in ("Id", "ARN", "Status", "LastModifiedTime", "DomainName"):
            _ns(s, key, d[key])
        for key in _SUMMARY_KEYS:
            found = d["Config"].find(f"{{{NS}}}{key}")
            if found is not None:
                s.append(found)
        _ns(s, "Staging", "false")
    return ET.tostring(root, xml_declaration=True, encoding="utf-8")


def _el(parent: ET.Element, name: str, text: object | None = None) -> ET.Element:
    child = ET.SubElement(parent, name)
    if text is not None:
        child.text = str(text)
    return child


def _origin_xml(o: dict[str, Any]) -> bytes:
    root = ET.Element("VpcOrigin", xmlns=NS)
    for key in ("Id", "Arn"):
        _el(root, key, o[key])
    _el(root, "AccountId", ACCOUNT)
    for key in ("Status", "CreatedTime", "LastModifiedTime"):
        _el(root, key, o[key])
    cfg = _el(root, "VpcOriginEndpointConfig")
    for key in ("Name", "Arn", "HTTPPort", "HTTPSPort", "OriginProtocolPolicy"):
        _el(cfg, key, o["Config"][key])
    ssl = _el(cfg, "OriginSslProtocols")
    _el(ssl, "Quantity", len(o["Config"]["OriginSslProtocols"]))
    items = _el(ssl, "Items")
    for proto in o["Config"]["OriginSslProtocols"]:
        _el(items, "SslProtocol", proto)
    return ET.tostring(root, xml_declaration=True, encoding="utf-8")


def _list_xml(origins: list[dict[str, Any]]) -> bytes:
    root = ET.Element("VpcOriginList", xmlns=NS)
    _el(root, "Marker", "")
    _el(root, "MaxItems", 100)
    _el(root, "IsTruncated", "false")
    _el(root, "Quantity", len(origins))
    items = _el(root, "Items")
    for o in origins:
        s = _el(items, "VpcOriginSummary")
        _el(s, "Id", o["Id"])
        _el(s, "Name", o["Config"]["Name"])
        for key in ("Status", "CreatedTime", "LastModifiedTime", "Arn"):
            _el(s, key, o[key])
        _el(s, "AccountId", ACCOUNT)
        _el(s, "OriginEndpointArn", o["Config"]["Arn"])
    return ET.tostring(root, xml_declaration=True, encoding="utf-8")


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, status: int, body: bytes, etag: str | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(body)))
        if etag:
            self.send_header("ETag", etag)
        self.end_headers()
        self.wfile.write(body)

    def _error(self, e: ApiError) -> None:
        root = ET.Element("ErrorResponse", xmlns=NS)
        err = _el(root, "Error")
        _el(err, "Type", "Sender")
        _el(err, "Code", e.code)
        _el(err, "Message", e.message)
        _el(root, "RequestId", uuid.uuid4().hex)
        self._reply(e.status, ET.tostring(root, encoding="utf-8"))

    def _handle(self, method: str) -> None:
        state = self.server.state
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = self.path.split("?", 1)[0]
        try:
            signed = SIGV4.match(self.headers.get("Authorization", ""))
            if not signed or signed["service"] != "cloudfront":
                raise ApiError("MissingAuthenticationToken", "not signed for cloudfront", 403)
            oid = path[len(BASE) + 1 :] if path.startswith(BASE + "/") else ""
            if_match = self.headers.get("If-Match")
            if path == DIST or path.startswith(DIST + "/"):
                with state.lock:
                    self._distribution_call(method, path, body, if_match)
                return
            with state.lock:
                if method == "POST" and path == BASE:
                    state.calls.append("CreateVpcOrigin")
                    o = state.create(body)
                    self._reply(202, _origin_xml(o), o["ETag"])
                elif method == "GET" and path == BASE:
                    state.calls.append("ListVpcOrigins")
                    self._reply(200, _list_xml(list(state.origins.values())))
                elif method == "GET" and oid:
                    state.calls.append("GetVpcOrigin")
                    o = state.get(oid)
                    self._reply(200, _origin_xml(o), o["ETag"])
                elif method == "PUT" and oid:
                    state.calls.append("UpdateVpcOrigin")
                    o = state.update(oid, body, if_match)
                    self._reply(202, _origin_xml(o), o["ETag"])
                elif method == "DELETE" and oid:
                    state.calls.append("DeleteVpcOrigin")
                    o = state.delete(oid, if_match)
                    self._reply(202, _origin_xml(o), o["ETag"])
                else:
                    raise ApiError("NotImplemented", f"stand-in has no {method} {path}", 501)
        except ApiError as e:
            self._error(e)
        except (ET.ParseError, ValueError) as e:
            self._error(ApiError("MalformedInput", str(e)))

    def _distribution_call(self, method: str, path: str, body: bytes, if_match: str | None) -> None:
        state = self.server.state
        rest = path[len(DIST) :].strip("/").split("/") if path != DIST else []
        query = self.path.split("?", 1)[1] if "?" in self.path else ""
        if method == "POST" and not rest and query == "WithTags":
            state.calls.append("CreateDistributionWithTags")
            d = state.create_distribution(body)
            self._reply(201, _distribution_xml(d), d["ETag"])
        elif method == "GET" and not rest:
            state.calls.append("ListDistributions")
            self._reply(200, _distribution_list_xml(list(state.distributions.values())))
        elif method == "GET" and len(rest) == 1:
            state.calls.append("GetDistribution")
            d = state.get_distribution(rest[0])
            self._reply(200, _distribution_xml(d), d["ETag"])
        elif method == "GET" and rest[1:] == ["config"]:
            state.calls.append("GetDistributionConfig")
            d = state.get_distribution(rest[0])
            self._reply(200, _config_xml(d), d["ETag"])
        elif method == "PUT" and rest[1:] == ["config"]:
            state.calls.append("UpdateDistribution")
            d = state.update_distribution(rest[0], body, if_match)
            self._reply(200, _distribution_xml(d), d["ETag"])
        elif method == "DELETE" and len(rest) == 1:
            state.calls.append("DeleteDistribution")
            state.delete_distribution(rest[0], if_match)
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            raise ApiError("NotImplemented", f"stand-in has no {method} {self.path}", 501)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: VpcOriginState


class CloudFrontVpcOriginStandin:
    """The stand-in on 127.0.0.1, in a thread of the test process; `.state` is inspectable."""

    def __init__(self) -> None:
        self.state = VpcOriginState()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.state = self.state
        self.port = int(self._server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread: threading.Thread | None = None

    def start(self) -> CloudFrontVpcOriginStandin:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> CloudFrontVpcOriginStandin:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


if __name__ == "__main__":
    standin = CloudFrontVpcOriginStandin().start()
    print(f"CloudFront VPC-origin STAND-IN (not AWS) on {standin.url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        standin.stop()
