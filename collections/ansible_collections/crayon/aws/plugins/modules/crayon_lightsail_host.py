#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module: one Lightsail instance with its firewall, static IP and key pair."""

from __future__ import annotations

DOCUMENTATION = r"""
module: crayon_lightsail_host
short_description: Manage a Lightsail instance, its firewall, static IP and key pair
description:
  - Creates (or deletes) one Lightsail instance, imports its SSH key pair, sets its firewall
    (public ports) to exactly the list given, and allocates a static IP attached to it.
  - Reads first and changes only what differs, so a second run makes no write call and
    reports no change. Supports check mode and diff mode.
  - Written because community.aws.lightsail has no check mode, rewrites the firewall on every
    run and takes no tags, and community.aws.lightsail_static_ip does not attach the address.
  - A blueprint or bundle that differs from an existing instance is only reported (a warning
    and I(drift)); Lightsail cannot change either in place.
version_added: "0.1.0"
author: Crayon deployment kit
options:
  name:
    description: Instance name.
    type: str
    required: true
  state:
    description: Whether the instance (and its static IP and imported key pair) should exist.
    type: str
    choices: [present, absent]
    default: present
  zone:
    description: Availability zone, for example C(us-east-1a). Required when present.
    type: str
  blueprint_id:
    description: Image, for example C(debian_12). Required when present.
    type: str
  bundle_id:
    description: Plan, for example C(micro_3_0). Required when present.
    type: str
  user_data:
    description: Launch script run on first boot.
    type: str
    default: ""
  key_pair_name:
    description: Key pair of the instance. Empty means the region's default key pair.
    type: str
  public_key:
    description:
      - OpenSSH public key imported as I(key_pair_name) when that key pair does not exist
        (and deleted with the instance when I(state=absent)).
    type: str
  ports:
    description:
      - The complete firewall: every port not listed is closed.
    type: list
    elements: dict
    default: []
    suboptions:
      from_port:
        description: First port.
        type: int
        required: true
      to_port:
        description: Last port.
        type: int
        required: true
      protocol:
        description: Protocol.
        type: str
        choices: [tcp, udp, all, icmp]
        default: tcp
      cidrs:
        description: IPv4 sources.
        type: list
        elements: str
        default: []
      ipv6_cidrs:
        description: IPv6 sources.
        type: list
        elements: str
        default: []
  static_ip_name:
    description: Static IP name. Empty means no static IP.
    type: str
    default: ""
  tags:
    description: Tags set on the instance (tags not listed are left alone).
    type: dict
    default: {}
  wait:
    description: Wait for a new instance to be running.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait.
    type: int
    default: 600
  wait_interval:
    description: Seconds between two looks at the instance state.
    type: float
    default: 5
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: A Debian 12 Lightsail host with only the app port open
  crayon.aws.crayon_lightsail_host:
    name: crayon-host
    zone: us-east-1a
    blueprint_id: debian_12
    bundle_id: micro_3_0
    static_ip_name: crayon-host-ip
    ports:
      - from_port: 8000
        to_port: 8000
        cidrs: [0.0.0.0/0]
"""

RETURN = r"""
instance:
  description: The instance as Lightsail describes it, in snake case (empty when absent).
  returned: always
  type: dict
public_ip:
  description: The static IP when there is one, else the instance's public address.
  returned: always
  type: str
static_ip:
  description: The static IP as Lightsail describes it, in snake case.
  returned: always
  type: dict
changes:
  description: What was (or in check mode would be) changed, in words.
  returned: always
  type: list
  elements: str
drift:
  description: Differences that cannot be corrected in place (blueprint, bundle).
  returned: always
  type: list
  elements: str
"""

from typing import Any  # noqa: E402

from ansible.module_utils.common.dict_transformations import (  # type: ignore[import-untyped]  # noqa: E402
    camel_dict_to_snake_dict,
)
from ansible_collections.amazon.aws.plugins.module_utils.botocore import (  # type: ignore[import-untyped]  # noqa: E402
    is_boto3_error_code,
)
from ansible_collections.crayon.aws.plugins.module_utils.common import (  # noqa: E402
    AWS_ERRORS,
    AnsibleAWSModule,
    wait_for,
)

PortKey = tuple[int, int, str, tuple[str, ...], tuple[str, ...]]


