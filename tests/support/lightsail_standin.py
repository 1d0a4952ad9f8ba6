"""A STAND-IN for the AWS Lightsail API, NOT Lightsail and NOT an emulator of it.

moto has no Lightsail service (every call answers 500), and no AWS account is reachable from
the test machines. So the aws_host role's Lightsail path is tested against this: a small HTTP
server on 127.0.0.1 that speaks Lightsail's wire protocol (JSON 1.1, POST /,
``X-Amz-Target: Lightsail_20161128.<Action>``, SigV4-signed for the ``lightsail`` service) for
exactly the calls the role's module makes, keeping its state in memory.

What it proves: the role and its module build the right requests, read the answers the way
botocore parses Lightsail's documented response shapes, wait for a new instance, converge
(a second run makes no write call), honour check mode, and clean up.

What it cannot prove: that AWS accepts the requests (real validation of names, user data,
tags, ports), that a blueprint or bundle exists in a region, how the real firewall treats the
rules, quotas and limits, instance boot, networking and reachability, timing, prices.

Run alone: ``python -m tests.support.lightsail_standin`` prints its URL and serves until ^C.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ACCOUNT = "123456789012"
TARGET_PREFIX = "Lightsail_20161128."
# What the stand-in knows; anything else is refused, as a real region might.
BLUEPRINTS = {
    "debian_12": ("Debian", "admin"),
    "amazon_linux_2023": ("Amazon Linux 2023", "ec2-user"),
}
BUNDLES = {
    "nano_3_0": (2, 0.5, 20),
    "micro_3_0": (2, 1.0, 40),
    "small_3_0": (2, 2.0, 60),
}
SIGV4 = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=[^/]+/\d{8}/(?P<region>[a-z0-9-]+)/(?P<service>[a-z0-9-]+)/"
    r"aws4_request, ?SignedHeaders=[^,]+, ?Signature=[0-9a-f]{64}$"
)
READ_ACTIONS = {"GetInstance", "GetInstancePortStates", "GetStaticIp", "GetKeyPair"}


class ApiError(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def _required(body: dict[str, Any], *names: str) -> None:
    for name in names:
        if body.get(name) in (None, ""):
            raise ApiError("InvalidInputException", f"{name} is required")


class LightsailState:
    """In-memory instances, static IPs and key pairs of one region."""

    def __init__(self, region: str) -> None:
        self.region = region
        self.instances: dict[str, dict[str, Any]] = {}
        self.ports: dict[str, list[dict[str, Any]]] = {}
        self.static_ips: dict[str, dict[str, Any]] = {}
        self.key_pairs: dict[str, dict[str, Any]] = {}
        self.calls: list[str] = []
        self.lock = threading.Lock()
        self._next_ip = 10

    def _ip(self) -> str:
        self._next_ip += 1
        return f"203.0.113.{self._next_ip}"  # TEST-NET-3: never a real address

    def _arn(self, kind: str) -> str:
        return f"arn:aws:lightsail:{self.region}:{ACCOUNT}:{kind}/{uuid.uuid4()}"

    def _instance(self, name: str) -> dict[str, Any]:
        if name not in self.instances:
            raise ApiError("NotFoundException", f"The Instance does not exist: {name}")
        return self.instances[name]

    # ---- instances -------------------------------------------------------------------------

    def GetInstance(self, body: dict[str, Any]) -> dict[str, Any]:
        _required(body, "instanceName")
        inst = self._instance(body["instanceName"])
        if inst["state"]["name"] == "pending":
            inst["_polls"] += 1
            if inst["_polls"] > 1:  # the first look sees "pending", the next "running"
                inst["state"] = {"code": 16, "name": "running"}
        return {"instance": {k: v for k, v in inst.items() if not k.startswith("_")}}

    def CreateInstances(self, body: dict[str, Any]) -> dict[str, Any]:
        _required(body, "instanceNames", "availabilityZone", "blueprintId", "bundleId")
        zone = body["availabilityZone"]
        if not re.fullmatch(re.escape(self.region) + "[a-z]", zone):
            raise ApiError("InvalidInputException", f"Invalid availability zone: {zone}")
        if body["blueprintId"] not in BLUEPRINTS:
            raise ApiError("InvalidInputException", f"Unknown blueprint: {body['blueprintId']}")
        if body["bundleId"] not in BUNDLES:
            raise ApiError("InvalidInputException", f"Unknown bundle: {body['bundleId']}")
        key = body.get("keyPairName")
        if key and key not in self.key_pairs:
            raise ApiError("NotFoundException", f"The KeyPair does not exist: {key}")
        blueprint_name, user = BLUEPRINTS[body["blueprintId"]]
        cpus, ram, disk = BUNDLES[body["bundleId"]]
        operations = []
        for name in body["instanceNames"]:
            if name in self.instances:
                raise ApiError("InvalidInputException", f"Instance name already in use: {name}")
            self.instances[name] = {
                "name": name,
                "arn": self._arn("Instance"),
                "createdAt": time.time(),
                "location": {"availabilityZone": zone, "regionName": self.region},
                "resourceType": "Instance",
                "tags": body.get("tags", []),
                "blueprintId": body["blueprintId"],
                "blueprintName": blueprint_name,
                "bundleId": body["bundleId"],
                "isStaticIp": False,
                "privateIpAddress": "172.26.0.10",
                "publicIpAddress": self._ip(),
                "hardware": {"cpuCount": cpus, "ramSizeInGb": ram, "disks": [{"sizeInGb": disk}]},
                "state": {"code": 0, "name": "pending"},
                "username": user,
                "sshKeyName": key or "LightsailDefaultKeyPair",
                "_polls": 0,
                "_userData": body.get("userData", ""),
            }
            # Lightsail opens 22 and 80 to everyone on a new instance.
            self.ports[name] = [
                {"fromPort": 22, "toPort": 22, "protocol": "tcp", "cidrs": ["0.0.0.0/0"]},
                {"fromPort": 80, "toPort": 80, "protocol": "tcp", "cidrs": ["0.0.0.0/0"]},
            ]
            operations.append(self._operation("CreateInstance", name))
        return {"operations": operations}

    def DeleteInstance(self, body: dict[str, Any]) -> dict[str, Any]:
        _required(body, "instanceName")
        name = body["instanceName"]
        self._instance(name)
        for ip in self.static_ips.values():
            if ip.get("attachedTo") == name:
                ip["isAttached"] = False
                ip.pop("attachedTo", None)
        del self.instances[name]
        self.ports.pop(name, None)
        return {"operations": [self._operation("DeleteInstance", name)]}

    def TagResource(self, body: dict[str, Any]) -> dict[str, Any]:
        _required(body, "resourceName", "tags")
        inst = self._instance(body["resourceName"])
        tags = {t["key"]: t.get("value", "") for t in inst["tags"]}
        tags.update({t["key"]: t.get("value", "") for t in body["tags"]})
        inst["tags"] = [{"key": k, "value": v} for k, v in tags.items()]
        return {"operations": [self._operation("TagResource", body["resourceName"])]}

    # ---- firewall --------------------------------------------------------------------------

    def GetInstancePortStates(self, body: dict[str, Any]) -> dict[str, Any]:
        _required(body, "instanceName")
        self._instance(body["instanceName"])
        return {
            "portStates": [
                {**p, "state": "open", "ipv6Cidrs": p.get("ipv6Cidrs", []), "cidrListAliases": []}
                for p in self.ports[body["instanceName"]]
            ]
        }

    def PutInstancePublicPorts(self, body: dict[str, Any]) -> dict[str, Any]:
        _required(body, "instanceName")
        if "portInfos" not in body:
            raise ApiError("InvalidInputException", "portInfos is required")
        self._instance(body["instanceName"])
        rules = []
        for info in body["portInfos"]:
            if not info.get("cidrs") and not info.get("ipv6Cidrs"):
                raise ApiError("InvalidInputException", "a port needs cidrs or ipv6Cidrs")
            lo, hi = int(info.get("fromPort", -1)), int(info.get("toPort", -1))
            if not (0 <= lo <= hi <= 65535):
                raise ApiError("InvalidInputException", f"invalid port range {lo}-{hi}")
            rules.append(
                {
                    "fromPort": lo,
                    "toPort": hi,
                    "protocol": info.get("protocol", "tcp"),
                    "cidrs": list(info.get("cidrs", [])),
                    "ipv6Cidrs": list(info.get("ipv6Cidrs", [])),
                }
            )
        self.ports[body["instanceName"]] = rules
        return {"operation": self._operation("PutInstancePublicPorts", body["instanceName"])}

    # ---- static IPs ------------------------------------------------------------------------

    def _static_ip(self, name: str) -> dict[str, Any]:
        if name not in self.static_ips:
            raise ApiError("NotFoundException", f"The StaticIp does not exist: {name}")
        return self.static_ips[name]

    def GetStaticIp(self, body: dict[str, Any]) -> dict[str, Any]:
        _required(body, "staticIpName")
        return {"staticIp": self._static_ip(body["staticIpName"])}

    def AllocateStaticIp(self, body: dict[str, Any]) -> dict[str, Any]:
        _required(body, "staticIpName")
        name = body["staticIpName"]
        if name in self.static_ips:
            raise ApiError("InvalidInputException", f"StaticIp name already in use: {name}")
        self.static_ips[name] = {
            "name": name,
            "arn": self._arn("StaticIp"),
            "createdAt": time.time(),
            "location": {"availabilityZone": "all", "regionName": self.region},
            "resourceType": "StaticIp",
            "ipAddress": self._ip(),
            "isAttached": False,
        }
        return {"operations": [self._operation("AllocateStaticIp", name)]}

    def AttachStaticIp(self, body: dict[str, Any]) -> dict[str, Any]:
        _required(body, "staticIpName", "instanceName")
        ip = self._static_ip(body["staticIpName"])
        inst = self._instance(body["instanceName"])
        ip.update({"isAttached": True, "attachedTo": inst["name"]})
        inst.update({"publicIpAddress": ip["ipAddress"], "isStaticIp": True})
        return {"operations": [self._operation("AttachStaticIp", ip["name"])]}

    def DetachStaticIp(self, body: dict[str, Any]) -> dict[str, Any]:
        _required(body, "staticIpName")
        ip = self._static_ip(body["staticIpName"])
        attached = ip.pop("attachedTo", None)
        ip["isAttached"] = False
        if attached in self.instances:
            self.instances[attached].update({"publicIpAddress": self._ip(), "isStaticIp": False})
        return {"operations": [self._operation("DetachStaticIp", ip["name"])]}

    def ReleaseStaticIp(self, body: dict[str, Any]) -> dict[str, Any]:
        _required(body, "staticIpName")
        ip = self._static_ip(body["staticIpName"])
        if ip.get("isAttached"):
            raise ApiError("InvalidInputException", "detach the static IP before releasing it")
        del self.static_ips[ip["name"]]
        return {"operations": [self._operation("ReleaseStaticIp", ip["name"])]}

    # ---- key pairs -------------------------------------------------------------------------

    def GetKeyPair(self, body: dict[str, Any]) -> dict[str, Any]:
        _required(body, "keyPairName")
        name = body["keyPairName"]
        if name not in self.key_pairs:
            raise ApiError("NotFoundException", f"The KeyPair does not exist: {name}")
        return {"keyPair": self.key_pairs[name]}

    def ImportKeyPair(self, body: dict[str, Any]) -> dict[str, Any]:
        _required(body, "keyPairName", "publicKeyBase64")
        name = body["keyPairName"]
        if name in self.key_pairs:
            raise ApiError("InvalidInputException", f"KeyPair name already in use: {name}")
        self.key_pairs[name] = {
            "name": name,
            "arn": self._arn("KeyPair"),
            "createdAt": time.time(),
            "location": {"availabilityZone": "all", "regionName": self.region},
            "resourceType": "KeyPair",
            "fingerprint": uuid.uuid5(uuid.NAMESPACE_OID, body["publicKeyBase64"]).hex,
        }
        return {"operation": self._operation("ImportKeyPair", name)}

    def DeleteKeyPair(self, body: dict[str, Any]) -> dict[str, Any]:
        _required(body, "keyPairName")
        if body["keyPairName"] not in self.key_pairs:
            raise ApiError(
                "NotFoundException", f"The KeyPair does not exist: {body['keyPairName']}"
            )
        del self.key_pairs[body["keyPairName"]]
        return {"operation": self._operation("DeleteKeyPair", body["keyPairName"])}

    def _operation(self, kind: str, resource: str) -> dict[str, Any]:
        return {
            "id": str(uuid.uuid4()),
            "resourceName": resource,
            "operationType": kind,
            "status": "Succeeded",
            "isTerminal": True,
            "createdAt": time.time(),
        }

    def handle(self, action: str, body: dict[str, Any]) -> dict[str, Any]:
        handler: Callable[[dict[str, Any]], dict[str, Any]] | None = getattr(self, action, None)
        if handler is None or action.startswith("_") or not action[:1].isupper():
            raise ApiError(
                "InvalidAction", f"{action} is not implemented by this Lightsail stand-in"
            )
        with self.lock:
            self.calls.append(action)
            return handler(body)

    @property
    def write_calls(self) -> list[str]:
        return [c for c in self.calls if c not in READ_ACTIONS]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        state = self.server.state
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length) if length else b"{}"
        try:
            target = self.headers.get("X-Amz-Target", "")
            if not target.startswith(TARGET_PREFIX):
                raise ApiError("UnknownOperationException", f"bad X-Amz-Target {target!r}")
            signed = SIGV4.match(self.headers.get("Authorization", ""))
            if not signed or signed["service"] != "lightsail":
                raise ApiError("MissingAuthenticationTokenException", "not signed for lightsail")
            if signed["region"] != state.region:
                raise ApiError("InvalidSignatureException", f"signed for {signed['region']}")
            body = json.loads(raw or b"{}")
            self._reply(200, state.handle(target[len(TARGET_PREFIX) :], body))
        except ApiError as e:
            self._reply(e.status, {"__type": e.code, "message": e.message})
        except (ValueError, KeyError, TypeError) as e:
            self._reply(400, {"__type": "InvalidInputException", "message": str(e)})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: LightsailState


class LightsailStandin:
    """The stand-in on 127.0.0.1, in a thread of the test process; `.state` is inspectable."""

    def __init__(self, region: str = "us-east-1") -> None:
        self.state = LightsailState(region)
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.state = self.state
        self.port = int(self._server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread: threading.Thread | None = None

    def start(self) -> LightsailStandin:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> LightsailStandin:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


if __name__ == "__main__":
    standin = LightsailStandin().start()
    print(f"Lightsail STAND-IN (not AWS) on {standin.url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        standin.stop()
