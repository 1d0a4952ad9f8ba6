"""aws_network's read-compare (crayon.aws.network_diff) against a real moto server: the network
is built, a re-run writes nothing, and a setting changed by hand in each kind of resource (VPC
tag, subnet tag and public-IP flag, internet gateway tag, a route, a security group rule in and
out, a security group tag) is reported out of sync and put back by the next run, which only
runs the write tasks of those resources."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from tests.support import collection
from tests.support.moto_server import MotoServer
from tests.support.playbook import ROOT, run_playbook

pytestmark = pytest.mark.slow  # real ansible-playbook runs

PLAYBOOK = ROOT / "tests" / "deploy" / "playbooks" / "network_only.yml"
NAME = "crayon-nettest"
VARS: dict[str, Any] = {"crayon_name": "crayon", "crayon_env": "nettest"}
DIFF = collection.module("network_diff")


def _ec2(env: dict[str, str]) -> Any:
    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    ).client("ec2", endpoint_url=env["AWS_ENDPOINT_URL"])


def _one(items: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(items) == 1, items
    return items[0]


def _by_name(ec2: Any, kind: str, name: str) -> dict[str, Any]:
    flt = [{"Name": "tag:Name", "Values": [name]}]
    if kind == "subnet":
        return _one(ec2.describe_subnets(Filters=flt)["Subnets"])
    if kind == "route_table":
        return _one(ec2.describe_route_tables(Filters=flt)["RouteTables"])
    if kind == "vpc":
        return _one(ec2.describe_vpcs(Filters=flt)["Vpcs"])
    if kind == "igw":
        return _one(ec2.describe_internet_gateways(Filters=flt)["InternetGateways"])
    groups = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [name]}])
    return _one(groups["SecurityGroups"])


@pytest.fixture(scope="module")
def built(moto: MotoServer) -> dict[str, str]:
    moto.reset()
    env = moto.env()
    first = run_playbook(PLAYBOOK, env, VARS)
    assert first.returncode == 0, first.output[-5000:]
    assert first.changed > 0
    return env


def test_a_rerun_writes_nothing(built: dict[str, str]) -> None:
    again = run_playbook(PLAYBOOK, built, VARS)
    assert again.returncode == 0, again.output[-4000:]
    assert again.changed == 0, again.changed_tasks()


def test_check_mode_on_the_built_network_changes_nothing(built: dict[str, str]) -> None:
    check = run_playbook(PLAYBOOK, built, VARS, check=True)
    assert check.returncode == 0, check.output[-4000:]
    assert check.changed == 0, check.changed_tasks()


def test_each_hand_change_is_found_and_put_back(built: dict[str, str]) -> None:
    ec2 = _ec2(built)
    vpc = _by_name(ec2, "vpc", NAME)
    subnet = _by_name(ec2, "subnet", f"{NAME}-private-2")
    igw = _by_name(ec2, "igw", NAME)
    public_rt = _by_name(ec2, "route_table", f"{NAME}-public")
    alb = _by_name(ec2, "sg", f"{NAME}-alb")
    app = _by_name(ec2, "sg", f"{NAME}-app")
    # One change in each kind of resource, made behind Ansible's back.
    ec2.create_tags(Resources=[vpc["VpcId"]], Tags=[{"Key": "Project", "Value": "other"}])
    ec2.delete_tags(Resources=[subnet["SubnetId"]], Tags=[{"Key": "Tier"}])
    ec2.modify_subnet_attribute(SubnetId=subnet["SubnetId"], MapPublicIpOnLaunch={"Value": True})
    ec2.create_tags(
        Resources=[igw["InternetGatewayId"]], Tags=[{"Key": "Environment", "Value": "x"}]
    )
    ec2.delete_route(RouteTableId=public_rt["RouteTableId"], DestinationCidrBlock="0.0.0.0/0")
    ec2.revoke_security_group_ingress(
        GroupId=alb["GroupId"],
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            }
        ],
    )
    ec2.authorize_security_group_egress(
        GroupId=app["GroupId"],
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "IpRanges": [{"CidrIp": "10.9.0.0/16"}],
            }
        ],
    )
    ec2.create_tags(Resources=[app["GroupId"]], Tags=[{"Key": "ManagedBy", "Value": "hand"}])

    repair = run_playbook(PLAYBOOK, built, VARS)
    assert repair.returncode == 0, repair.output[-5000:]
    changed = set(repair.changed_tasks())
    for task in ("VPC", "Subnets", "Internet gateway", "Route tables", "ALB security group"):
        assert any(task in t for t in changed), (task, changed)
    assert any("App security group" in t for t in changed), changed
    # What the run wrote is what was wanted: read back from the emulator.
    assert {t["Key"]: t["Value"] for t in _by_name(ec2, "vpc", NAME)["Tags"]}["Project"] == "crayon"
    fixed = _by_name(ec2, "subnet", f"{NAME}-private-2")
    assert {t["Key"]: t["Value"] for t in fixed["Tags"]}["Tier"] == "private"
    assert fixed["MapPublicIpOnLaunch"] is False
    routes = _by_name(ec2, "route_table", f"{NAME}-public")["Routes"]
    assert any(r.get("DestinationCidrBlock") == "0.0.0.0/0" for r in routes)
    alb_in = _by_name(ec2, "sg", f"{NAME}-alb")["IpPermissions"]
    assert {p["FromPort"] for p in alb_in} == {80, 443}
    app_out = _by_name(ec2, "sg", f"{NAME}-app")["IpPermissionsEgress"]
    assert [(p["FromPort"], p["IpRanges"][0]["CidrIp"]) for p in app_out] == [(443, "0.0.0.0/0")]

    quiet = run_playbook(PLAYBOOK, built, VARS)
    assert quiet.returncode == 0, quiet.output[-4000:]
    assert quiet.changed == 0, quiet.changed_tasks()


def test_rules_from_a_missing_group_are_never_in_sync() -> None:
    # The app group's inbound rule names the ALB group: without it, the rule can not match.
    rules = [{"proto": "tcp", "ports": [8000], "group_name": "crayon-x-alb"}]
    assert DIFF.rule_strings(rules, {}) is None
    assert DIFF.rule_strings(rules, {"crayon-x-alb": "sg-1"}) == ["tcp:8000-8000:sg-1"]
    assert DIFF.rule_strings(
        [{"proto": "tcp", "ports": ["80-81", 443], "cidr_ip": "0.0.0.0/0"}], {}
    ) == [
        "tcp:443-443:0.0.0.0/0",
        "tcp:80-81:0.0.0.0/0",
    ]