class Host:
    """The calls the module makes, each failing the module with AWS's words on error."""

    def __init__(self, module: Any) -> None:
        self.module = module
        self.client = module.client("lightsail")

    def _call(self, action: str, **kwargs: Any) -> dict[str, Any]:
        try:
            result: dict[str, Any] = getattr(self.client, action)(**kwargs)
        except AWS_ERRORS as e:
            self.module.fail_json_aws(e, msg=f"Lightsail {action} failed")
        return result

    def _get(self, action: str, key: str, **kwargs: Any) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = getattr(self.client, action)(**kwargs)[key]
        except is_boto3_error_code("NotFoundException"):
            return None
        except AWS_ERRORS as e:
            self.module.fail_json_aws(e, msg=f"Lightsail {action} failed")
        return found

    def instance(self, name: str) -> dict[str, Any] | None:
        return self._get("get_instance", "instance", instanceName=name)

    def static_ip(self, name: str) -> dict[str, Any] | None:
        return self._get("get_static_ip", "staticIp", staticIpName=name)

    def key_pair(self, name: str) -> dict[str, Any] | None:
        return self._get("get_key_pair", "keyPair", keyPairName=name)

    def port_states(self, name: str) -> list[dict[str, Any]]:
        states: list[dict[str, Any]] = self._call("get_instance_port_states", instanceName=name)[
            "portStates"
        ]
        return states

    def wait_for(self, name: str, states: set[str], gone: bool = False) -> dict[str, Any] | None:
        params = self.module.params

        def settled(inst: dict[str, Any] | None) -> bool:
            if gone:
                return inst is None
            return inst is not None and inst["state"]["name"] in states

        def timed_out(inst: dict[str, Any] | None) -> None:
            now = "gone" if inst is None else inst["state"]["name"]
            want = "gone" if gone else " or ".join(sorted(states))
            self.module.fail_json(
                msg=f"Lightsail instance {name} is {now} after {params['wait_timeout']} s, "
                f"expected {want}"
            )

        return wait_for(
            lambda: self.instance(name),
            settled,
            timeout=params["wait_timeout"],
            interval=params["wait_interval"],
            timed_out=timed_out,
        )


def port_key(port: dict[str, Any]) -> PortKey:
    """A comparable form of one firewall rule, from the module's or the API's spelling."""
    return (
        int(port.get("from_port", port.get("fromPort", 0))),
        int(port.get("to_port", port.get("toPort", 0))),
        str(port.get("protocol", "tcp")).lower(),
        tuple(sorted(port.get("cidrs") or [])),
        tuple(sorted(port.get("ipv6_cidrs", port.get("ipv6Cidrs")) or [])),
    )


def wanted_ports(params: dict[str, Any]) -> list[PortKey]:
    return sorted({port_key(p) for p in params["ports"]})


def current_ports(states: list[dict[str, Any]]) -> list[PortKey]:
    return sorted({port_key(s) for s in states if s.get("state", "open") == "open"})


def to_port_infos(keys: list[PortKey]) -> list[dict[str, Any]]:
    infos = []
    for from_port, to_port, protocol, cidrs, ipv6_cidrs in keys:
        info: dict[str, Any] = {"fromPort": from_port, "toPort": to_port, "protocol": protocol}
        if cidrs:
            info["cidrs"] = list(cidrs)
        if ipv6_cidrs:
            info["ipv6Cidrs"] = list(ipv6_cidrs)
        infos.append(info)
    return infos


def describe_ports(keys: list[PortKey]) -> list[str]:
    return [
        f"{proto} {lo}-{hi} from {', '.join(v4 + v6) or 'nowhere'}"
        for lo, hi, proto, v4, v6 in keys
    ]


