"""aws_host, EC2 path, against a real moto server on loopback.

One fresh moto account: build the host (with its own VPC and subnet), run again (changed=0),
run in check mode (changed=0), read everything back with boto3, then remove it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.support.moto_server import MotoServer
from tests.support.playbook import ROOT, PlaybookRun, run_playbook

pytestmark = pytest.mark.slow

PLAYBOOK = ROOT / "tests" / "deploy" / "playbooks" / "aws_host_ec2.yml"
NAME = "crayon-test-host"
CLOUDFRONT_PL = "com.amazonaws.global.cloudfront.origin-facing"


def _explain(run: PlaybookRun) -> str:
    return f"changed tasks: {run.changed_tasks()}\n--- output tail ---\n{run.output[-6000:]}"


@pytest.fixture(scope="module")
def built(moto: MotoServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Build the stack once for the module; yields the runs and what the role published."""
    moto.reset()
    env = moto.env()
    out = tmp_path_factory.mktemp("aws_host_ec2") / "published.json"
    first = run_playbook(PLAYBOOK, env, {"aws_host_test_out": str(out)})
    assert first.returncode == 0, _explain(first)
    published = json.loads(out.read_text())
    second = run_playbook(PLAYBOOK, env, {"aws_host_test_out": str(out)})
    check = run_playbook(PLAYBOOK, env, {"aws_host_test_out": str(out)}, check=True)
    yield {
        "env": env,
        "first": first,
        "second": second,
        "check": check,
        "published": published,
        "published_path": out,
    }


