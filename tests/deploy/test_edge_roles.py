"""aws_cdn, aws_monitoring and aws_budget against a real moto server: build, re-run with no
change, check mode, drift detection, bad values refused in words, removal."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from tests.support.moto_server import MotoServer, free_port
from tests.support.playbook import ROOT, run_playbook

pytestmark = pytest.mark.slow  # real ansible-playbook runs

PLAYBOOK = ROOT / "tests" / "deploy" / "playbooks" / "edge_roles.yml"
ARN = "arn:aws:elasticloadbalancing:us-east-1:123456789012"
VARS: dict[str, Any] = {
    "crayon_name": "crayon",
    "crayon_env": "edgetest",
    "alert_email": "ops@example.org",
    "aws_ecs_alb_dns_name": "crayon-edgetest-alb-1.us-east-1.elb.amazonaws.com",
    "aws_ecs_alb_arn": f"{ARN}:loadbalancer/app/crayon-edgetest-alb/50dc6c495c0c9188",
    "aws_ecs_target_group_arn": f"{ARN}:targetgroup/crayon-edgetest-tg/73e2d6bc24d8a067",
}
# aws_secrets owns this secret in the full stack; here the test plays that role.
ORIGIN_SECRET_ID = "crayon/edgetest/origin-verify"
ORIGIN_SECRET = "edge-test-origin-verify-0123456789"


@pytest.fixture(scope="module")
def stack(moto: MotoServer) -> dict[str, str]:
    moto.reset()
    env = moto.env()
    _client(env, "secretsmanager").create_secret(Name=ORIGIN_SECRET_ID, SecretString=ORIGIN_SECRET)
    first = run_playbook(PLAYBOOK, env, VARS)
    assert first.failed == 0 and first.returncode == 0, first.output[-4000:]
    assert first.changed > 0
    return env


def _client(env: dict[str, str], service: str) -> Any:
    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    ).client(service, endpoint_url=env["AWS_ENDPOINT_URL"])


def test_second_run_and_check_mode_change_nothing(stack: dict[str, str]) -> None:
    again = run_playbook(PLAYBOOK, stack, VARS)
    assert again.returncode == 0, again.output[-4000:]
    assert again.changed == 0, again.changed_tasks()
    check = run_playbook(PLAYBOOK, stack, VARS, check=True)
    assert check.returncode == 0, check.output[-4000:]
    assert check.changed == 0, check.changed_tasks()


def test_check_mode_reports_drift(stack: dict[str, str]) -> None:
    drift = run_playbook(
        PLAYBOOK,
        stack,
        {
            **VARS,
            "aws_cdn_cached_paths": [{"path": "/static/*", "ttl": 600}],
            "aws_monitoring_5xx_rate_percent": 7,
        },
        check=True,
    )
    assert drift.returncode == 0, drift.output[-4000:]
    changed = drift.changed_tasks()
    assert "aws_cdn : CloudFront distribution" in changed
    assert "aws_monitoring : Alarms on metric math (written only when they differ)" in changed


def test_resources_are_there(stack: dict[str, str]) -> None:
    alarms = _client(stack, "cloudwatch").describe_alarms(AlarmNamePrefix="crayon-edgetest")
    # The load balancer's two, and the four every service gets (its declaration names no
    # metric of its own here).
    assert {a["AlarmName"].removeprefix("crayon-edgetest-") for a in alarms["MetricAlarms"]} == {
        "alb-target-5xx-rate",
        "alb-elb-5xx",
        "app-cpu-high",
        "app-memory-high",
        "app-no-healthy-target",
        "app-slow-responses",
    }
    dists = _client(stack, "cloudfront").list_distributions()["DistributionList"]["Items"]
    assert [d["Origins"]["Items"][0]["DomainName"] for d in dists] == [VARS["aws_ecs_alb_dns_name"]]
    config = _client(stack, "cloudfront").get_distribution_config(Id=dists[0]["Id"])
    headers = config["DistributionConfig"]["Origins"]["Items"][0]["CustomHeaders"]["Items"]
    assert {"HeaderName": "X-Origin-Verify", "HeaderValue": ORIGIN_SECRET} in headers
    budget = _client(stack, "budgets").describe_budget(
        AccountId="123456789012", BudgetName="crayon-edgetest-monthly"
    )["Budget"]
    assert float(budget["BudgetLimit"]["Amount"]) == 50


@pytest.mark.parametrize(
    "role,bad,words",
    [
        ("aws_budget", {"aws_budget_limit_usd": -5}, "must be a positive amount"),
        ("aws_budget", {"aws_budget_thresholds_percent": [0, 100]}, "positive percentages"),
        ("aws_monitoring", {"aws_monitoring_cpu_percent": 150}, "the CPU threshold a percentage"),
        ("aws_monitoring", {"aws_monitoring_target": "gce"}, "must be one of"),
        (
            "aws_cdn",
            {"aws_cdn_streams": [{"path": "/api/events", "heartbeat_seconds": 60}]},
            "shorter than the origin read timeout (60 s)",
        ),
        ("aws_cdn", {"aws_cdn_origin_secret": "short"}, "at least 16 characters"),
    ],
)
def test_bad_values_are_refused_in_words(role: str, bad: dict[str, Any], words: str) -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # any AWS call would fail, not the check
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_URL": dead,
        "AWS_ENDPOINT_URL": dead,
    }
    extra = {**VARS, "aws_cdn_origin_secret": "x" * 20, **bad, "edge_roles": [role]}
    run = run_playbook(PLAYBOOK, env, extra)
    assert run.returncode != 0
    assert words in " ".join(run.output.split()), run.output[-3000:]


def test_removal_is_complete_and_idempotent(stack: dict[str, str]) -> None:
    gone = run_playbook(PLAYBOOK, stack, {**VARS, "edge_state": "absent"})
    assert gone.returncode == 0, gone.output[-4000:]
    assert gone.changed > 0
    again = run_playbook(PLAYBOOK, stack, {**VARS, "edge_state": "absent"})
    assert again.changed == 0, again.changed_tasks()
    cw = _client(stack, "cloudwatch")
    assert cw.describe_alarms(AlarmNamePrefix="crayon-edgetest")["MetricAlarms"] == []
    assert cw.list_dashboards()["DashboardEntries"] == []
    assert _client(stack, "cloudfront").list_distributions()["DistributionList"].get("Items") in (
        None,
        [],
    )
    assert _client(stack, "budgets").describe_budgets(AccountId="123456789012").get("Budgets") in (
        None,
        [],
    )
