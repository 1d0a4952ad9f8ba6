"""Maintenance mode on ECS (playbooks/maintenance.yml's module, alb_maintenance_rule) against
moto: the page goes in front of the services' rules on every forwarding listener, a second run
changes nothing, check mode changes nothing, off removes only that rule."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from tests.support.moto_server import MotoServer
from tests.support.playbook import ROOT, PlaybookRun, run_playbook

pytestmark = pytest.mark.slow

PLAYBOOK = ROOT / "tests" / "deploy" / "playbooks" / "maintenance_rule.yml"
ALB = "maint-test-alb"


def _elb(env: dict[str, str]) -> Any:
    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    ).client("elbv2", endpoint_url=env["AWS_ENDPOINT_URL"])


@pytest.fixture(scope="module")
def alb(moto: MotoServer) -> dict[str, Any]:
    moto.reset()
    env = moto.env()
    ec2 = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    ).client("ec2", endpoint_url=env["AWS_ENDPOINT_URL"])
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{i}.0/24", AvailabilityZone=f"us-east-1{z}")[
            "Subnet"
        ]["SubnetId"]
        for i, z in ((1, "a"), (2, "b"))
    ]
    elb = _elb(env)
    lb = elb.create_load_balancer(Name=ALB, Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]
    tg = elb.create_target_group(Name="maint-app", Protocol="HTTP", Port=8000, VpcId=vpc)[
        "TargetGroups"
    ][0]["TargetGroupArn"]
    forward = elb.create_listener(
        LoadBalancerArn=lb,
        Protocol="HTTP",
        Port=8080,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}],
    )["Listeners"][0]["ListenerArn"]
    redirect = elb.create_listener(
        LoadBalancerArn=lb,
        Protocol="HTTP",
        Port=80,
        DefaultActions=[
            {"Type": "redirect", "RedirectConfig": {"Protocol": "HTTPS", "StatusCode": "HTTP_301"}}
        ],
    )["Listeners"][0]["ListenerArn"]
    elb.create_rule(
        ListenerArn=forward,
        Priority=100,
        Conditions=[{"Field": "path-pattern", "Values": ["/api/*"]}],
        Actions=[{"Type": "forward", "TargetGroupArn": tg}],
    )
    return {"env": env, "forward": forward, "redirect": redirect}


def _run(alb: dict[str, Any], state: str, check: bool = False) -> PlaybookRun:
    run = run_playbook(PLAYBOOK, alb["env"], {"test_alb": ALB, "test_state": state}, check=check)
    assert run.returncode == 0, run.output[-3000:]
    return run


def _rules(alb: dict[str, Any], listener: str) -> dict[str, list[str]]:
    rules = _elb(alb["env"]).describe_rules(ListenerArn=alb[listener])["Rules"]
    return {r["Priority"]: [a["Type"] for a in r["Actions"]] for r in rules}


def test_on_puts_the_page_first_on_forwarding_listeners_only(alb: dict[str, Any]) -> None:
    assert _run(alb, "present").changed == 1
    rules = _elb(alb["env"]).describe_rules(ListenerArn=alb["forward"])["Rules"]
    first = next(r for r in rules if r["Priority"] == "1")
    config = first["Actions"][0]["FixedResponseConfig"]
    assert (config["StatusCode"], config["ContentType"]) == ("503", "text/html")
    assert "maintenance" in config["MessageBody"].lower()
    assert _rules(alb, "forward")["100"] == ["forward"]  # the service's rule is kept
    assert "1" not in _rules(alb, "redirect")  # the HTTP->HTTPS redirect is left alone


def test_on_again_and_check_mode_change_nothing(alb: dict[str, Any]) -> None:
    assert _run(alb, "present").changed == 0
    check = _run(alb, "absent", check=True)
    assert check.changed == 1 and "1" in _rules(alb, "forward")


def test_off_removes_only_the_page(alb: dict[str, Any]) -> None:
    assert _run(alb, "absent").changed == 1
    rules = _rules(alb, "forward")
    assert "1" not in rules and rules["100"] == ["forward"]
    assert _run(alb, "absent").changed == 0
