"""aws_host's tasks/destroy.yml (what playbooks/destroy.yml runs for ec2 | lightsail).

EC2 against a real moto server on loopback: build the host with the role
(tests/deploy/playbooks/aws_host_ec2.yml), remove it with tasks/destroy.yml
(tests/deploy/playbooks/aws_host_destroy.yml), read back with boto3, run the removal again
(changed=0). Lightsail against the loopback Lightsail STAND-IN (tests/support/
lightsail_standin.py, not Lightsail: moto has none), same steps. Plus the place of the host in
playbooks/destroy.yml: only for ec2 | lightsail, after CloudFront, before IAM and the network.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.deploy.test_aws_host_ec2 import NAME, _ec2, _explain, _iam
from tests.deploy.test_aws_host_ec2 import PLAYBOOK as EC2_PLAYBOOK
from tests.deploy.test_aws_host_lightsail_standin import PLAYBOOK as LIGHTSAIL_PLAYBOOK
from tests.deploy.test_aws_host_lightsail_standin import _env as standin_env
from tests.support.lightsail_standin import LightsailStandin
from tests.support.moto_server import MotoServer
from tests.support.playbook import ROOT, run_playbook

pytestmark = pytest.mark.slow

DESTROY = ROOT / "tests" / "deploy" / "playbooks" / "aws_host_destroy.yml"


def _live_instances(env: dict[str, str]) -> list[dict[str, Any]]:
    reservations = _ec2(env).describe_instances(Filters=[{"Name": "tag:Name", "Values": [NAME]}])
    return [
        i
        for r in reservations["Reservations"]
        for i in r["Instances"]
        if i["State"]["Name"] not in ("terminated", "shutting-down")
    ]


def test_ec2_destroy_terminates_the_host_and_is_idempotent(moto: MotoServer) -> None:
    moto.reset()
    env = moto.env()
    built = run_playbook(EC2_PLAYBOOK, env)
    assert built.returncode == 0, _explain(built)
    ec2 = _ec2(env)
    [instance] = _live_instances(env)
    assert ec2.describe_addresses()["Addresses"] != []

    removed = run_playbook(DESTROY, env, {"aws_host_target": "ec2"})
    assert removed.returncode == 0, _explain(removed)
    assert removed.changed > 0
    assert _live_instances(env) == []
    state = ec2.describe_instances(InstanceIds=[instance["InstanceId"]])["Reservations"][0]
    assert state["Instances"][0]["State"]["Name"] == "terminated"
    assert ec2.describe_addresses()["Addresses"] == []
    sgs = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [NAME]}])
    assert sgs["SecurityGroups"] == []
    # Run alone, the role made its own instance profile: it goes too.
    assert NAME not in [
        p["InstanceProfileName"] for p in _iam(env).list_instance_profiles()["InstanceProfiles"]
    ]

    again = run_playbook(DESTROY, env, {"aws_host_target": "ec2"})
    assert again.returncode == 0, _explain(again)
    assert again.changed == 0, _explain(again)


def test_ec2_destroy_leaves_aws_iams_instance_profile_to_aws_iam(moto: MotoServer) -> None:
    """aws_host_instance_profile_name set (as playbooks/destroy.yml sets it): the profile stays."""
    moto.reset()
    env = moto.env()
    iam = _iam(env)
    iam.create_role(RoleName=NAME, AssumeRolePolicyDocument="{}")
    iam.create_instance_profile(InstanceProfileName=NAME)
    iam.add_role_to_instance_profile(InstanceProfileName=NAME, RoleName=NAME)
    extra = {"aws_host_instance_profile_name": NAME}
    built = run_playbook(EC2_PLAYBOOK, env, extra)
    assert built.returncode == 0, _explain(built)
    removed = run_playbook(DESTROY, env, {"aws_host_target": "ec2", **extra})
    assert removed.returncode == 0, _explain(removed)
    assert _live_instances(env) == []
    profiles = iam.list_instance_profiles()["InstanceProfiles"]
    assert NAME in [p["InstanceProfileName"] for p in profiles]


def test_standin_lightsail_destroy_removes_instance_ip_and_key() -> None:
    with LightsailStandin() as standin:
        extra = {"aws_host_lightsail_endpoint_url": standin.url}
        built = run_playbook(LIGHTSAIL_PLAYBOOK, standin_env(), extra)
        assert built.returncode == 0, _explain(built)
        state = standin.state
        assert list(state.instances) == [NAME] and state.static_ips and state.key_pairs
        destroy = {**extra, "aws_host_target": "lightsail", "aws_host_lightsail_wait_interval": 0.2}
        removed = run_playbook(DESTROY, standin_env(), destroy)
        assert removed.returncode == 0, _explain(removed)
        assert removed.changed == 1, _explain(removed)
        assert state.instances == {} and state.static_ips == {} and state.key_pairs == {}
        assert {"DeleteInstance", "ReleaseStaticIp", "DeleteKeyPair"} <= set(state.calls)
        before = len(state.calls)
        again = run_playbook(DESTROY, standin_env(), destroy)
        assert again.returncode == 0, _explain(again)
        assert again.changed == 0, _explain(again)
        assert [c for c in state.calls[before:] if not c.startswith("Get")] == []


def test_destroy_playbook_removes_the_host_only_for_ec2_or_lightsail_in_order() -> None:
    plays = yaml.safe_load((ROOT / "playbooks" / "destroy.yml").read_text())
    tasks = plays[1]["tasks"]
    names = [t.get("ansible.builtin.include_role", {}).get("name") for t in tasks]
    loop_roles = next(t["loop"] for t in tasks if "loop" in t)
    host = tasks[names.index("aws_host")]
    assert host["ansible.builtin.include_role"]["tasks_from"] == "destroy"
    # The stack model decides the target (crayon_stack): the host goes only where it was built.
    assert "crayon_model.target in ['ec2', 'lightsail']" in host["when"]
    assert "crayon_model.roles.aws_host" in host["when"]
    assert "aws_host" not in loop_roles and "aws_cdn" in loop_roles
    position = names.index("aws_host")
    assert position > next(i for i, t in enumerate(tasks) if "loop" in t)  # after CloudFront
    assert position < names.index("aws_iam") < names.index("aws_network")
    assert (ROOT / "roles" / "aws_host" / "tasks" / "destroy.yml").is_file()
