"""aws_audit (and aws_ecs's ALB access logs) against a real moto server: CloudTrail with
log file validation in every region, the audit bucket's protection and policy, VPC Flow Logs
to CloudWatch Logs with their delivery role, the ALB writing access logs to the bucket; a
second run and check mode change nothing; destroy removes the trail and keeps the bucket."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from tests.support.ecs_stack import MOTO_SETTLE_TASKS
from tests.support.moto_server import MotoServer
from tests.support.playbook import ROOT, run_playbook

pytestmark = pytest.mark.slow  # real ansible-playbook runs

PLAYBOOK = ROOT / "tests" / "deploy" / "playbooks" / "audit.yml"
NAME = "crayon-audittest"
BUCKET = f"{NAME}-audit-123456789012"
VARS: dict[str, Any] = {
    "crayon_name": "crayon",
    "crayon_env": "audittest",
    "aws_account_id": "123456789012",
    "aws_audit_flow_logs": True,
    "aws_ecs_alb_access_logs": True,
    # moto has no such ALB attribute (inventories/emulated turns it off too).
    "aws_ecs_alb_drop_invalid_headers": False,
}
SECRETS = {
    "crayon/audittest/admin": {"password_hash": "x"},
    "crayon/audittest/session": {"session_key": "y"},
    "crayon/audittest/origin-verify": "z" * 20,
}


def _client(env: dict[str, str], service: str) -> Any:
    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    ).client(service, endpoint_url=env["AWS_ENDPOINT_URL"])


@pytest.fixture(scope="module")
def stack(moto: MotoServer) -> dict[str, str]:
    moto.reset()
    env = moto.env()
    sm = _client(env, "secretsmanager")
    for name, value in SECRETS.items():
        sm.create_secret(
            Name=name, SecretString=value if isinstance(value, str) else json.dumps(value)
        )
    first = run_playbook(PLAYBOOK, env, VARS)
    assert first.returncode == 0, first.output[-5000:]
    assert first.changed > 0
    # moto drops the service's grace period: its second run updates the ECS service once
    # (recipes/local-aws.md); the idempotence test starts from the run after that.
    settle = run_playbook(PLAYBOOK, env, VARS)
    assert settle.returncode == 0, settle.output[-4000:]
    assert set(settle.changed_tasks()) <= MOTO_SETTLE_TASKS, settle.changed_tasks()
    return env


def test_trail_is_multi_region_with_log_file_validation(stack: dict[str, str]) -> None:
    ct = _client(stack, "cloudtrail")
    (trail,) = ct.describe_trails(trailNameList=[f"{NAME}-trail"])["trailList"]
    assert trail["IsMultiRegionTrail"] is True
    assert trail["LogFileValidationEnabled"] is True
    assert trail["IncludeGlobalServiceEvents"] is True
    assert trail["S3BucketName"] == BUCKET
    assert ct.get_trail_status(Name=f"{NAME}-trail")["IsLogging"] is True


def test_bucket_is_private_encrypted_and_lets_only_the_log_services_write(
    stack: dict[str, str],
) -> None:
    s3 = _client(stack, "s3")
    pab = s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"]
    assert all(pab.values()) and len(pab) == 4
    rule = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    policy = json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"])
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert set(by_sid) == {
        "DenyPlainHTTP",
        "CloudTrailAclCheck",
        "CloudTrailWrite",
        "LoadBalancerAccessLogs",
    }
    write = by_sid["CloudTrailWrite"]
    assert write["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
    assert write["Resource"] == f"arn:aws:s3:::{BUCKET}/cloudtrail/AWSLogs/123456789012/*"
    assert write["Condition"]["StringEquals"]["s3:x-amz-acl"] == "bucket-owner-full-control"
    # us-east-1's Elastic Load Balancing account writes the ALB's logs.
    alb = by_sid["LoadBalancerAccessLogs"]
    assert alb["Principal"] == {"AWS": "arn:aws:iam::127311923021:root"}
    assert alb["Resource"] == f"arn:aws:s3:::{BUCKET}/alb/AWSLogs/123456789012/*"
    rules = s3.get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]
    assert [(r["ID"], r["Expiration"]["Days"]) for r in rules] == [("expire-audit-logs", 365)]


def test_flow_logs_go_to_cloudwatch_through_their_own_role(stack: dict[str, str]) -> None:
    ec2 = _client(stack, "ec2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [NAME]}])["Vpcs"][0]
    (flow,) = ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc["VpcId"]]}])[
        "FlowLogs"
    ]
    assert flow["FlowLogStatus"] == "ACTIVE"
    assert flow["TrafficType"] == "ALL"
    assert flow["LogGroupName"] == f"/vpc/{NAME}/flow-logs"
    assert flow["DeliverLogsPermissionArn"].endswith(f":role/{NAME}-flow-logs")
    iam = _client(stack, "iam")
    trust = iam.get_role(RoleName=f"{NAME}-flow-logs")["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    doc = iam.get_role_policy(RoleName=f"{NAME}-flow-logs", PolicyName="write-flow-logs")
    resources = doc["PolicyDocument"]["Statement"][0]["Resource"]
    assert all(f"log-group:/vpc/{NAME}/flow-logs" in r for r in resources)
    groups = _client(stack, "logs").describe_log_groups(logGroupNamePrefix=f"/vpc/{NAME}")
    assert [g.get("retentionInDays") for g in groups["logGroups"]] == [30]


def test_alb_writes_access_logs_to_the_audit_bucket(stack: dict[str, str]) -> None:
    elb = _client(stack, "elbv2")
    (lb,) = elb.describe_load_balancers(Names=[f"{NAME}-alb"])["LoadBalancers"]
    attrs = {
        a["Key"]: a["Value"]
        for a in elb.describe_load_balancer_attributes(LoadBalancerArn=lb["LoadBalancerArn"])[
            "Attributes"
        ]
    }
    assert attrs["access_logs.s3.enabled"] == "true"
    assert attrs["access_logs.s3.bucket"] == BUCKET
    assert attrs["access_logs.s3.prefix"] == "alb"


def test_second_run_and_check_mode_change_nothing(stack: dict[str, str]) -> None:
    again = run_playbook(PLAYBOOK, stack, VARS)
    assert again.returncode == 0, again.output[-4000:]
    assert again.changed == 0, again.changed_tasks()
    check = run_playbook(PLAYBOOK, stack, VARS, check=True)
    assert check.returncode == 0, check.output[-4000:]
    assert check.changed == 0, check.changed_tasks()


def test_destroy_removes_the_trail_and_keeps_the_bucket(stack: dict[str, str]) -> None:
    gone = run_playbook(PLAYBOOK, stack, {**VARS, "audit_state": "absent"})
    assert gone.returncode == 0, gone.output[-4000:]
    assert gone.changed > 0
    again = run_playbook(PLAYBOOK, stack, {**VARS, "audit_state": "absent"})
    assert again.changed == 0, again.changed_tasks()
    assert _client(stack, "cloudtrail").describe_trails()["trailList"] == []
    assert _client(stack, "ec2").describe_flow_logs()["FlowLogs"] == []
    names = {b["Name"] for b in _client(stack, "s3").list_buckets()["Buckets"]}
    assert BUCKET in names