def ensure_present(module: Any, host: Host) -> None:
    p = module.params
    name: str = p["name"]
    check = module.check_mode
    changes: list[str] = []
    drift: list[str] = []
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}

    # Key pair (only when this module is given the public key to import).
    if p["public_key"] and p["key_pair_name"] and host.key_pair(p["key_pair_name"]) is None:
        changes.append(f"import key pair {p['key_pair_name']}")
        if not check:
            host._call(
                "import_key_pair", keyPairName=p["key_pair_name"], publicKeyBase64=p["public_key"]
            )

    # Instance.
    inst = host.instance(name)
    wanted_tags = {str(k): str(v) for k, v in p["tags"].items()}
    if inst is None:
        changes.append(f"create instance {name} ({p['blueprint_id']}, {p['bundle_id']})")
        before["instance"] = None
        after["instance"] = {"blueprint_id": p["blueprint_id"], "bundle_id": p["bundle_id"]}
        if not check:
            create: dict[str, Any] = {
                "instanceNames": [name],
                "availabilityZone": p["zone"],
                "blueprintId": p["blueprint_id"],
                "bundleId": p["bundle_id"],
                "userData": p["user_data"],
                "tags": [{"key": k, "value": v} for k, v in sorted(wanted_tags.items())],
            }
            if p["key_pair_name"]:
                create["keyPairName"] = p["key_pair_name"]
            host._call("create_instances", **create)
            inst = host.instance(name)
            if p["wait"]:
                inst = host.wait_for(name, {"running"})
    else:
        if inst.get("blueprintId") != p["blueprint_id"]:
            drift.append(f"blueprint is {inst.get('blueprintId')}, wanted {p['blueprint_id']}")
        if inst.get("bundleId") != p["bundle_id"]:
            drift.append(f"bundle is {inst.get('bundleId')}, wanted {p['bundle_id']}")
        have_tags = {t["key"]: t.get("value", "") for t in inst.get("tags", [])}
        missing = {k: v for k, v in wanted_tags.items() if have_tags.get(k) != v}
        if missing:
            changes.append(f"tag instance with {', '.join(sorted(missing))}")
            before["tags"] = have_tags
            after["tags"] = {**have_tags, **missing}
            if not check:
                host._call(
                    "tag_resource",
                    resourceName=name,
                    tags=[{"key": k, "value": v} for k, v in sorted(missing.items())],
                )
    for message in drift:
        module.warn(f"Lightsail instance {name}: {message}; Lightsail cannot change it in place")

    # Firewall: exactly the ports listed.
    want = wanted_ports(p)
    have = current_ports(host.port_states(name)) if inst is not None else []
    if inst is None or want != have:
        changes.append("set firewall to: " + ("; ".join(describe_ports(want)) or "all closed"))
        before["ports"] = describe_ports(have)
        after["ports"] = describe_ports(want)
        if not check:
            host._call(
                "put_instance_public_ports", instanceName=name, portInfos=to_port_infos(want)
            )

    # Static IP, attached to this instance.
    static: dict[str, Any] | None = None
    if p["static_ip_name"]:
        ip_name = p["static_ip_name"]
        static = host.static_ip(ip_name)
        if static is None:
            changes.append(f"allocate static IP {ip_name}")
            if not check:
                host._call("allocate_static_ip", staticIpName=ip_name)
                static = host.static_ip(ip_name)
        if static is None or not static.get("isAttached") or static.get("attachedTo") != name:
            changes.append(f"attach static IP {ip_name} to {name}")
            before["static_ip_attached_to"] = (static or {}).get("attachedTo")
            after["static_ip_attached_to"] = name
            if not check:
                host._call("attach_static_ip", staticIpName=ip_name, instanceName=name)
                static = host.static_ip(ip_name)

    if changes and not check:
        inst = host.instance(name)
    public_ip = (static or {}).get("ipAddress") or (inst or {}).get("publicIpAddress") or ""
    module.exit_json(
        changed=bool(changes),
        changes=changes,
        drift=drift,
        instance=camel_dict_to_snake_dict(inst or {}),
        static_ip=camel_dict_to_snake_dict(static or {}),
        public_ip=public_ip,
        diff={"before": before, "after": after},
    )


def ensure_absent(module: Any, host: Host) -> None:
    p = module.params
    name: str = p["name"]
    check = module.check_mode
    changes: list[str] = []

    if p["static_ip_name"]:
        static = host.static_ip(p["static_ip_name"])
        if static is not None:
            changes.append(f"release static IP {p['static_ip_name']}")
            if not check:
                if static.get("isAttached"):
                    host._call("detach_static_ip", staticIpName=p["static_ip_name"])
                host._call("release_static_ip", staticIpName=p["static_ip_name"])

    inst = host.instance(name)
    if inst is not None:
        changes.append(f"delete instance {name}")
        if not check:
            host.wait_for(name, {"running", "stopped"})
            host._call("delete_instance", instanceName=name)
            if p["wait"]:
                host.wait_for(name, set(), gone=True)

    if p["public_key"] and p["key_pair_name"] and host.key_pair(p["key_pair_name"]) is not None:
        changes.append(f"delete key pair {p['key_pair_name']}")
        if not check:
            host._call("delete_key_pair", keyPairName=p["key_pair_name"])

    module.exit_json(
        changed=bool(changes),
        changes=changes,
        drift=[],
        instance={},
        static_ip={},
        public_ip="",
        diff={"before": {"exists": bool(changes)}, "after": {"exists": False}},
    )


def main() -> None:
    port_options = {
        "from_port": {"type": "int", "required": True},
        "to_port": {"type": "int", "required": True},
        "protocol": {"type": "str", "default": "tcp", "choices": ["tcp", "udp", "all", "icmp"]},
        "cidrs": {"type": "list", "elements": "str", "default": []},
        "ipv6_cidrs": {"type": "list", "elements": "str", "default": []},
    }
    module = AnsibleAWSModule(
        argument_spec={
            "name": {"type": "str", "required": True},
            "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
            "zone": {"type": "str"},
            "blueprint_id": {"type": "str"},
            "bundle_id": {"type": "str"},
            "user_data": {"type": "str", "default": ""},
            "key_pair_name": {"type": "str"},
            "public_key": {"type": "str", "no_log": False},
            "ports": {"type": "list", "elements": "dict", "default": [], "options": port_options},
            "static_ip_name": {"type": "str", "default": ""},
            "tags": {"type": "dict", "default": {}},
            "wait": {"type": "bool", "default": True},
            "wait_timeout": {"type": "int", "default": 600},
            "wait_interval": {"type": "float", "default": 5.0},
        },
        required_if=[("state", "present", ("zone", "blueprint_id", "bundle_id"))],
        supports_check_mode=True,
    )
    host = Host(module)
    if module.params["state"] == "present":
        ensure_present(module, host)
    else:
        ensure_absent(module, host)


if __name__ == "__main__":
    main()
