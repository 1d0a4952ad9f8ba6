"""Seed 002's Streamlit dashboard, built by the kit from `inventories/examples/streamlit-dashboard`
alone (configuration only: no role code knows this app), against moto on loopback.

The stack is built once, by the Molecule scenario `dashboard` (molecule/dashboard): this file
drives it step by step (create, converge, the moto settle run, idempotence), reads every seed
002 number back, re-runs (changed=0) and checks check mode, scales the service out in the
emulator (as auto-scaling would) and re-runs, then runs the scenario's cleanup (destroy.yml
twice, nothing left) and destroy. `molecule test -s dashboard` runs the same file as its
verify step, with CRAYON_DASHBOARD_MOTO_STATE naming its moto: then nothing is built or
destroyed here (Molecule does both).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.support.moto_server import MotoServer, require_loopback
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


def _molecule(state_dir: Path, *steps: str) -> None:
    """Run Molecule steps of the `dashboard` scenario with its state (moto.json) in state_dir."""
    venv_bin = Path(sys.executable).parent
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["PATH"] = f"{venv_bin}{os.pathsep}{env.get('PATH', '')}"
    env["MOLECULE_EPHEMERAL_DIRECTORY"] = str(state_dir)
    env.pop("CRAYON_DASHBOARD_MOTO_STATE", None)
    for step in steps:
        proc = subprocess.run(
            [str(venv_bin / "molecule"), step, "-s", "dashboard"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=1500,
            check=False,
        )
        assert proc.returncode == 0, (
            f"molecule {step}: " + proc.stdout[-6000:] + proc.stderr[-3000:]
        )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    given = os.environ.get("CRAYON_DASHBOARD_MOTO_STATE")
    state_dir = Path(given) if given else tmp_path_factory.mktemp("molecule-dashboard")
    try:
        if not given:
            # moto stops in `finally` even when a step fails.
            _molecule(state_dir, "create", "converge", "side-effect", "idempotence")
        state = json.loads((state_dir / "moto.json").read_text())
        url = require_loopback(state["url"])
        env = {**MotoServer(port=int(state["port"])).env(), "AWS_URL": url, "AWS_ENDPOINT_URL": url}
        env["CRAYON_CERTIFICATE_ARN"] = state["certificate_arn"]
        yield {
            "env": env,
            "tmp": state_dir,
            "driving": not given,
            "certificate": state["certificate_arn"],
        }
    finally:
        if not given:
            # Stop moto (what the scenario's destroy step does; `molecule destroy` would run
            # the cleanup again first).
            ctl = ROOT / "molecule" / "aws" / "moto_ctl.py"
            subprocess.run([sys.executable, str(ctl), "stop", str(state_dir)], check=False)


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


def test_https_listener_and_redirect_with_the_certificate(built: dict[str, Any]) -> None:
    """Req. 5.1/5.2: with a certificate, HTTPS on 443 and port 80 redirects to it."""
    elb = _client(built["env"], "elbv2")
    lb = elb.describe_load_balancers(Names=[f"{PREFIX}-alb"])["LoadBalancers"][0]
    listeners = {
        li["Port"]: li
        for li in elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
    }
    assert sorted(listeners) == [80, 443]
    redirect = listeners[80]["DefaultActions"][0]
    assert (redirect["Type"], redirect["RedirectConfig"]["Port"]) == ("redirect", "443")
    assert listeners[443]["Certificates"][0]["CertificateArn"] == built["certificate"]


def test_destroy_removes_the_stack_and_a_second_destroy_changes_nothing(
    built: dict[str, Any],
) -> None:
    """Last: the scenario's cleanup (destroy.yml twice; molecule/dashboard/tests)."""
    if not built["driving"]:
        pytest.skip("molecule test runs its own cleanup step after this verify step")
    _molecule(built["tmp"], "cleanup")
