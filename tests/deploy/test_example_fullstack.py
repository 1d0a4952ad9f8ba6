"""Seed 004's app (examples/fullstack), built by the kit from `inventories/examples/fullstack/dev`
and `.../prod` alone (configuration only), against moto on loopback.

One build per environment per session (a module fixture each): site.yml, the second run (moto's
settle run: only the ECS tasks moto needs once may change), check mode (changed=0), then every
seed 004 item of this area read back from the emulator, and last destroy.yml, which keeps the
database's final snapshot and the buckets.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.support.ecs_stack import MOTO_SETTLE_TASKS
from tests.support.moto_server import MotoServer
from tests.support.playbook import ROOT, PlaybookRun, run_playbook

pytestmark = pytest.mark.slow

SITE = ROOT / "playbooks" / "site.yml"
DESTROY = ROOT / "playbooks" / "destroy.yml"
ACCOUNT = "123456789012"
# What differs between the two inventories (seed 004: sizes, counts, retention, protection).
ENVS: dict[str, dict[str, Any]] = {
    "dev": {"count": (1, 3), "cpu": ("256", "512"), "logs": 30, "db_class": "db.t4g.micro",
            "backups": 3, "multi_az": False, "protected": False, "replica": False,
            "budget": 120.0, "backend_budget": 60.0},
    "prod": {"count": (2, 10), "cpu": ("512", "1024"), "logs": 90, "db_class": "db.t4g.small",
             "backups": 14, "multi_az": True, "protected": True, "replica": True,
             "budget": 400.0, "backend_budget": 250.0},
}  # fmt: skip


def _client(env: dict[str, str], service: str) -> Any:
    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    ).client(service, endpoint_url=env["AWS_ENDPOINT_URL"])


def _run(
    play: Path, name: str, env: dict[str, str], tmp: Path, check: bool = False, **extra: Any
) -> PlaybookRun:
    return run_playbook(
        play,
        env,
        {"stack_outputs_file": str(tmp / "outputs.json"), **extra},
        check=check,
        inventory=ROOT / "inventories" / "examples" / "fullstack" / name,
        timeout=1500,
    )


@pytest.fixture(scope="module", params=sorted(ENVS))
def stack(
    request: pytest.FixtureRequest, moto: MotoServer, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    name = request.param
    # pytest runs every test of one environment before the next one's build: a clean emulator.
    moto.reset()
    env = moto.env()
    tmp = tmp_path_factory.mktemp(f"fullstack-{name}")
    first = _run(SITE, name, env, tmp)
    assert first.returncode == 0, first.output[-8000:]
    second = _run(SITE, name, env, tmp)
    assert second.returncode == 0, second.output[-4000:]
    check = _run(SITE, name, env, tmp, check=True)
    assert check.returncode == 0, check.output[-4000:]
    return {
        "name": name,
        "prefix": f"adagency-{name}",
        "env": env,
        "tmp": tmp,
        "second": second,
        "check": check,
        "want": ENVS[name],
    }


def _service(s: dict[str, Any]) -> dict[str, Any]:
    ecs = _client(s["env"], "ecs")
    found = ecs.describe_services(
        cluster=s["prefix"], services=[f"{s['prefix']}-backend"], include=["TAGS"]
    )
    return found["services"][0]


def _task(s: dict[str, Any]) -> dict[str, Any]:
    ecs = _client(s["env"], "ecs")
    return ecs.describe_task_definition(taskDefinition=_service(s)["taskDefinition"])[
        "taskDefinition"
    ]


def _key_arn(s: dict[str, Any]) -> str:
    kms = _client(s["env"], "kms")
    return kms.describe_key(KeyId=f"alias/{s['prefix']}")["KeyMetadata"]["Arn"]


def _db(s: dict[str, Any], name: str = "") -> dict[str, Any]:
    rds = _client(s["env"], "rds")
    ident = name or f"{s['prefix']}-db"
    return rds.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0]


def _tags(items: list[dict[str, str]], key: str = "Key", value: str = "Value") -> dict[str, str]:
    return {t[key]: t[value] for t in items}


def test_second_run_and_check_mode_change_nothing(stack: dict[str, Any]) -> None:
    assert set(stack["second"].changed_tasks()) <= MOTO_SETTLE_TASKS, stack[
        "second"
    ].changed_tasks()
    assert stack["check"].changed == 0, stack["check"].changed_tasks()


def test_backend_scales_on_requests_per_target_between_env_counts(stack: dict[str, Any]) -> None:
    env, prefix = stack["env"], stack["prefix"]
    aas = _client(env, "application-autoscaling")
    resource = f"service/{prefix}/{prefix}-backend"
    targets = aas.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[resource])
    low, high = stack["want"]["count"]
    assert [(t["MinCapacity"], t["MaxCapacity"]) for t in targets["ScalableTargets"]] == [
        (low, high)
    ]  # scaling down to the minimum when idle
    found = aas.describe_scaling_policies(ServiceNamespace="ecs", ResourceId=resource)
    policies = {
        p["PolicyName"]: p["TargetTrackingScalingPolicyConfiguration"]
        for p in found["ScalingPolicies"]
    }
    requests = policies[f"{prefix}-backend-scaling"]
    metric = requests["PredefinedMetricSpecification"]
    assert metric["PredefinedMetricType"] == "ALBRequestCountPerTarget"
    assert metric["ResourceLabel"].startswith("app/") and "/targetgroup/" in metric["ResourceLabel"]
    assert requests["TargetValue"] == 200.0
    cpu = policies[f"{prefix}-backend-scaling-cpu"]
    assert cpu["PredefinedMetricSpecification"]["PredefinedMetricType"] == (
        "ECSServiceAverageCPUUtilization"
    )
    assert cpu["TargetValue"] == 70.0 and len(policies) == 2


def test_task_size_routing_and_secret_injected_with_value_from(stack: dict[str, Any]) -> None:
    task = _task(stack)
    assert (task["cpu"], task["memory"]) == stack["want"]["cpu"]
    container = task["containerDefinitions"][0]
    secrets = {s["name"]: s["valueFrom"] for s in container.get("secrets", [])}
    assert list(secrets) == ["GEMINI_API_KEY"]
    assert f":secret:adagency/{stack['name']}/gemini-api-key" in secrets["GEMINI_API_KEY"]
    env = {e["name"]: e["value"] for e in container["environment"]}
    assert "GEMINI_API_KEY" not in env and env["BACKEND_HEARTBEAT_S"] == "15"
    elb = _client(stack["env"], "elbv2")
    tg = elb.describe_target_groups(Names=[f"{stack['prefix']}-backend"])["TargetGroups"][0]
    assert tg["HealthCheckPath"] == "/api/health"
    rules = elb.describe_rules(ListenerArn=_listener(elb, tg["LoadBalancerArns"][0]))["Rules"]
    paths = [
        v
        for r in rules
        for c in r["Conditions"]
        if c["Field"] == "path-pattern"
        for v in c.get("Values") or c.get("PathPatternConfig", {}).get("Values", [])
    ]
    assert "/api/*" in paths


def _listener(elb: Any, lb_arn: str) -> str:
    listeners = elb.describe_listeners(LoadBalancerArn=lb_arn)["Listeners"]
    return str(next(x for x in listeners if x["Port"] == 80)["ListenerArn"])


def test_two_availability_zones(stack: dict[str, Any]) -> None:
    ec2 = _client(stack["env"], "ec2")
    subnet_ids = _service(stack)["networkConfiguration"]["awsvpcConfiguration"]["subnets"]
    subnets = ec2.describe_subnets(SubnetIds=subnet_ids)["Subnets"]
    assert len({s["AvailabilityZone"] for s in subnets}) == 2
    db = _db(stack)
    assert len({s["SubnetAvailabilityZone"]["Name"] for s in db["DBSubnetGroup"]["Subnets"]}) == 2


def test_stack_key_encrypts_logs_and_images(stack: dict[str, Any]) -> None:
    env, prefix, key = stack["env"], stack["prefix"], _key_arn(stack)
    groups = _client(env, "logs").describe_log_groups(logGroupNamePrefix=f"/ecs/{prefix}-backend")
    assert [(g.get("kmsKeyId"), g.get("retentionInDays")) for g in groups["logGroups"]] == [
        (key, stack["want"]["logs"])
    ]
    repo = _client(env, "ecr").describe_repositories(repositoryNames=[f"{prefix}-backend"])
    encryption = repo["repositories"][0]["encryptionConfiguration"]
    assert encryption == {"encryptionType": "KMS", "kmsKey": key}


def test_network_acls_allow_only_what_the_stack_needs(stack: dict[str, Any]) -> None:
    ec2 = _client(stack["env"], "ec2")
    prefix = stack["prefix"]
    vpc = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [prefix]}])["Vpcs"][0]
    subnets = {
        _tags(s["Tags"])["Name"]: s["SubnetId"]
        for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])[
            "Subnets"
        ]
    }
    acls = {
        _tags(a.get("Tags", [])).get("Name", ""): a
        for a in ec2.describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])[
            "NetworkAcls"
        ]
    }

    def rules(acl: dict[str, Any], egress: bool) -> set[tuple[int, str, int, int]]:
        return {
            (e["RuleNumber"], e["CidrBlock"], e["PortRange"]["From"], e["PortRange"]["To"])
            for e in acl["Entries"]
            if e["Egress"] is egress and e["RuleAction"] == "allow" and e["RuleNumber"] < 32767
        }

    for tier in ("public", "private"):
        acl = acls[f"{prefix}-{tier}"]
        assert {a["SubnetId"] for a in acl["Associations"]} == {
            subnets[f"{prefix}-{tier}-1"],
            subnets[f"{prefix}-{tier}-2"],
        }
    public, private = acls[f"{prefix}-public"], acls[f"{prefix}-private"]
    anywhere, vpc_cidr = "0.0.0.0/0", vpc["CidrBlock"]
    assert rules(public, egress=False) == {
        (100, anywhere, 80, 80), (110, anywhere, 443, 443), (200, anywhere, 1024, 65535)
    }  # fmt: skip
    assert rules(public, egress=True) == {(100, anywhere, 1024, 65535), (110, anywhere, 443, 443)}
    # No NAT gateway: nothing from the internet reaches the private tier, not even replies.
    assert rules(private, egress=False) == {(200, vpc_cidr, 1024, 65535)}
    assert rules(private, egress=True) == {(100, vpc_cidr, 1024, 65535), (110, anywhere, 443, 443)}


def test_stack_key_encrypts_bucket_secret_and_database(stack: dict[str, Any]) -> None:
    env, key = stack["env"], _key_arn(stack)
    s3 = _client(env, "s3")
    bucket = f"{stack['prefix']}-content-{ACCOUNT}"
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    default = rule["ApplyServerSideEncryptionByDefault"]
    assert default["SSEAlgorithm"] == "aws:kms" and default["KMSMasterKeyID"] in (
        key,
        key.split("/")[-1],
    )
    secret = _client(env, "secretsmanager").describe_secret(
        SecretId=f"adagency/{stack['name']}/gemini-api-key"
    )
    assert secret["KmsKeyId"] in (key, key.split("/")[-1], f"alias/{stack['prefix']}")
    db = _db(stack)
    assert db["StorageEncrypted"] and db["KmsKeyId"] == key


def test_cloudtrail_writes_to_an_encrypted_bucket(stack: dict[str, Any]) -> None:
    env = stack["env"]
    trail = _client(env, "cloudtrail").get_trail(Name=f"{stack['prefix']}-trail")["Trail"]
    bucket = f"{stack['prefix']}-audit-{ACCOUNT}"
    assert trail["S3BucketName"] == bucket
    s3 = _client(env, "s3")
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())


def test_database_settings_follow_the_environment(stack: dict[str, Any]) -> None:
    want, db = stack["want"], _db(stack)
    assert db["Engine"] == "postgres" and db["DBInstanceClass"] == want["db_class"]
    assert db["BackupRetentionPeriod"] == want["backups"]  # daily backups, PITR this far back
    assert db["MultiAZ"] is want["multi_az"]
    assert db["DeletionProtection"] is want["protected"]
    assert db["PubliclyAccessible"] is False
    assert db["MasterUserSecret"]["SecretArn"]  # the password is RDS's, in Secrets Manager
    replicas = db.get("ReadReplicaDBInstanceIdentifiers", [])
    assert replicas == ([f"{stack['prefix']}-db-replica"] if want["replica"] else [])


def test_database_admits_only_the_backend_security_group(stack: dict[str, Any]) -> None:
    ec2 = _client(stack["env"], "ec2")
    db_sg = _db(stack)["VpcSecurityGroups"][0]["VpcSecurityGroupId"]
    group = ec2.describe_security_groups(GroupIds=[db_sg])["SecurityGroups"][0]
    backend_sgs = _service(stack)["networkConfiguration"]["awsvpcConfiguration"]["securityGroups"]
    ingress = group["IpPermissions"]
    assert [(p["FromPort"], p["ToPort"]) for p in ingress] == [(5432, 5432)]
    assert [g["GroupId"] for g in ingress[0]["UserIdGroupPairs"]] == backend_sgs
    assert ingress[0]["IpRanges"] == [] and group["IpPermissionsEgress"] == []


def test_service_tags_for_cost_by_service(stack: dict[str, Any]) -> None:
    env, prefix = stack["env"], stack["prefix"]
    assert _tags(_service(stack)["tags"], "key", "value")["Service"] == "backend"
    elb = _client(env, "elbv2")
    tg = elb.describe_target_groups(Names=[f"{prefix}-backend"])["TargetGroups"][0]
    tg_tags = elb.describe_tags(ResourceArns=[tg["TargetGroupArn"]])["TagDescriptions"][0]["Tags"]
    assert _tags(tg_tags)["Service"] == "backend"
    lb_tags = elb.describe_tags(ResourceArns=tg["LoadBalancerArns"])["TagDescriptions"][0]["Tags"]
    assert _tags(lb_tags)["Service"] == "shared"
    logs = _client(env, "logs")
    assert logs.list_tags_log_group(logGroupName=f"/ecs/{prefix}-backend")["tags"]["Service"] == (
        "backend"
    )
    iam = _client(env, "iam")
    role = iam.get_role(RoleName=f"{prefix}-backend-task")["Role"]
    assert _tags(role["Tags"])["Service"] == "backend"
    execution = iam.get_role(RoleName=f"{prefix}-ecs-execution")["Role"]
    assert _tags(execution["Tags"])["Service"] == "shared"
    assert _tags(_db(stack)["TagList"])["Service"] == "backend"
    vpc = _client(env, "ec2").describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [prefix]}])
    assert _tags(vpc["Vpcs"][0]["Tags"])["Service"] == "shared"


def test_budgets_per_service_filtered_on_the_service_tag(stack: dict[str, Any]) -> None:
    want, prefix = stack["want"], stack["prefix"]
    budgets = _client(stack["env"], "budgets").describe_budgets(AccountId=ACCOUNT)["Budgets"]
    mine = {b["BudgetName"]: b for b in budgets if b["BudgetName"].startswith(prefix + "-")}
    assert set(mine) == {
        f"{prefix}-monthly",
        f"{prefix}-backend-monthly",
        f"{prefix}-shared-monthly",
    }
    assert "CostFilters" not in mine[f"{prefix}-monthly"]
    assert float(mine[f"{prefix}-monthly"]["BudgetLimit"]["Amount"]) == want["budget"]
    backend = mine[f"{prefix}-backend-monthly"]
    assert backend["CostFilters"] == {"TagKeyValue": ["user:Service$backend"]}
    assert float(backend["BudgetLimit"]["Amount"]) == want["backend_budget"]
    assert mine[f"{prefix}-shared-monthly"]["CostFilters"] == {
        "TagKeyValue": ["user:Service$shared"]
    }


def test_static_frontend_and_stream_at_the_edge(stack: dict[str, Any]) -> None:
    """Seed 004 items 2 and 3 as this inventory declares them: the frontend released to its
    private bucket, the default behaviour on it, the SSE path first, uncached, uncompressed."""
    env, prefix = stack["env"], stack["prefix"]
    s3 = _client(env, "s3")
    bucket = f"{prefix}-frontend-{ACCOUNT}"
    index = s3.head_object(Bucket=bucket, Key="index.html")
    assert index["ContentType"].startswith("text/html")
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    readers = [st for st in policy["Statement"] if st.get("Effect") == "Allow"]
    assert [st["Principal"] for st in readers] == [{"Service": "cloudfront.amazonaws.com"}]
    cf = _client(env, "cloudfront")
    [summary] = [
        d for d in cf.list_distributions()["DistributionList"]["Items"] if prefix in d["Comment"]
    ]
    config = cf.get_distribution_config(Id=summary["Id"])["DistributionConfig"]
    assert config["DefaultCacheBehavior"]["TargetOriginId"] == "frontend"
    first = config["CacheBehaviors"]["Items"][0]
    assert first["PathPattern"] == "/api/runs/*/events"
    assert (first["DefaultTTL"], first["MaxTTL"], first["Compress"]) == (0, 0, False)
    assert "Last-Event-ID" in first["ForwardedValues"]["Headers"]["Items"]
    elb = _client(env, "elbv2")
    [alb] = elb.describe_load_balancers(Names=[f"{prefix}-alb"])["LoadBalancers"]
    attrs = {
        a["Key"]: a["Value"]
        for a in elb.describe_load_balancer_attributes(LoadBalancerArn=alb["LoadBalancerArn"])[
            "Attributes"
        ]
    }
    assert attrs["idle_timeout.timeout_seconds"] == "120"  # above the 15 s heartbeat


def test_outputs_name_the_service(stack: dict[str, Any]) -> None:
    outputs = json.loads((stack["tmp"] / "outputs.json").read_text())
    assert outputs["service_arns"]["backend"].endswith(f"/{stack['prefix']}-backend")


def test_zz_destroy_keeps_the_database_snapshot_and_the_buckets(stack: dict[str, Any]) -> None:
    """Last test of each environment: the stack goes, the data stays."""
    env, prefix = stack["env"], stack["prefix"]
    # prod's database has deletion protection: destroy removes it only when told (and still
    # takes the final snapshot).
    told = {"aws_database_destroy_protected": True} if stack["want"]["protected"] else {}
    run = _run(DESTROY, stack["name"], env, stack["tmp"], **told)
    assert run.returncode == 0, run.output[-6000:]
    rds = _client(env, "rds")
    assert not [
        d for d in rds.describe_db_instances()["DBInstances"]
        if d["DBInstanceIdentifier"].startswith(prefix)
    ]  # fmt: skip
    snapshots = rds.describe_db_snapshots(DBInstanceIdentifier=f"{prefix}-db")["DBSnapshots"]
    finals = [
        s["DBSnapshotIdentifier"] for s in snapshots if "-final-" in s["DBSnapshotIdentifier"]
    ]
    assert len(finals) == 1, snapshots
    assert finals[0] in " ".join(run.output.split())  # the output names the snapshot
    s3 = _client(env, "s3")
    buckets = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert {f"{prefix}-content-{ACCOUNT}", f"{prefix}-audit-{ACCOUNT}"} <= buckets
    vpcs = _client(env, "ec2").describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [prefix]}])
    assert vpcs["Vpcs"] == []  # the database's security group no longer holds the network
