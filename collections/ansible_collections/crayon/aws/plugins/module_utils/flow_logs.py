"""When an existing VPC flow log is the one wanted: the rule vpc_flow_log keeps or replaces by,
and the one audit_diff reports with, so the two never disagree."""

from __future__ import annotations

from typing import Any


def same(have: dict[str, Any], want: dict[str, Any]) -> bool:
    """Whether the flow log AWS describes (`have`) matches the module options (`want`)."""
    if have.get("ResourceId") != want["vpc_id"] or have.get("TrafficType") != want["traffic_type"]:
        return False
    if have.get("LogDestinationType", "cloud-watch-logs") != want["destination_type"]:
        return False
    interval = int(want.get("max_aggregation_interval") or 600)
    if int(have.get("MaxAggregationInterval") or 600) != interval:
        return False
    if want["destination_type"] == "s3":
        return bool(have.get("LogDestination") == want["s3_arn"])
    return bool(
        have.get("LogGroupName") == want["log_group_name"]
        and have.get("DeliverLogsPermissionArn") == want["role_arn"]
    )
