"""After destroy.yml (twice): nothing of the dashboard's stack remains.

Seed 002 declares no buckets or secrets (its data lives in the backend API) and no GitHub
deploy role, so the stack leaves nothing behind: no data of its own to keep.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from conftest import PREFIX

Aws = Callable[[str], Any]


def test_compute_network_registry_and_logs_are_gone(aws: Aws) -> None:
    ecs, elb, ec2 = aws("ecs"), aws("elbv2"), aws("ec2")
    assert all(
        c["status"] == "INACTIVE" for c in ecs.describe_clusters(clusters=[PREFIX])["clusters"]
    )
    assert not [
        b
        for b in elb.describe_load_balancers()["LoadBalancers"]
        if b["LoadBalancerName"].startswith(PREFIX)
    ]
    assert not [
        t
        for t in elb.describe_target_groups()["TargetGroups"]
        if t["TargetGroupName"].startswith(PREFIX)
    ]
    assert ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [PREFIX]}])["Vpcs"] == []
    assert aws("ecr").describe_repositories()["repositories"] == []
    assert (
        aws("logs").describe_log_groups(logGroupNamePrefix="/ecs/vibejudge-dashboard")["logGroups"]
        == []
    )


def test_roles_alarms_topic_and_budget_are_gone(aws: Aws) -> None:
    assert not [r for r in aws("iam").list_roles()["Roles"] if r["RoleName"].startswith(PREFIX)]
    assert aws("cloudwatch").describe_alarms(AlarmNamePrefix=PREFIX)["MetricAlarms"] == []
    assert not [t for t in aws("sns").list_topics()["Topics"] if f":{PREFIX}-" in t["TopicArn"]]
    budgets = aws("budgets").describe_budgets(AccountId="123456789012").get("Budgets", [])
    assert not [b for b in budgets if b["BudgetName"].startswith(PREFIX)]
