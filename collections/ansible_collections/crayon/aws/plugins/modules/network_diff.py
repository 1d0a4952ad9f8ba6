#!/usr/bin/python
"""aws_network's read-compare: the network as it is, compared with the role's wanted state in
one process (the role's write tasks run only for what is not in sync)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: network_diff
short_description: Read a VPC and what is in it, and compare it with the wanted network
description:
  - Reads the VPC named I(name) (with I(cidr)), its subnets, internet gateway, NAT gateways,
    route tables and security groups in one process and returns, for each resource the role
    aws_network manages, C(in_sync) (every wanted setting is there), C(exists), the fields that
    differ and the resource's id. Read-only; runs in check mode.
  - Tags are compared as "every wanted tag is there with its value" (AWS may hold more).
  - References are resolved by name; a reference to a resource that does not exist yet makes
    the referring resource out of sync (a route to a missing gateway, an association with a
    missing subnet, a rule from a missing group).
  - Chooses the subnets' availability zones, in this order, from I(azs), from the existing
    public subnets, or as the region's first two available zones.
options:
  name:
    description: Name tag of the VPC; the other resources' names are given in full.
    type: str
    required: true
  cidr:
    description: CIDR block of the VPC (a VPC of that name with another CIDR is not this one).
    type: str
    required: true
  tags:
    description: Tags every resource carries (each also has its own Name).
    type: dict
    default: {}
  azs:
    description: Two availability zones for the subnets; empty keeps the existing ones.
    type: list
    elements: str
    default: []
  subnets:
    description: The subnets, each in zone 0 or 1 of the two chosen.
    type: list
    elements: dict
    default: []
    suboptions:
      name: {description: Name tag., type: str, required: true}
      cidr: {description: CIDR block., type: str, required: true}
      zone: {description: 0 or 1 (the first or second chosen zone)., type: int, required: true}
      tags: {description: Tags besides I(tags) and Name (Tier)., type: dict, default: {}}
  nat_gateway:
    description: Whether the VPC has a NAT gateway.
    type: bool
    default: false
  route_tables:
    description: The route tables, found by Name tag.
    type: list
    elements: dict
    default: []
    suboptions:
      name: {description: Name tag., type: str, required: true}
      subnets:
        description: Names of the subnets associated with it.
        type: list
        elements: str
        default: []
      routes:
        description: >-
          Routes besides the local one, {dest, target}: target igw (the VPC's internet
          gateway) or nat (its NAT gateway).
        type: list
        elements: dict
        default: []
  security_groups:
    description: The security groups, found by name in the VPC.
    type: list
    elements: dict
    default: []
    suboptions:
      name: {description: Group name (and Name tag)., type: str, required: true}
      description:
        description: The group's description (EC2 cannot change it in place).
        type: str
        required: true
      ingress:
        description: >-
          Inbound rules as ec2_security_group takes them (proto, ports, and cidr_ip or
          group_name of a group in the same VPC); nothing else may be there.
        type: list
        elements: dict
        default: []
      egress: {description: Outbound rules, the same way., type: list, elements: dict, default: []}
author: Crayon
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Compare the network with what the role wants
  crayon.aws.network_diff:
    name: crayon-production
    cidr: 10.0.0.0/16
    tags: {Project: crayon}
    subnets:
      - {name: crayon-production-public-1, cidr: 10.0.0.0/24, zone: 0, tags: {Tier: public}}
    route_tables:
      - name: crayon-production-public
        subnets: [crayon-production-public-1]
        routes: [{dest: 0.0.0.0/0, target: igw}]
    security_groups:
      - name: crayon-production-alb
        description: load balancer
        ingress: [{proto: tcp, ports: [80, 443], cidr_ip: 0.0.0.0/0}]
  register: network
"""

