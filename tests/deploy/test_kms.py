"""aws_kms against a real moto server: one customer-managed key per stack under its alias,
rotation on, a key policy that lets the account administer it, the stack's services use it
through their own endpoints and CloudWatch Logs only for this account's log groups; a second
run and check mode change nothing; destroy keeps the key unless told to delete it."""

from __future__ import annotations

import json
import re
from typing import Any

import boto3
import pytest

from tests.support.moto_server import MotoServer
from tests.support.playbook import ROOT, run_playbook

pytestmark = pytest.mark.slow  # real ansible-playbook runs

PLAYBOOK = ROOT / "tests" / "deploy" / "playbooks" / "kms.yml"
ACCOUNT = "123456789012"
VARS: dict[str, Any] = {
    "aws_kms_prefix": "shop-dev",
    "aws_kms_account_id": ACCOUNT,
    "aws_kms_region": "us-east-1",
    "aws_kms_tags": {"Project": "shop", "Environment": "dev", "Service": "shared"},
}


def _kms(env: dict[str, str]) -> Any:
    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    ).client("kms", endpoint_url=env["AWS_ENDPOINT_URL"])


@pytest.fixture(scope="module")
def stack(moto: MotoServer) -> dict[str, Any]:
    moto.reset()
    env = moto.env()
    first = run_playbook(PLAYBOOK, env, VARS)
    assert first.returncode == 0, first.output[-5000:]
    assert first.changed > 0
    found = re.search(r"KMS_KEY_ARN=(arn:aws:kms:[\w:/-]+)", first.output)
    assert found, first.output[-3000:]
    return {"env": env, "arn": found.group(1)}


def test_one_key_under_the_stack_alias_with_rotation(stack: dict[str, Any]) -> None:
    kms = _kms(stack["env"])
    aliases = [a for a in kms.list_aliases()["Aliases"] if a["AliasName"] == "alias/shop-dev"]
    assert len(aliases) == 1
    meta = kms.describe_key(KeyId="alias/shop-dev")["KeyMetadata"]
    assert meta["Arn"] == stack["arn"]
    assert meta["KeyManager"] == "CUSTOMER"
    assert meta["KeyState"] == "Enabled"
    assert kms.get_key_rotation_status(KeyId=meta["KeyId"])["KeyRotationEnabled"] is True
    tags = {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=meta["KeyId"])["Tags"]}
    assert tags == VARS["aws_kms_tags"]


def test_key_policy_lets_the_stack_services_and_logs_use_it(stack: dict[str, Any]) -> None:
    kms = _kms(stack["env"])
    policy = json.loads(kms.get_key_policy(KeyId=stack["arn"], PolicyName="default")["Policy"])
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert set(by_sid) == {
        "EnableAccountAdministration",
        "UseThroughStackServices",
        "GrantsForStackServices",
        "CloudWatchLogs",
    }
    assert by_sid["EnableAccountAdministration"]["Principal"] == {
        "AWS": f"arn:aws:iam::{ACCOUNT}:root"
    }
    via = by_sid["UseThroughStackServices"]["Condition"]["StringEquals"]
    assert via["kms:CallerAccount"] == ACCOUNT
    assert sorted(via["kms:ViaService"]) == sorted(
        f"{s}.us-east-1.amazonaws.com" for s in ("s3", "secretsmanager", "ecr", "rds")
    )
    assert "kms:Decrypt" in by_sid["UseThroughStackServices"]["Action"]
    grants = by_sid["GrantsForStackServices"]
    assert grants["Condition"]["Bool"] == {"kms:GrantIsForAWSResource": "true"}
    logs = by_sid["CloudWatchLogs"]
    assert logs["Principal"] == {"Service": "logs.us-east-1.amazonaws.com"}
    context = logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]
    assert context == f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:*"


def test_the_key_encrypts_a_log_group_and_a_secret(stack: dict[str, Any]) -> None:
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    url = stack["env"]["AWS_ENDPOINT_URL"]
    logs = session.client("logs", endpoint_url=url)
    logs.create_log_group(logGroupName="/ecs/shop-dev-api", kmsKeyId=stack["arn"])
    (group,) = logs.describe_log_groups(logGroupNamePrefix="/ecs/shop-dev-api")["logGroups"]
    assert group["kmsKeyId"] == stack["arn"]
    sm = session.client("secretsmanager", endpoint_url=url)
    sm.create_secret(Name="shop/dev/gemini", SecretString="k", KmsKeyId=stack["arn"])
    assert sm.describe_secret(SecretId="shop/dev/gemini")["KmsKeyId"] == stack["arn"]


