"""The network as EC2 reports it, in one normalised shape: read by aws_stack_state (destroy)
and network_diff (aws_network's read-compare)."""

from __future__ import annotations

from typing import Any

from ansible_collections.crayon.aws.plugins.module_utils.common import tags_dict


def perm_strings(perms: list[dict[str, Any]]) -> list[str]:
    """Security group rules as sorted 'proto:from-to:source' strings."""
    out = []
    for p in perms:
        proto = p.get("IpProtocol", "-1")
        ports = f"{p.get('FromPort', -1)}-{p.get('ToPort', -1)}" if proto != "-1" else "all"
        out += [f"{proto}:{ports}:{r['CidrIp']}" for r in p.get("IpRanges", [])]
        out += [f"{proto}:{ports}:{r['CidrIpv6']}" for r in p.get("Ipv6Ranges", [])]
        out += [f"{proto}:{ports}:{r['GroupId']}" for r in p.get("UserIdGroupPairs", [])]
    return sorted(out)


def read_network(ec2: Any, name: str, cidr: str) -> dict[str, Any]:
    """The VPC named `name` (and of `cidr`, when given) and what is in it, keyed by Name tag:
    subnets, internet gateway, route tables (routes as 'dest>target'), security groups (rules
    as 'proto:from-to:source'), NAT gateways. {"vpc": None, "vpc_count": n} unless exactly one
    VPC matches."""
    filters = [{"Name": "tag:Name", "Values": [name]}]
    if cidr:
        filters.append({"Name": "cidr-block", "Values": [cidr]})
    vpcs = ec2.describe_vpcs(Filters=filters)["Vpcs"]
    if len(vpcs) != 1:
        return {"vpc": None, "vpc_count": len(vpcs)}
    vpc = vpcs[0]
    vpc_id = vpc["VpcId"]
    attr = {
        a: ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute=a)[a[0].upper() + a[1:]]["Value"]
        for a in ("enableDnsSupport", "enableDnsHostnames")
    }
    flt = [{"Name": "vpc-id", "Values": [vpc_id]}]
    subnets = {}
    for s in ec2.describe_subnets(Filters=flt)["Subnets"]:
        tags = tags_dict(s.get("Tags"))
        subnets[tags.get("Name", s["SubnetId"])] = {
            "id": s["SubnetId"],
            "cidr": s["CidrBlock"],
            "az": s["AvailabilityZone"],
            "map_public": s.get("MapPublicIpOnLaunch", False),
            "tags": tags,
        }
    igws = ec2.describe_internet_gateways(
        Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}]
    )["InternetGateways"]
    route_tables = {}
    for rt in ec2.describe_route_tables(Filters=flt)["RouteTables"]:
        tags = tags_dict(rt.get("Tags"))
        if "Name" not in tags:
            continue
        routes = sorted(
            f"{r.get('DestinationCidrBlock', '')}>{r.get('GatewayId') or r.get('NatGatewayId', '')}"
            for r in rt.get("Routes", [])
            if r.get("GatewayId") != "local" and r.get("DestinationCidrBlock")
        )
        route_tables[tags["Name"]] = {
            "id": rt["RouteTableId"],
            "routes": routes,
            "subnets": sorted(
                a["SubnetId"] for a in rt.get("Associations", []) if a.get("SubnetId")
            ),
            "tags": tags,
        }
    groups = {}
    for g in ec2.describe_security_groups(Filters=flt)["SecurityGroups"]:
        groups[g["GroupName"]] = {
            "id": g["GroupId"],
            "description": g.get("Description", ""),
            "ingress": perm_strings(g.get("IpPermissions", [])),
            "egress": perm_strings(g.get("IpPermissionsEgress", [])),
            "tags": tags_dict(g.get("Tags")),
        }
    nat = ec2.describe_nat_gateways(
        Filters=[*flt, {"Name": "state", "Values": ["available", "pending"]}]
    )["NatGateways"]
    return {
        "vpc": {
            "id": vpc_id,
            "cidr": vpc["CidrBlock"],
            "dns_support": attr["enableDnsSupport"],
            "dns_hostnames": attr["enableDnsHostnames"],
            "tags": tags_dict(vpc.get("Tags")),
        },
        "subnets": subnets,
        "igw": {"id": igws[0]["InternetGatewayId"], "tags": tags_dict(igws[0].get("Tags"))}
        if igws
        else None,
        "route_tables": route_tables,
        "security_groups": groups,
        "nat_gateways": [n["NatGatewayId"] for n in nat],
    }