RETURN = r"""
vpc_count:
  description: How many VPCs carry the name and CIDR (more than 1 is ambiguous).
  returned: always
  type: int
vpc:
  description: in_sync, exists, differs (field names) and id of the VPC.
  returned: always
  type: dict
zones:
  description: The two availability zones the subnets are (to be) in.
  returned: always
  type: list
  elements: str
subnets:
  description: By name, in_sync, exists, differs, id, az and cidr of each wanted subnet.
  returned: always
  type: dict
igw:
  description: in_sync, exists, differs and id of the internet gateway.
  returned: always
  type: dict
nat:
  description: in_sync, exists and id of the NAT gateway (in sync when none is wanted).
  returned: always
  type: dict
route_tables:
  description: By name, in_sync, exists, differs and id of each wanted route table.
  returned: always
  type: dict
security_groups:
  description: By name, in_sync, exists, differs and id of each wanted security group.
  returned: always
  type: dict
"""

from typing import Any  # noqa: E402

from ansible_collections.crayon.aws.plugins.module_utils.common import (  # noqa: E402
    AWS_ERRORS,
    AnsibleAWSModule,
)
from ansible_collections.crayon.aws.plugins.module_utils.network import (  # noqa: E402
    read_network,
)


def _result(differs: list[str], rid: str = "", **extra: Any) -> dict[str, Any]:
    return {"in_sync": not differs, "exists": bool(rid), "differs": differs, "id": rid, **extra}


def _missing() -> dict[str, Any]:
    return _result(["(missing)"])


def _tags_differ(want: dict[str, str], have: dict[str, str]) -> bool:
    return any(have.get(k) != str(v) for k, v in want.items())


def _ports(ports: Any) -> list[tuple[int, int]]:
    out = []
    for p in ports if isinstance(ports, list) else [ports]:
        lo, _, hi = str(p).partition("-")
        out.append((int(lo), int(hi or lo)))
    return out


def rule_strings(rules: list[dict[str, Any]], group_ids: dict[str, str]) -> list[str] | None:
    """ec2_security_group rules as read_network's 'proto:from-to:source' strings; None when a
    rule names a group that does not exist (so the group cannot be in sync)."""
    out = []
    for r in rules:
        if r.get("group_name"):
            source = group_ids.get(r["group_name"])
            if source is None:
                return None
        else:
            source = r.get("cidr_ip", "")
        proto = str(r.get("proto", "tcp"))
        for lo, hi in _ports(r.get("ports", [])):
            out.append(f"{proto}:{lo}-{hi}:{source}")
    return sorted(out)


def zones(p: dict[str, Any], net: dict[str, Any], available: list[str]) -> list[str]:
    if len(p["azs"]) == 2:
        return list(p["azs"])
    have: dict[int, str] = {}  # the first existing subnet of each zone (the public ones)
    existing = net.get("subnets") or {}  # none when there is no VPC yet
    for s in p["subnets"]:
        if s["name"] in existing:
            have.setdefault(s["zone"], existing[s["name"]]["az"])
    if set(have) == {0, 1}:
        return [have[0], have[1]]
    return sorted(available)[:2]