def test_second_run_and_check_mode_change_nothing(stack: dict[str, Any]) -> None:
    again = run_playbook(PLAYBOOK, stack["env"], VARS)
    assert again.returncode == 0, again.output[-4000:]
    assert again.changed == 0, again.changed_tasks()
    check = run_playbook(PLAYBOOK, stack["env"], VARS, check=True)
    assert check.returncode == 0, check.output[-4000:]
    assert check.changed == 0, check.changed_tasks()


def test_a_bad_prefix_stops_before_any_call(stack: dict[str, Any]) -> None:
    bad = run_playbook(PLAYBOOK, stack["env"], {**VARS, "aws_kms_prefix": ""})
    assert bad.returncode != 0
    assert "aws_kms_prefix" in bad.output and "model.names.prefix" in bad.output


def test_each_setting_changed_is_read_back(stack: dict[str, Any]) -> None:
    """aws_kms_description, _rotation, _via_services, _logs_group_pattern and _tags changed in
    one re-run (each sets its own field of the key), each read back on its own; then aws_kms_logs
    off. tests/deploy/test_role_variables.py lists these variables as covered here."""
    changed = {
        **VARS,
        "aws_kms_description": "the shop's key, described anew",
        "aws_kms_rotation": False,
        "aws_kms_via_services": ["s3", "ecr"],
        "aws_kms_logs_group_pattern": "/ecs/*",
        "aws_kms_tags": {**VARS["aws_kms_tags"], "CostCenter": "cc-2"},
    }
    run = run_playbook(PLAYBOOK, stack["env"], changed)
    assert run.returncode == 0 and run.changed > 0, run.output[-4000:]
    kms = _kms(stack["env"])
    meta = kms.describe_key(KeyId=stack["arn"])["KeyMetadata"]
    assert meta["Description"] == "the shop's key, described anew", "aws_kms_description"
    assert kms.get_key_rotation_status(KeyId=meta["KeyId"])["KeyRotationEnabled"] is False, (
        "aws_kms_rotation"
    )
    tags = {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=meta["KeyId"])["Tags"]}
    assert tags == changed["aws_kms_tags"], "aws_kms_tags"
    policy = json.loads(kms.get_key_policy(KeyId=stack["arn"], PolicyName="default")["Policy"])
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    via = by_sid["UseThroughStackServices"]["Condition"]["StringEquals"]["kms:ViaService"]
    assert sorted(via) == ["ecr.us-east-1.amazonaws.com", "s3.us-east-1.amazonaws.com"], (
        "aws_kms_via_services"
    )
    context = by_sid["CloudWatchLogs"]["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]
    assert context == f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/ecs/*", (
        "aws_kms_logs_group_pattern"
    )
    off = run_playbook(PLAYBOOK, stack["env"], {**changed, "aws_kms_logs": False})
    assert off.returncode == 0 and off.changed > 0, off.output[-4000:]
    policy = json.loads(kms.get_key_policy(KeyId=stack["arn"], PolicyName="default")["Policy"])
    assert "CloudWatchLogs" not in {s["Sid"] for s in policy["Statement"]}, "aws_kms_logs"
    # Back to the declared settings for the tests after this one.
    back = run_playbook(PLAYBOOK, stack["env"], VARS)
    assert back.returncode == 0 and back.changed > 0, back.output[-4000:]


def test_destroy_keeps_the_key_unless_told(stack: dict[str, Any]) -> None:
    kept = run_playbook(PLAYBOOK, stack["env"], {**VARS, "kms_state": "absent"})
    assert kept.returncode == 0, kept.output[-4000:]
    assert kept.changed == 0
    kms = _kms(stack["env"])
    assert kms.describe_key(KeyId=stack["arn"])["KeyMetadata"]["KeyState"] == "Enabled"
    gone = run_playbook(
        PLAYBOOK,
        stack["env"],
        {
            **VARS,
            "kms_state": "absent",
            "aws_kms_destroy_key": True,
            "aws_kms_pending_window_days": 7,
        },
    )
    assert gone.returncode == 0, gone.output[-4000:]
    assert gone.changed == 1
    assert kms.describe_key(KeyId=stack["arn"])["KeyMetadata"]["KeyState"] == "PendingDeletion"
    again = run_playbook(
        PLAYBOOK,
        stack["env"],
        {
            **VARS,
            "kms_state": "absent",
            "aws_kms_destroy_key": True,
            "aws_kms_pending_window_days": 7,
        },
    )
    assert again.returncode == 0 and again.changed == 0, again.changed_tasks()