def _ec2(env: dict[str, str]) -> Any:
    return boto3.client(
        "ec2",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_REGION"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _iam(env: dict[str, str]) -> Any:
    return boto3.client(
        "iam",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_REGION"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _instance(env: dict[str, str]) -> dict[str, Any]:
    reservations = _ec2(env).describe_instances(
        Filters=[
            {"Name": "tag:Name", "Values": [NAME]},
            {"Name": "instance-state-name", "Values": ["pending", "running"]},
        ]
    )["Reservations"]
    instances = [i for r in reservations for i in r["Instances"]]
    assert len(instances) == 1, instances
    inst: dict[str, Any] = instances[0]
    return inst


def test_first_run_builds_and_changes(built: dict[str, Any]) -> None:
    first: PlaybookRun = built["first"]
    assert first.failed == 0
    assert first.changed > 0


def test_second_run_changes_nothing(built: dict[str, Any]) -> None:
    second: PlaybookRun = built["second"]
    assert second.returncode == 0, _explain(second)
    assert second.changed == 0, _explain(second)


def test_check_mode_on_built_stack_changes_nothing(built: dict[str, Any]) -> None:
    check: PlaybookRun = built["check"]
    assert check.returncode == 0, _explain(check)
    assert check.changed == 0, _explain(check)


def test_instance_type_tags_and_image(built: dict[str, Any]) -> None:
    env = built["env"]
    inst = _instance(env)
    assert inst["InstanceType"] == "t3.micro"
    tags = {t["Key"]: t["Value"] for t in inst.get("Tags", [])}
    assert tags["Name"] == NAME
    assert tags["Component"] == "host"
    assert tags["ManagedBy"] == "ansible"
    assert tags["Owner"] == "tests"
    image = _ec2(env).describe_images(ImageIds=[inst["ImageId"]])["Images"][0]
    assert image["Name"].startswith("al2023-ami-2023."), image["Name"]
    assert image["OwnerId"] == "137112412989"
    assert image["Architecture"] == "x86_64"
    # Only one instance even after three runs.
    assert built["published"]["aws_host_instance_id"] == inst["InstanceId"]


def test_imdsv2_required_with_hop_limit_one(built: dict[str, Any]) -> None:
    options = _instance(built["env"])["MetadataOptions"]
    assert options["HttpTokens"] == "required"
    assert options["HttpEndpoint"] == "enabled"
    assert int(options["HttpPutResponseHopLimit"]) == 1


def test_root_volume_is_encrypted_gp3(built: dict[str, Any]) -> None:
    env = built["env"]
    inst = _instance(env)
    root = [m for m in inst["BlockDeviceMappings"] if m["DeviceName"] == inst["RootDeviceName"]]
    assert root, inst["BlockDeviceMappings"]
    volume = _ec2(env).describe_volumes(VolumeIds=[root[0]["Ebs"]["VolumeId"]])["Volumes"][0]
    assert volume["Encrypted"] is True
    assert volume["VolumeType"] == "gp3"
    assert volume["Size"] == 8


def test_instance_profile_allows_only_the_apps_prefixes_and_secrets(built: dict[str, Any]) -> None:
    env = built["env"]
    inst = _instance(env)
    assert inst["IamInstanceProfile"]["Arn"].endswith(f":instance-profile/{NAME}")
    iam = _iam(env)
    profile = iam.get_instance_profile(InstanceProfileName=NAME)["InstanceProfile"]
    assert [r["RoleName"] for r in profile["Roles"]] == [NAME]
    role = iam.get_role(RoleName=NAME)["Role"]
    trust = role["AssumeRolePolicyDocument"]
    if isinstance(trust, str):
        trust = json.loads(trust)
    assert trust["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}
    assert iam.list_attached_role_policies(RoleName=NAME)["AttachedPolicies"] == []
    names = iam.list_role_policies(RoleName=NAME)["PolicyNames"]
    assert names == [f"{NAME}-app"]
    doc = iam.get_role_policy(RoleName=NAME, PolicyName=names[0])["PolicyDocument"]
    if isinstance(doc, str):
        doc = json.loads(doc)
    statements = doc["Statement"]
    resources: list[str] = []
    for st in statements:
        assert st["Effect"] == "Allow"
        actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        res = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
        assert "*" not in actions and not any(a.endswith(":*") for a in actions), st
        assert "*" not in res, st
        resources += res
    assert "arn:aws:s3:::crayon-test-data/production/*" in resources
    assert "arn:aws:s3:::crayon-test-replica/db/*" in resources
    assert (
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:crayon/test/admin-??????" in resources
    )
    # Listing is limited to the prefixes.
    lists = {st["Resource"]: st for st in statements if st["Action"] == ["s3:ListBucket"]}
    assert lists["arn:aws:s3:::crayon-test-data"]["Condition"]["StringLike"]["s3:prefix"] == [
        "production/",
        "production/*",
    ]
    object_actions = {a for st in statements if "Objects" in st["Sid"] for a in st["Action"]}
    assert object_actions == {"s3:GetObject", "s3:PutObject", "s3:DeleteObject"}


def test_security_group_admits_app_port_from_cloudfront_only(built: dict[str, Any]) -> None:
    env = built["env"]
    ec2 = _ec2(env)
    inst = _instance(env)
    groups = inst["SecurityGroups"]
    assert len(groups) == 1
    sg = ec2.describe_security_groups(GroupIds=[groups[0]["GroupId"]])["SecurityGroups"][0]
    pl = ec2.describe_managed_prefix_lists(
        Filters=[{"Name": "prefix-list-name", "Values": [CLOUDFRONT_PL]}]
    )["PrefixLists"][0]["PrefixListId"]
    assert len(sg["IpPermissions"]) == 1, sg["IpPermissions"]
    rule = sg["IpPermissions"][0]
    assert (rule["IpProtocol"], rule["FromPort"], rule["ToPort"]) == ("tcp", 8000, 8000)
    assert [p["PrefixListId"] for p in rule["PrefixListIds"]] == [pl]
    assert rule["IpRanges"] == [] and rule["Ipv6Ranges"] == [] and rule["UserIdGroupPairs"] == []
    # No SSH by default.
    assert all(not (p.get("FromPort", 0) <= 22 <= p.get("ToPort", -1)) for p in sg["IpPermissions"])


def test_published_facts_for_app_host_and_cdn(built: dict[str, Any]) -> None:
    env = built["env"]
    inst = _instance(env)
    published = built["published"]
    address = _ec2(env).describe_addresses(
        Filters=[{"Name": "instance-id", "Values": [inst["InstanceId"]]}]
    )["Addresses"]
    assert len(address) == 1, "the host should have its Elastic IP"
    assert published["aws_host_public_ip"] == address[0]["PublicIp"] == inst["PublicIpAddress"]
    assert published["cdn_origin_domain"] == inst["PublicDnsName"] != ""
    assert int(published["cdn_origin_port"]) == 8000
    assert published["group"] == [inst["PublicDnsName"]]
    hostvars = published["hostvars"][inst["PublicDnsName"]]
    assert hostvars["ansible_host"] == inst["PublicIpAddress"]
    assert hostvars["ansible_user"] == "ec2-user"


def test_ssh_from_a_cidr_then_removed(built: dict[str, Any]) -> None:
    """Opening SSH to one CIDR adds exactly that rule; going back removes it."""
    env = built["env"]
    opened = run_playbook(PLAYBOOK, env, {"aws_host_ssh_cidr": "198.51.100.7/32"})
    assert opened.returncode == 0, _explain(opened)
    ec2 = _ec2(env)
    group_id = _instance(env)["SecurityGroups"][0]["GroupId"]
    rules = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]["IpPermissions"]
    ssh = [r for r in rules if r.get("FromPort") == 22]
    assert len(ssh) == 1
    assert [r["CidrIp"] for r in ssh[0]["IpRanges"]] == ["198.51.100.7/32"]
    # Back to no SSH, this time with the image pinned by id: same instance, SSH rule gone.
    inst = _instance(env)
    closed = run_playbook(PLAYBOOK, env, {"aws_host_ec2_ami_id": inst["ImageId"]})
    assert closed.returncode == 0, _explain(closed)
    rules = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]["IpPermissions"]
    assert [r.get("FromPort") for r in rules] == [8000]
    assert _instance(env)["InstanceId"] == inst["InstanceId"]


def test_each_setting_changed_is_read_back(built: dict[str, Any]) -> None:
    """The host's settings changed in one re-run (each sets its own field), each read back on
    its own: instance type, app port (its security group), tags, the
    world-open SSH switch. tests/deploy/test_role_variables.py lists
    these variables as covered here."""
    env = built["env"]
    out = Path(str(built["published_path"]))
    run = run_playbook(
        PLAYBOOK,
        env,
        {
            "aws_host_test_out": str(out),
            "aws_host_ec2_instance_type": "t3.small",
            "aws_host_app_port": 8100,
            "aws_host_tags": {"Owner": "tests", "CostCenter": "cc-2"},
            "aws_host_ssh_allow_world": True,
            "aws_host_ssh_cidr": "0.0.0.0/0",
        },
    )
    assert run.returncode == 0 and run.changed > 0, _explain(run)
    inst = _instance(env)
    assert inst["InstanceType"] == "t3.small", "aws_host_ec2_instance_type"
    tags = {t["Key"]: t["Value"] for t in inst["Tags"]}
    assert (tags.get("Owner"), tags.get("CostCenter")) == ("tests", "cc-2"), "aws_host_tags"
    ec2 = _ec2(env)
    group_id = inst["SecurityGroups"][0]["GroupId"]
    rules = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]["IpPermissions"]
    assert 8100 in [r.get("FromPort") for r in rules], "aws_host_app_port"
    ssh = [r for r in rules if r.get("FromPort") == 22]
    assert [ip["CidrIp"] for r in ssh for ip in r["IpRanges"]] == ["0.0.0.0/0"], (
        "aws_host_ssh_allow_world"
    )


