"""Alarms, the alert topic, the dashboard and log retention as AWS (moto) reports them.

moto stores alarms, SNS subscriptions and dashboards as given; it does not evaluate alarms
against metrics nor send e-mail, so only the configuration is checked.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from conftest import ACCOUNT, NAME

Aws = Callable[[str], Any]
TOPIC = f"arn:aws:sns:us-east-1:{ACCOUNT}:{NAME}-alerts"


@pytest.fixture(scope="module")
def alarms(aws: Aws) -> dict[str, dict[str, Any]]:
    found = aws("cloudwatch").describe_alarms(AlarmNamePrefix=NAME)["MetricAlarms"]
    return {a["AlarmName"].removeprefix(f"{NAME}-"): a for a in found}


def _dims(alarm: dict[str, Any]) -> dict[str, str]:
    return {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])}


def test_topic_has_an_email_subscription(aws: Aws) -> None:
    subs = aws("sns").list_subscriptions_by_topic(TopicArn=TOPIC)["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"]) for s in subs] == [("email", "ops@example.org")]


def test_every_alarm_notifies_the_topic(alarms: dict[str, dict[str, Any]]) -> None:
    assert set(alarms) == {
        "app-cpu-high",
        "app-memory-high",
        "app-no-healthy-target",
        "app-slow-responses",
        "alb-target-5xx-rate",
        "alb-elb-5xx",
        "app-app-errors",
        "app-replication-errors",
    }, "EC2 alarms must be skipped on the ECS target"
    for name, alarm in alarms.items():
        assert alarm["AlarmActions"] == [TOPIC], name
        assert alarm["OKActions"] == [TOPIC], name


@pytest.mark.parametrize(
    "name,metric", [("app-cpu-high", "CPUUtilization"), ("app-memory-high", "MemoryUtilization")]
)
def test_ecs_cpu_and_memory_above_80_for_10_minutes(
    alarms: dict[str, dict[str, Any]], name: str, metric: str
) -> None:
    a = alarms[name]
    assert (a["Namespace"], a["MetricName"], a["Statistic"]) == ("AWS/ECS", metric, "Average")
    assert a["ComparisonOperator"] == "GreaterThanThreshold"
    assert a["Threshold"] == 80
    assert a["Period"] * a["EvaluationPeriods"] == 600
    assert _dims(a) == {"ClusterName": NAME, "ServiceName": f"{NAME}-app"}


def _alb_dims(aws: Aws) -> tuple[str, str]:
    lb = next(
        x
        for x in aws("elbv2").describe_load_balancers()["LoadBalancers"]
        if x["LoadBalancerName"].startswith(NAME)
    )
    tg = aws("elbv2").describe_target_groups(LoadBalancerArn=lb["LoadBalancerArn"])["TargetGroups"][
        0
    ]
    return lb["LoadBalancerArn"].split(":loadbalancer/")[1], tg["TargetGroupArn"].split(":")[-1]


def test_healthy_hosts_below_one(alarms: dict[str, dict[str, Any]], aws: Aws) -> None:
    a = alarms["app-no-healthy-target"]
    lb_dim, tg_dim = _alb_dims(aws)
    assert (a["Namespace"], a["MetricName"]) == ("AWS/ApplicationELB", "HealthyHostCount")
    assert a["ComparisonOperator"] == "LessThanThreshold"
    assert a["Threshold"] == 1
    assert _dims(a) == {"LoadBalancer": lb_dim, "TargetGroup": tg_dim}
    assert a["TreatMissingData"] == "breaching"


def test_response_time_above_5_s_for_2_periods(alarms: dict[str, dict[str, Any]]) -> None:
    a = alarms["app-slow-responses"]
    assert a["MetricName"] == "TargetResponseTime"
    assert a["ComparisonOperator"] == "GreaterThanThreshold"
    assert a["Threshold"] == 5
    assert a["EvaluationPeriods"] == 2


def test_5xx_rate_and_elb_5xx(alarms: dict[str, dict[str, Any]], aws: Aws) -> None:
    lb_dim, _ = _alb_dims(aws)
    rate = alarms["alb-target-5xx-rate"]
    metrics = {m["Id"]: m for m in rate["Metrics"]}
    assert metrics["m1"]["MetricStat"]["Metric"]["MetricName"] == "HTTPCode_Target_5XX_Count"
    assert metrics["m2"]["MetricStat"]["Metric"]["MetricName"] == "RequestCount"
    assert metrics["m1"]["MetricStat"]["Metric"]["Dimensions"] == [
        {"Name": "LoadBalancer", "Value": lb_dim}
    ]
    assert "100" in metrics["e1"]["Expression"] and metrics["e1"]["ReturnData"] is True
    assert rate["Threshold"] == 5
    elb = alarms["alb-elb-5xx"]
    assert (elb["MetricName"], elb["Statistic"]) == ("HTTPCode_ELB_5XX_Count", "Sum")


@pytest.mark.parametrize(
    "name,metric,threshold",
    [("app-app-errors", "Errors", 5), ("app-replication-errors", "ReplicationErrors", 1)],
)
def test_app_metrics(
    alarms: dict[str, dict[str, Any]], name: str, metric: str, threshold: float
) -> None:
    a = alarms[name]
    # The app's embedded metric format lines (app/metrics/emf.py): namespace and dimension.
    assert (a["Namespace"], a["MetricName"], a["Statistic"]) == ("Crayon", metric, "Sum")
    assert _dims(a) == {"Service": "crayon"}
    assert a["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert a["Threshold"] == threshold
    assert a["TreatMissingData"] == "notBreaching"


def test_dashboard_shows_service_alb_app_and_alarms(aws: Aws) -> None:
    body = json.loads(aws("cloudwatch").get_dashboard(DashboardName=NAME)["DashboardBody"])
    text = json.dumps(body)
    for needle in (
        "AWS/ECS",
        "AWS/ApplicationELB",
        "AnalysisCount",
        "ProcessingMs",
        "ReplicationErrors",
        "AWS/Billing",
        "AWS/S3",
    ):
        assert needle in text, needle
    alarm_widget = next(w for w in body["widgets"] if w["type"] == "alarm")
    assert len(alarm_widget["properties"]["alarms"]) == 8


def test_log_retention(aws: Aws) -> None:
    groups = aws("logs").describe_log_groups(logGroupNamePrefix=f"/ecs/{NAME}")["logGroups"]
    assert [(g["logGroupName"], g["retentionInDays"]) for g in groups] == [(f"/ecs/{NAME}-app", 7)]
