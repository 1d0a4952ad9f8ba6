"""Seed 002's Streamlit dashboard, built by the kit from `inventories/examples/streamlit-dashboard`
alone (configuration only: no role code knows this app), against moto on loopback.

One build per module: site.yml, the moto settle run, then every seed 002 number read back from
the emulator, a no-op re-run (changed=0), and a service scaled out in the emulator (as
auto-scaling would) left at that count by the next site.yml run.
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

INVENTORY = ROOT / "inventories" / "examples" / "streamlit-dashboard"
SITE = ROOT / "playbooks" / "site.yml"
PREFIX = "vibejudge-prod"
CLUSTER = PREFIX
SERVICE = f"{PREFIX}-dashboard"


def _client(env: dict[str, str], service: str) -> Any:
    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    ).client(service, endpoint_url=env["AWS_ENDPOINT_URL"])


def _site(env: dict[str, str], tmp: Path, check: bool = False) -> PlaybookRun:
    return run_playbook(
        SITE,
        env,
        {"stack_outputs_file": str(tmp / "outputs.json")},
        check=check,
        inventory=INVENTORY,
        timeout=1500,
    )


@pytest.fixture(scope="module")
def built(moto: MotoServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    moto.reset()
    env = moto.env()
    tmp = tmp_path_factory.mktemp("dashboard")
    first = _site(env, tmp)
    assert first.returncode == 0, first.output[-6000:]
    settle = _site(env, tmp)
    assert settle.returncode == 0, settle.output[-4000:]
    assert set(settle.changed_tasks()) <= MOTO_SETTLE_TASKS, settle.changed_tasks()
    return {"env": env, "tmp": tmp}


def _service(env: dict[str, str]) -> dict[str, Any]:
    ecs = _client(env, "ecs")
    return ecs.describe_services(cluster=CLUSTER, services=[SERVICE], include=["TAGS"])["services"][
        0
    ]


def test_service_rolls_on_spot_with_a_circuit_breaker(built: dict[str, Any]) -> None:
    svc = _service(built["env"])
    deployment = svc["deploymentConfiguration"]
    assert (deployment["minimumHealthyPercent"], deployment["maximumPercent"]) == (100, 200)
    assert deployment["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    assert svc["healthCheckGracePeriodSeconds"] == 60
    strategy = {
        s["capacityProvider"]: (s["base"], s["weight"]) for s in svc["capacityProviderStrategy"]
    }
    assert strategy == {"FARGATE": (2, 1), "FARGATE_SPOT": (0, 3)}
    network = svc["networkConfiguration"]["awsvpcConfiguration"]
    assert network["assignPublicIp"] == "ENABLED"  # public subnets, no NAT (req. 8.4)


def test_task_size_port_logs_and_empty_task_role(built: dict[str, Any]) -> None:
    env = built["env"]
    ecs = _client(env, "ecs")
    arn = _service(env)["taskDefinition"]
    task = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
    assert (task["cpu"], task["memory"]) == ("512", "1024")
    container = task["containerDefinitions"][0]
    assert container["portMappings"][0]["containerPort"] == 8501
    assert container["logConfiguration"]["options"]["awslogs-group"] == "/ecs/vibejudge-dashboard"
    groups = _client(env, "logs").describe_log_groups(logGroupNamePrefix="/ecs/vibejudge-dashboard")
    assert [g.get("retentionInDays") for g in groups["logGroups"]] == [7]
    role = task["taskRoleArn"].rsplit("/", 1)[1]
    iam = _client(env, "iam")
    assert iam.list_role_policies(RoleName=role)["PolicyNames"] == []
    assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []


def test_load_balancer_health_checks(built: dict[str, Any]) -> None:
    elb = _client(built["env"], "elbv2")
    tg = elb.describe_target_groups(Names=[SERVICE])["TargetGroups"][0]
    assert tg["HealthCheckPath"] == "/_stcore/health"
    assert tg["HealthCheckIntervalSeconds"] == 30
    assert (tg["UnhealthyThresholdCount"], tg["HealthyThresholdCount"]) == (3, 2)
    assert tg["Port"] == 8501


def test_auto_scaling_two_to_ten_on_cpu(built: dict[str, Any]) -> None:
    aas = _client(built["env"], "application-autoscaling")
    resource = f"service/{CLUSTER}/{SERVICE}"
    target = aas.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[resource])
    assert [(t["MinCapacity"], t["MaxCapacity"]) for t in target["ScalableTargets"]] == [(2, 10)]
    policies = aas.describe_scaling_policies(ServiceNamespace="ecs", ResourceId=resource)
    config = policies["ScalingPolicies"][0]["TargetTrackingScalingPolicyConfiguration"]
    assert config["TargetValue"] == 70.0
    assert (config["ScaleOutCooldown"], config["ScaleInCooldown"]) == (60, 300)
    metric = config["PredefinedMetricSpecification"]["PredefinedMetricType"]
    assert metric == "ECSServiceAverageCPUUtilization"


def test_registry_scans_and_keeps_ten(built: dict[str, Any]) -> None:
    ecr = _client(built["env"], "ecr")
    repo = ecr.describe_repositories(repositoryNames=[SERVICE])["repositories"][0]
    assert repo["imageScanningConfiguration"] == {"scanOnPush": True}
    policy = json.loads(ecr.get_lifecycle_policy(repositoryName=SERVICE)["lifecyclePolicyText"])
    assert [r["selection"]["countNumber"] for r in policy["rules"]] == [10]


def test_alarms_on_healthy_hosts_and_response_time(built: dict[str, Any]) -> None:
    cw = _client(built["env"], "cloudwatch")
    alarms = {
        a.get("MetricName", ""): a
        for a in cw.describe_alarms(AlarmNamePrefix=PREFIX)["MetricAlarms"]
    }
    healthy, slow = alarms["HealthyHostCount"], alarms["TargetResponseTime"]
    assert (healthy["Threshold"], healthy["ComparisonOperator"]) == (1.0, "LessThanThreshold")
    assert (slow["Threshold"], slow["EvaluationPeriods"]) == (5.0, 2)
    assert slow["ComparisonOperator"] == "GreaterThanThreshold"
    assert all(a["AlarmActions"] and ":sns:" in a["AlarmActions"][0] for a in (healthy, slow))


def test_cost_tags_and_outputs(built: dict[str, Any]) -> None:
    env = built["env"]
    tags = {t["key"]: t["value"] for t in _service(env).get("tags", [])}
    assert tags["CostCenter"] == "vibejudge" and tags["Environment"] == "prod"
    outputs = json.loads((built["tmp"] / "outputs.json").read_text())
    assert outputs["load_balancer_dns_name"]
    assert outputs["cluster_arn"].endswith(f":cluster/{CLUSTER}")
    assert outputs["service_arns"]["dashboard"].endswith(f"/{SERVICE}")
    assert outputs["repository_uris"]["dashboard"].endswith(f"/{SERVICE}")


def test_rerun_changes_nothing_and_check_mode_agrees(built: dict[str, Any]) -> None:
    again = _site(built["env"], built["tmp"])
    assert again.returncode == 0 and again.changed == 0, again.changed_tasks()
    check = _site(built["env"], built["tmp"], check=True)
    assert check.returncode == 0 and check.changed == 0, check.changed_tasks()


def test_scaled_out_service_is_left_at_its_count(built: dict[str, Any]) -> None:
    env = built["env"]
    _client(env, "ecs").update_service(cluster=CLUSTER, service=SERVICE, desiredCount=7)
    again = _site(env, built["tmp"])
    assert again.returncode == 0, again.output[-4000:]
    assert _service(env)["desiredCount"] == 7
    assert again.changed == 0, again.changed_tasks()