def test_remove_leaves_no_host(built: dict[str, Any]) -> None:
    env = built["env"]
    removed = run_playbook(PLAYBOOK, env, {"aws_host_state": "absent"})
    assert removed.returncode == 0, _explain(removed)
    assert removed.changed > 0
    ec2 = _ec2(env)
    live = [
        i
        for r in ec2.describe_instances(Filters=[{"Name": "tag:Name", "Values": [NAME]}])[
            "Reservations"
        ]
        for i in r["Instances"]
        if i["State"]["Name"] not in ("terminated", "shutting-down")
    ]
    assert live == []
    assert ec2.describe_addresses()["Addresses"] == []
    sgs = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [NAME]}])
    assert sgs["SecurityGroups"] == []
    assert NAME not in [r["RoleName"] for r in _iam(env).list_roles()["Roles"]]
    again = run_playbook(PLAYBOOK, env, {"aws_host_state": "absent"})
    assert again.returncode == 0, _explain(again)
    assert again.changed == 0, _explain(again)


def test_harness_refuses_a_non_loopback_endpoint(tmp_path: Path) -> None:
    from tests.support.moto_server import NotLoopback

    with pytest.raises(NotLoopback):
        run_playbook(
            PLAYBOOK,
            {"AWS_URL": "https://ec2.us-east-1.amazonaws.com", "AWS_ENDPOINT_URL": ""},
        )
