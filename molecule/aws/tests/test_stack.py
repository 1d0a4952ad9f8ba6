"""Read the built stack back from moto and audit it against the seeds and the security rules.

Run by verify.yml after converge, settle, idempotence, check mode and a deploy of tag v2.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import botocore.exceptions
import pytest
from conftest import ACCOUNT, DATA_BUCKET, NAME, REPLICA_BUCKET

Aws = Callable[[str], Any]


def _is_read(action: str) -> bool:
    verb = action.split(":", 1)[1]
    return verb.startswith(("Describe", "List", "Get")) and verb != "GetSecretValue"


ALLOWED_STAR_RESOURCE_ACTIONS = {
    "ecr:GetAuthorizationToken",
    "ecs:RegisterTaskDefinition",
    "ecs:DescribeTaskDefinition",
    "ecs:ListTasks",
    "ecs:DescribeTasks",
}


def _tag(tags: list[dict[str, str]] | None, key: str = "Name") -> str | None:
    return next((t["Value"] for t in tags or [] if t["Key"] == key), None)


def _vpc(aws: Aws) -> dict[str, Any]:
    vpcs = aws("ec2").describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [NAME]}])["Vpcs"]
    assert len(vpcs) == 1
    return vpcs[0]


# --- network -------------------------------------------------------------------------------
def test_vpc_and_subnets_in_two_azs(aws: Aws) -> None:
    ec2 = aws("ec2")
    vpc = _vpc(aws)
    assert vpc["CidrBlock"] == "10.0.0.0/16"
    for attr, key in (
        ("enableDnsSupport", "EnableDnsSupport"),
        ("enableDnsHostnames", "EnableDnsHostnames"),
    ):
        assert ec2.describe_vpc_attribute(VpcId=vpc["VpcId"], Attribute=attr)[key]["Value"]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])[
        "Subnets"
    ]
    by_name = {_tag(s["Tags"]): s for s in subnets}
    assert set(by_name) == {
        f"{NAME}-public-1",
        f"{NAME}-public-2",
        f"{NAME}-private-1",
        f"{NAME}-private-2",
    }
    cidrs = {n: s["CidrBlock"] for n, s in by_name.items()}
    assert (
        cidrs[f"{NAME}-public-1"] == "10.0.1.0/24" and cidrs[f"{NAME}-private-2"] == "10.0.12.0/24"
    )
    for tier in ("public", "private"):
        azs = {by_name[f"{NAME}-{tier}-{i}"]["AvailabilityZone"] for i in (1, 2)}
        assert len(azs) == 2, f"{tier} subnets must span two AZs"
    assert not any(s["MapPublicIpOnLaunch"] for s in subnets)


def test_routes_igw_and_no_nat(aws: Aws) -> None:
    ec2 = aws("ec2")
    vpc_id = _vpc(aws)["VpcId"]
    igws = ec2.describe_internet_gateways(
        Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}]
    )
    assert len(igws["InternetGateways"]) == 1
    igw_id = igws["InternetGateways"][0]["InternetGatewayId"]
    tables = {
        _tag(t.get("Tags")): t
        for t in ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])[
            "RouteTables"
        ]
    }
    public = tables[f"{NAME}-public"]
    assert any(
        r.get("DestinationCidrBlock") == "0.0.0.0/0" and r.get("GatewayId") == igw_id
        for r in public["Routes"]
    )
    assert len([a for a in public["Associations"] if a.get("SubnetId")]) == 2
    private = tables[f"{NAME}-private"]
    assert not any(r.get("DestinationCidrBlock") == "0.0.0.0/0" for r in private["Routes"])
    assert len([a for a in private["Associations"] if a.get("SubnetId")]) == 2
    nat = ec2.describe_nat_gateways(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["NatGateways"]
    assert [n for n in nat if n["State"] != "deleted"] == []


def _groups(aws: Aws) -> dict[str, dict[str, Any]]:
    vpc_id = _vpc(aws)["VpcId"]
    groups = aws("ec2").describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
    return {g["GroupName"]: g for g in groups["SecurityGroups"]}


def test_alb_security_group_accepts_80_443_only(aws: Aws) -> None:
    alb = _groups(aws)[f"{NAME}-alb"]
    rules = sorted(
        (p["IpProtocol"], p["FromPort"], p["ToPort"], tuple(r["CidrIp"] for r in p["IpRanges"]))
        for p in alb["IpPermissions"]
    )
    assert rules == [("tcp", 80, 80, ("0.0.0.0/0",)), ("tcp", 443, 443, ("0.0.0.0/0",))]
    assert all(not p.get("UserIdGroupPairs") for p in alb["IpPermissions"])
    egress = alb["IpPermissionsEgress"]
    assert [(p["IpProtocol"], p["FromPort"], p["IpRanges"][0]["CidrIp"]) for p in egress] == [
        ("tcp", 8000, "10.0.0.0/16")
    ]


def test_app_security_group_accepts_only_the_alb_on_the_app_port(aws: Aws) -> None:
    groups = _groups(aws)
    app, alb = groups[f"{NAME}-app"], groups[f"{NAME}-alb"]
    assert len(app["IpPermissions"]) == 1
    perm = app["IpPermissions"][0]
    assert (perm["IpProtocol"], perm["FromPort"], perm["ToPort"]) == ("tcp", 8000, 8000)
    assert [g["GroupId"] for g in perm["UserIdGroupPairs"]] == [alb["GroupId"]]
    assert perm["IpRanges"] == [] and perm.get("Ipv6Ranges", []) == []


# --- storage -------------------------------------------------------------------------------
@pytest.mark.parametrize("bucket", [DATA_BUCKET, REPLICA_BUCKET])
def test_bucket_is_versioned_encrypted_private_and_tls_only(aws: Aws, bucket: str) -> None:
    s3 = aws("s3")
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    pab = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert pab == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    deny = [st for st in policy["Statement"] if st["Effect"] == "Deny"]
    assert len(deny) == 1
    assert deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert deny[0]["Principal"] == "*" and deny[0]["Action"] == "s3:*"
    assert set(deny[0]["Resource"]) == {f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"}
    assert not [st for st in policy["Statement"] if st["Effect"] == "Allow"]
    owner = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"][0]
    assert owner["ObjectOwnership"] == "BucketOwnerEnforced"


def test_lifecycle_rules(aws: Aws) -> None:
    s3 = aws("s3")
    data = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=DATA_BUCKET)["Rules"]}
    drawings = data["drawings-to-standard-ia"]
    assert drawings["Filter"]["Prefix"] == "drawings/" and drawings["Status"] == "Enabled"
    assert [(t["Days"], t["StorageClass"]) for t in drawings["Transitions"]] == [
        (30, "STANDARD_IA")
    ]
    replica = {
        r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=REPLICA_BUCKET)["Rules"]
    }
    old = replica["old-replica-files-to-glacier"]
    assert [
        (t["NoncurrentDays"], t["StorageClass"]) for t in old["NoncurrentVersionTransitions"]
    ] == [(30, "GLACIER")]
    assert old["NoncurrentVersionExpiration"]["NoncurrentDays"] == 365
    backups = replica["backups-to-glacier"]
    assert [(t["Days"], t["StorageClass"]) for t in backups["Transitions"]] == [(30, "GLACIER")]


@pytest.mark.parametrize("bucket", [DATA_BUCKET, REPLICA_BUCKET])
def test_plain_http_is_refused_by_the_tls_only_policy(aws: Aws, bucket: str) -> None:
    """moto evaluates bucket policies: over its plain-HTTP endpoint a write is denied."""
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        aws("s3").put_object(Bucket=bucket, Key="drawings/over-http.txt", Body=b"x")
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


# --- registry and secrets ------------------------------------------------------------------
def test_registry_scans_and_keeps_ten(aws: Aws) -> None:
    ecr = aws("ecr")
    # One repository per service, named <stack>-<env>-<service> (the stack model).
    repo = ecr.describe_repositories(repositoryNames=[f"{NAME}-app"])["repositories"][0]
    assert repo["imageScanningConfiguration"]["scanOnPush"] is True
    assert repo["imageTagMutability"] == "MUTABLE"
    policy = json.loads(
        ecr.get_lifecycle_policy(repositoryName=f"{NAME}-app")["lifecyclePolicyText"]
    )
    (rule,) = policy["rules"]
    assert rule["selection"]["countType"] == "imageCountMoreThan"
    assert rule["selection"]["countNumber"] == 10
    assert rule["action"]["type"] == "expire"


def test_secrets_exist_with_the_operator_hash_and_a_random_key(aws: Aws) -> None:
    sm = aws("secretsmanager")
    admin = json.loads(sm.get_secret_value(SecretId="crayon/emulated/admin")["SecretString"])
    expected = os.environ.get("CRAYON_ADMIN_PASSWORD_HASH")
    assert (
        admin["password_hash"] == expected
        if expected
        else admin["password_hash"].startswith("!locked")
    )
    session = json.loads(sm.get_secret_value(SecretId="crayon/emulated/session")["SecretString"])
    assert len(session["session_key"]) == 64


# --- IAM -----------------------------------------------------------------------------------
def _policies(aws: Aws, role: str) -> list[dict[str, Any]]:
    iam = aws("iam")
    docs = []
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        doc = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        docs.append(json.loads(doc) if isinstance(doc, str) else doc)
    assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
    return docs


def _as_list(x: Any) -> list[Any]:
    return x if isinstance(x, list) else [x]


def test_no_star_action_on_star_resource_anywhere(aws: Aws) -> None:
    iam = aws("iam")
    roles = [r["RoleName"] for r in iam.list_roles()["Roles"] if r["RoleName"].startswith(NAME)]
    assert sorted(roles) == [f"{NAME}-app-task", f"{NAME}-ecs-execution", f"{NAME}-github-deploy"]
    for role in roles:
        for doc in _policies(aws, role):
            for st in doc["Statement"]:
                actions, resources = _as_list(st["Action"]), _as_list(st["Resource"])
                assert not any(a == "*" or a.endswith(":*") for a in actions), (role, st)
                if "*" in resources:
                    # On "*" only the few writes AWS cannot scope, and reads (Describe/List/
                    # Get without a resource-level permission, e.g. the deploy role's
                    # ReadStackSettings): never a write that could be scoped.
                    writes = {a for a in actions if not _is_read(a)}
                    assert writes <= ALLOWED_STAR_RESOURCE_ACTIONS, (role, st)


def test_execution_role_pulls_its_repo_and_logs_and_reads_no_secret(aws: Aws) -> None:
    """Crayon's service injects no secret with valueFrom (the app fetches them by id)."""
    (doc,) = _policies(aws, f"{NAME}-ecs-execution")
    by_sid = {st["Sid"]: st for st in doc["Statement"]}
    repo = f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/{NAME}-app"
    assert by_sid["EcrPull"]["Resource"] == [repo]
    logs = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/ecs/{NAME}-app:*"
    assert by_sid["Logs"]["Resource"] == [logs]
    assert "Secrets" not in by_sid
    trust = aws("iam").get_role(RoleName=f"{NAME}-ecs-execution")["Role"][
        "AssumeRolePolicyDocument"
    ]
    assert trust["Statement"][0]["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}


def test_task_role_only_its_prefixes_replica_and_secrets(aws: Aws) -> None:
    (doc,) = _policies(aws, f"{NAME}-app-task")
    resources = [r for st in doc["Statement"] for r in _as_list(st["Resource"])]
    for r in resources:
        assert (
            (
                r.startswith(f"arn:aws:s3:::{DATA_BUCKET}/")
                and r.split("/", 1)[1].split("/")[0]
                in {"drawings", "models", "saliency_maps", "exports", "demo"}
            )
            or r in {f"arn:aws:s3:::{DATA_BUCKET}", f"arn:aws:s3:::{REPLICA_BUCKET}"}
            or r == (f"arn:aws:s3:::{REPLICA_BUCKET}/db/*")
            or r.startswith(f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:crayon/emulated/")
        ), r


def test_deploy_role_trusts_github_oidc_and_passes_only_two_roles(aws: Aws) -> None:
    role = aws("iam").get_role(RoleName=f"{NAME}-github-deploy")["Role"]
    st = role["AssumeRolePolicyDocument"]["Statement"][0]
    assert st["Principal"]["Federated"].endswith(
        "oidc-provider/token.actions.githubusercontent.com"
    )
    cond = st["Condition"]["StringEquals"]
    assert cond["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
    assert (
        cond["token.actions.githubusercontent.com:sub"]
        == "repo:example-org/crayon:environment:emulated"
    )
    (doc,) = _policies(aws, f"{NAME}-github-deploy")
    passrole = [s for s in doc["Statement"] if "iam:PassRole" in _as_list(s["Action"])]
    assert len(passrole) == 1
    assert sorted(passrole[0]["Resource"]) == [
        f"arn:aws:iam::{ACCOUNT}:role/{NAME}-app-task",
        f"arn:aws:iam::{ACCOUNT}:role/{NAME}-ecs-execution",
    ]
    service = [s for s in doc["Statement"] if "ecs:UpdateService" in _as_list(s["Action"])]
    assert service[0]["Resource"] == [f"arn:aws:ecs:us-east-1:{ACCOUNT}:service/{NAME}/{NAME}-app"]
    providers = aws("iam").list_open_id_connect_providers()["OpenIDConnectProviderList"]
    assert any(p["Arn"] == st["Principal"]["Federated"] for p in providers)


# --- ECS -----------------------------------------------------------------------------------
def test_cluster_capacity_providers_and_container_insights(aws: Aws) -> None:
    (cluster,) = aws("ecs").describe_clusters(clusters=[NAME], include=["SETTINGS"])["clusters"]
    assert sorted(cluster["capacityProviders"]) == ["FARGATE", "FARGATE_SPOT"]
    assert {s["name"]: s["value"] for s in cluster["settings"]}["containerInsights"] == "enabled"
    # Single writer: the default strategy never puts the only task on Spot.
    assert [s["capacityProvider"] for s in cluster["defaultCapacityProviderStrategy"]] == [
        "FARGATE"
    ]


def _service(aws: Aws) -> dict[str, Any]:
    (svc,) = aws("ecs").describe_services(cluster=NAME, services=[f"{NAME}-app"])["services"]
    return svc


def test_task_definition(aws: Aws) -> None:
    ecs = aws("ecs")
    td = ecs.describe_task_definition(taskDefinition=_service(aws)["taskDefinition"])[
        "taskDefinition"
    ]
    assert (td["cpu"], td["memory"]) == ("256", "512")
    assert td["networkMode"] == "awsvpc" and "FARGATE" in td["requiresCompatibilities"]
    assert td["executionRoleArn"].endswith(f"role/{NAME}-ecs-execution")
    assert td["taskRoleArn"].endswith(f"role/{NAME}-app-task")
    (c,) = td["containerDefinitions"]
    assert c["image"] == f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/{NAME}-app:v2", (
        "deploy.yml shipped v2"
    )
    assert c["portMappings"][0]["containerPort"] == 8000
    assert (
        c["healthCheck"]["command"][0] == "CMD-SHELL"
        and "/healthz" in c["healthCheck"]["command"][1]
    )
    env = {e["name"]: e["value"] for e in c["environment"]}
    assert env["CRAYON_ENV"] == "production" and env["CRAYON_PORT"] == "8000"
    assert env["CRAYON_S3_BUCKET"] == DATA_BUCKET
    assert env["CRAYON_REPLICA_URL"] == f"s3://{REPLICA_BUCKET}/db"
    assert env["CRAYON_ADMIN_SECRET_ID"] == "crayon/emulated/admin"
    assert env["CRAYON_SESSION_SECRET_ID"] == "crayon/emulated/session"
    assert env["CRAYON_ORIGIN_SECRET_ID"] == "crayon/emulated/origin-verify"
    # Viewer -> CloudFront -> ALB -> task.
    assert env["CRAYON_TRUSTED_PROXY_HOPS"] == "2"
    assert env["CRAYON_FORWARDED_ALLOW_IPS"] == "*"
    assert not any("hash" in k.lower() or "key" in k.lower() for k in env), (
        "secrets never as plain env"
    )
    # The app fetches its secrets by id: nothing injected with valueFrom.
    assert c.get("secrets", []) == []
    log = c["logConfiguration"]
    assert log["logDriver"] == "awslogs" and log["options"]["awslogs-group"] == f"/ecs/{NAME}-app"


def test_service_single_writer_with_circuit_breaker(aws: Aws) -> None:
    svc = _service(aws)
    assert svc["desiredCount"] == 1
    dc = svc["deploymentConfiguration"]
    assert (dc["minimumHealthyPercent"], dc["maximumPercent"]) == (0, 100)
    assert dc["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    assert svc["healthCheckGracePeriodSeconds"] == 60
    (lb,) = svc["loadBalancers"]
    assert lb["containerName"] == "app" and lb["containerPort"] == 8000
    net = svc["networkConfiguration"]["awsvpcConfiguration"]
    assert net["securityGroups"] == [_groups(aws)[f"{NAME}-app"]["GroupId"]]
    assert net["assignPublicIp"] == "ENABLED"
    scaling = aws("application-autoscaling").describe_scaling_policies(
        ServiceNamespace="ecs", ResourceId=f"service/{NAME}/{NAME}-app"
    )
    assert scaling["ScalingPolicies"] == [], "a single writer must never scale out"


def test_log_group_retention(aws: Aws) -> None:
    groups = aws("logs").describe_log_groups(logGroupNamePrefix=f"/ecs/{NAME}")["logGroups"]
    assert [(g["logGroupName"], g["retentionInDays"]) for g in groups] == [(f"/ecs/{NAME}-app", 7)]


def test_alb_https_redirect_and_target_group_health_checks(
    aws: Aws, moto_state: dict[str, Any]
) -> None:
    elb = aws("elbv2")
    (lb,) = elb.describe_load_balancers(Names=[f"{NAME}-alb"])["LoadBalancers"]
    assert lb["Scheme"] == "internet-facing"
    assert lb["SecurityGroups"] == [_groups(aws)[f"{NAME}-alb"]["GroupId"]]
    assert len(lb["AvailabilityZones"]) == 2
    (tg,) = elb.describe_target_groups(Names=[f"{NAME}-app"])["TargetGroups"]
    assert (tg["Protocol"], tg["Port"], tg["TargetType"]) == ("HTTP", 8000, "ip")
    assert tg["HealthCheckPath"] == "/healthz"
    assert (tg["HealthCheckIntervalSeconds"], tg["HealthCheckTimeoutSeconds"]) == (15, 5)
    assert (tg["HealthyThresholdCount"], tg["UnhealthyThresholdCount"]) == (2, 3)
    assert tg["Matcher"]["HttpCode"] == "200"
    attrs = {
        a["Key"]: a["Value"]
        for a in elb.describe_target_group_attributes(TargetGroupArn=tg["TargetGroupArn"])[
            "Attributes"
        ]
    }
    assert attrs["deregistration_delay.timeout_seconds"] == "10"
    listeners = {
        li["Port"]: li
        for li in elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
    }
    assert set(listeners) == {80, 443}
    redirect = listeners[80]["DefaultActions"][0]
    assert redirect["Type"] == "redirect"
    assert (
        redirect["RedirectConfig"]["Protocol"] == "HTTPS"
        and redirect["RedirectConfig"]["StatusCode"] == "HTTP_301"
    )
    https = listeners[443]
    assert https["Protocol"] == "HTTPS"
    assert [c["CertificateArn"] for c in https["Certificates"]] == [moto_state["certificate_arn"]]
    assert https["DefaultActions"][0]["TargetGroupArn"] == tg["TargetGroupArn"]
    assert _service(aws)["loadBalancers"][0]["targetGroupArn"] == tg["TargetGroupArn"]


# --- other areas' resources, when their roles built them ------------------------------------
def test_monitoring_when_present(aws: Aws) -> None:
    alarms = [
        a
        for a in aws("cloudwatch").describe_alarms()["MetricAlarms"]
        if a["AlarmName"].startswith(NAME)
    ]
    if not alarms:
        pytest.skip("aws_monitoring built no alarms")
    metrics = {a["MetricName"] for a in alarms if "MetricName" in a}
    assert {
        "CPUUtilization",
        "MemoryUtilization",
        "HealthyHostCount",
        "TargetResponseTime",
    } <= metrics
    topics = [t["TopicArn"] for t in aws("sns").list_topics()["Topics"] if NAME in t["TopicArn"]]
    assert topics, "alarms need an SNS topic"
    assert all(set(a["AlarmActions"]) & set(topics) for a in alarms)


def test_budget_when_present(aws: Aws) -> None:
    try:
        budgets = aws("budgets").describe_budgets(AccountId=ACCOUNT).get("Budgets", [])
    except Exception:
        budgets = []
    mine = [b for b in budgets if b["BudgetName"].startswith(NAME)]
    if not mine:
        pytest.skip("aws_budget built no budget")
    # $50: not below the default stack's own estimate (about $44, playbooks/cost.yml).
    assert float(mine[0]["BudgetLimit"]["Amount"]) == 50.0
    assert mine[0]["TimeUnit"] == "MONTHLY"


def test_audit_trail_is_multi_region_with_validation_into_a_private_bucket(aws: Aws) -> None:
    (trail,) = aws("cloudtrail").describe_trails(trailNameList=[f"{NAME}-trail"])["trailList"]
    assert trail["IsMultiRegionTrail"] and trail["LogFileValidationEnabled"]
    bucket = f"{NAME}-audit-{ACCOUNT}"
    assert trail["S3BucketName"] == bucket
    pab = aws("s3").get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(pab.values())
    policy = json.loads(aws("s3").get_bucket_policy(Bucket=bucket)["Policy"])
    writers = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    assert {json.dumps(s["Principal"]) for s in writers} == {
        json.dumps({"Service": "cloudtrail.amazonaws.com"})
    }
