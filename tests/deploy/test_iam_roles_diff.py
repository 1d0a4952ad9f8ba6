"""aws_iam's read-compare (crayon.aws.iam_roles_diff) against a real moto server: the roles and
the GitHub OIDC provider are built, a re-run writes nothing, and a setting changed by hand
(a role's trust policy, description, tags, an attached managed policy, its inline policy, an
extra inline policy on a role that must have none, the provider's thumbprints) is reported out
of sync and put back by the next run, which then writes nothing again."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from tests.support import collection
from tests.support.moto_server import MotoServer
from tests.support.playbook import ROOT, run_playbook

pytestmark = pytest.mark.slow  # real ansible-playbook runs

PLAYBOOK = ROOT / "tests" / "deploy" / "playbooks" / "iam_only.yml"
INVENTORY = ROOT / "inventories" / "emulated"
VARS: dict[str, Any] = {"aws_account_id": "123456789012", "aws_region": "us-east-1"}
EXECUTION = "crayon-emulated-ecs-execution"
TASK = "crayon-emulated-app-task"
DEPLOY = "crayon-emulated-github-deploy"
OIDC = "token.actions.githubusercontent.com"
DIFF = collection.module("iam_roles_diff")


def _iam(env: dict[str, str]) -> Any:
    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    ).client("iam", endpoint_url=env["AWS_ENDPOINT_URL"])


def _run(env: dict[str, str]) -> Any:
    run = run_playbook(PLAYBOOK, env, VARS, inventory=INVENTORY)
    assert run.returncode == 0, run.output[-5000:]
    return run


@pytest.fixture(scope="module")
def built(moto: MotoServer) -> dict[str, str]:
    moto.reset()
    env = moto.env()
    assert _run(env).changed > 0
    return env


def test_a_rerun_writes_nothing(built: dict[str, str]) -> None:
    again = _run(built)
    assert again.changed == 0, again.changed_tasks()


def test_check_mode_on_the_built_roles_changes_nothing(built: dict[str, str]) -> None:
    check = run_playbook(PLAYBOOK, built, VARS, check=True, inventory=INVENTORY)
    assert check.returncode == 0, check.output[-4000:]
    assert check.changed == 0, check.changed_tasks()


def test_each_hand_change_is_found_and_put_back(built: dict[str, str]) -> None:
    iam = _iam(built)
    roles = [r["RoleName"] for r in iam.list_roles()["Roles"]]
    assert {EXECUTION, DEPLOY} <= set(roles), roles
    wanted_trust = iam.get_role(RoleName=EXECUTION)["Role"]["AssumeRolePolicyDocument"]
    provider = f"arn:aws:iam::123456789012:oidc-provider/{OIDC}"
    # Changes behind Ansible's back, one in each thing the module compares.
    iam.update_assume_role_policy(
        RoleName=EXECUTION,
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "ec2.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )
    iam.update_role(RoleName=DEPLOY, Description="edited by hand")
    iam.tag_role(RoleName=DEPLOY, Tags=[{"Key": "Project", "Value": "other"}])
    extra = iam.create_policy(
        PolicyName="attached-by-hand",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}],
            }
        ),
    )["Policy"]["Arn"]
    iam.attach_role_policy(RoleName=DEPLOY, PolicyArn=extra)
    iam.put_role_policy(
        RoleName=EXECUTION,
        PolicyName="least-privilege",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
            }
        ),
    )
    iam.update_open_id_connect_provider_thumbprint(
        OpenIDConnectProviderArn=provider, ThumbprintList=["f" * 40]
    )

    repair = _run(built)
    changed = repair.changed_tasks()
    for what in (f"Role {EXECUTION}", f"Role {DEPLOY}", f"Inline policy of {EXECUTION}"):
        assert any(what in t for t in changed), (what, changed)
    assert any("OIDC provider" in t for t in changed), changed
    # Read back: what the run wrote is what the role wants.
    assert iam.get_role(RoleName=EXECUTION)["Role"]["AssumeRolePolicyDocument"] == wanted_trust
    deploy = iam.get_role(RoleName=DEPLOY)["Role"]
    assert deploy["Description"] == f"{DEPLOY} (managed by Ansible)"
    assert {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=DEPLOY)["Tags"]}[
        "Project"
    ] == "crayon"
    assert iam.list_attached_role_policies(RoleName=DEPLOY)["AttachedPolicies"] == []
    doc = iam.get_role_policy(RoleName=EXECUTION, PolicyName="least-privilege")["PolicyDocument"]
    assert "s3:*" not in json.dumps(doc)
    thumbs = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=provider)["ThumbprintList"]
    assert "f" * 40 not in thumbs

    quiet = _run(built)
    assert quiet.changed == 0, quiet.changed_tasks()


def test_a_role_without_permissions_keeps_no_inline_policy() -> None:
    have = {
        "trust": {"Version": "2012-10-17"},
        "description": "r (managed by Ansible)",
        "tags": {"Project": "crayon"},
        "managed_policies": [],
        "instance_profiles": [],
        "inline_policies": {"added-by-hand": {"Version": "2012-10-17"}},
    }
    want = {
        "name": "r",
        "trust": {"Version": "2012-10-17"},
        "description": "r (managed by Ansible)",
        "policy": None,
        "profile": False,
    }
    got = DIFF.compare_role(want, have, {"Project": "crayon"}, "least-privilege")
    assert got["in_sync"] and not got["policy_in_sync"]
    assert got["stray_policies"] == ["added-by-hand"]
    assert DIFF.compare_role(want, None, {}, "least-privilege")["exists"] is False