def compare(p: dict[str, Any], net: dict[str, Any], available: list[str]) -> dict[str, Any]:
    """in_sync per resource: `net` is read_network's answer, `available` the region's zones."""
    tags, name = p["tags"], p["name"]
    out: dict[str, Any] = {"vpc_count": net.get("vpc_count", 1)}
    vpc = net["vpc"]
    if vpc is None:
        net = {"subnets": {}, "igw": None, "route_tables": {}, "security_groups": {}}
        net["nat_gateways"], net["vpc"] = [], None
        out["vpc"] = _missing()
    else:
        differs = [k for k in ("dns_support", "dns_hostnames") if not vpc[k]]
        if _tags_differ({**tags, "Name": name}, vpc["tags"]):
            differs.append("tags")
        out["vpc"] = _result(differs, vpc["id"])
    out["zones"] = zones(p, net, available)
    out["subnets"] = {}
    for s in p["subnets"]:
        have = net["subnets"].get(s["name"])
        az = out["zones"][s["zone"]]
        if have is None:
            out["subnets"][s["name"]] = {**_missing(), "az": az, "cidr": s["cidr"]}
            continue
        differs = [k for k, v in (("cidr", s["cidr"]), ("az", az)) if have[k] != v]
        if have["map_public"]:
            differs.append("map_public")
        if _tags_differ({**tags, **s["tags"], "Name": s["name"]}, have["tags"]):
            differs.append("tags")
        out["subnets"][s["name"]] = _result(differs, have["id"], az=az, cidr=s["cidr"])
    igw = net["igw"]
    if igw is None:
        out["igw"] = _missing()
    else:
        out["igw"] = _result(
            ["tags"] if _tags_differ({**tags, "Name": name}, igw["tags"]) else [], igw["id"]
        )
    nat = (net["nat_gateways"] or [""])[0]
    out["nat"] = _result([] if nat or not p["nat_gateway"] else ["(missing)"], nat)
    targets = {"igw": igw["id"] if igw else None, "nat": nat or None}
    subnet_ids = {k: v["id"] for k, v in net["subnets"].items()}
    out["route_tables"] = {}
    for rt in p["route_tables"]:
        have = net["route_tables"].get(rt["name"])
        if have is None:
            out["route_tables"][rt["name"]] = _missing()
            continue
        differs = []
        want_subnets = [subnet_ids.get(n) for n in rt["subnets"]]
        if None in want_subnets or sorted(map(str, want_subnets)) != have["subnets"]:
            differs.append("subnets")
        want_routes = [f"{r['dest']}>{targets.get(r['target'])}" for r in rt["routes"]]
        if any(targets.get(r["target"]) is None for r in rt["routes"]) or sorted(
            want_routes
        ) != sorted(have["routes"]):
            differs.append("routes")
        if _tags_differ({**tags, "Name": rt["name"]}, have["tags"]):
            differs.append("tags")
        out["route_tables"][rt["name"]] = _result(differs, have["id"])
    group_ids = {k: v["id"] for k, v in net["security_groups"].items()}
    out["security_groups"] = {}
    for sg in p["security_groups"]:
        have = net["security_groups"].get(sg["name"])
        if have is None:
            out["security_groups"][sg["name"]] = _missing()
            continue
        differs = [] if have["description"] == sg["description"] else ["description"]
        for key in ("ingress", "egress"):
            if rule_strings(sg[key], group_ids) != sorted(have[key]):
                differs.append(key)
        if _tags_differ({**tags, "Name": sg["name"]}, have["tags"]):
            differs.append("tags")
        out["security_groups"][sg["name"]] = _result(differs, have["id"])
    return out


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "name": {"type": "str", "required": True},
            "cidr": {"type": "str", "required": True},
            "tags": {"type": "dict", "default": {}},
            "azs": {"type": "list", "elements": "str", "default": []},
            "subnets": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {
                    "name": {"type": "str", "required": True},
                    "cidr": {"type": "str", "required": True},
                    "zone": {"type": "int", "required": True},
                    "tags": {"type": "dict", "default": {}},
                },
            },
            "nat_gateway": {"type": "bool", "default": False},
            "route_tables": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {
                    "name": {"type": "str", "required": True},
                    "subnets": {"type": "list", "elements": "str", "default": []},
                    "routes": {"type": "list", "elements": "dict", "default": []},
                },
            },
            "security_groups": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {
                    "name": {"type": "str", "required": True},
                    "description": {"type": "str", "required": True},
                    "ingress": {"type": "list", "elements": "dict", "default": []},
                    "egress": {"type": "list", "elements": "dict", "default": []},
                },
            },
        },
        supports_check_mode=True,
    )
    p = module.params
    ec2 = module.client("ec2")
    try:
        net = read_network(ec2, p["name"], p["cidr"])
        available: list[str] = []
        if not zones(p, net, available):  # neither given nor in use: the region's first two
            available = [
                z["ZoneName"]
                for z in ec2.describe_availability_zones(
                    Filters=[
                        {"Name": "state", "Values": ["available"]},
                        {"Name": "zone-type", "Values": ["availability-zone"]},
                    ]
                )["AvailabilityZones"]
            ]
    except AWS_ERRORS as e:
        module.fail_json_aws(e, msg=f"Could not read the network {p['name']}")
    module.exit_json(changed=False, **compare(p, net, available))


if __name__ == "__main__":
    main()
