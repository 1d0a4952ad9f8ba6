#!/usr/bin/python
"""VPC Flow Logs on one VPC (no Ansible module manages them)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: vpc_flow_log
short_description: Create or delete the flow log of a VPC
description:
  - Finds the VPC's flow log by its Name tag (DescribeFlowLogs), creates it when missing,
    replaces it when its destination, traffic type or role differ (flow logs cannot be
    modified in place), deletes it when I(state=absent). Supports check mode.
options:
  name:
    description: Name tag of the flow log; the module finds it again by this tag.
    type: str
    required: true
  vpc_id:
    description: The VPC. Required when I(state=present); without it, absent looks in every VPC.
    type: str
  destination_type:
    description: cloud-watch-logs or s3.
    type: str
    choices: [cloud-watch-logs, s3]
    default: cloud-watch-logs
  log_group_name:
    description: CloudWatch Logs group (destination_type cloud-watch-logs).
    type: str
  role_arn:
    description: IAM role that lets the flow-log service write to the log group.
    type: str
  s3_arn:
    description: Bucket ARN with an optional prefix (destination_type s3).
    type: str
  traffic_type:
    description: ACCEPT, REJECT or ALL.
    type: str
    choices: [ACCEPT, REJECT, ALL]
    default: ALL
  max_aggregation_interval:
    description: 60 or 600 seconds.
    type: int
    choices: [60, 600]
    default: 600
  tags:
    description: Extra tags.
    type: dict
    default: {}
  state:
    description: present or absent.
    type: str
    choices: [present, absent]
    default: present
author: Crayon
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Flow logs to CloudWatch Logs
  crayon.aws.vpc_flow_log:
    name: crayon-production-flow-logs
    vpc_id: vpc-0123456789abcdef0
    log_group_name: /vpc/crayon-production/flow-logs
    role_arn: arn:aws:iam::123456789012:role/crayon-production-flow-logs
"""

RETURN = r"""
flow_log_id:
  description: Id of the flow log (empty when absent).
  returned: always
  type: str
"""

from typing import Any  # noqa: E402

from ansible_collections.crayon.aws.plugins.module_utils.common import (  # noqa: E402
    AWS_ERRORS,
    AnsibleAWSModule,
)
from ansible_collections.crayon.aws.plugins.module_utils.flow_logs import same  # noqa: E402


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "name": {"type": "str", "required": True},
            "vpc_id": {"type": "str"},
            "destination_type": {
                "type": "str",
                "choices": ["cloud-watch-logs", "s3"],
                "default": "cloud-watch-logs",
            },
            "log_group_name": {"type": "str"},
            "role_arn": {"type": "str"},
            "s3_arn": {"type": "str"},
            "traffic_type": {
                "type": "str",
                "choices": ["ACCEPT", "REJECT", "ALL"],
                "default": "ALL",
            },
            "max_aggregation_interval": {"type": "int", "choices": [60, 600], "default": 600},
            "tags": {"type": "dict", "default": {}},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        },
        required_if=[
            ("state", "present", ["vpc_id"]),
            ("destination_type", "cloud-watch-logs", ["log_group_name", "role_arn"]),
            ("destination_type", "s3", ["s3_arn"]),
        ],
        supports_check_mode=True,
    )
    p = module.params
    ec2 = module.client("ec2")
    try:
        filters = [{"Name": "tag:Name", "Values": [p["name"]]}]
        if p["vpc_id"]:
            filters.append({"Name": "resource-id", "Values": [p["vpc_id"]]})
        found = ec2.describe_flow_logs(Filters=filters)["FlowLogs"]
        keep = [f for f in found if p["state"] == "present" and same(f, p)]
        drop = [f["FlowLogId"] for f in found if f not in keep]
        create = p["state"] == "present" and not keep
        if not drop and not create:
            module.exit_json(changed=False, flow_log_id=keep[0]["FlowLogId"] if keep else "")
        if module.check_mode:
            module.exit_json(changed=True, flow_log_id=keep[0]["FlowLogId"] if keep else "")
        if drop:
            ec2.delete_flow_logs(FlowLogIds=drop)
        if not create:
            module.exit_json(changed=True, flow_log_id=keep[0]["FlowLogId"] if keep else "")
        tags = [{"Key": "Name", "Value": p["name"]}]
        tags += [{"Key": k, "Value": str(v)} for k, v in sorted(p["tags"].items()) if k != "Name"]
        args: dict[str, Any] = {
            "ResourceIds": [p["vpc_id"]],
            "ResourceType": "VPC",
            "TrafficType": p["traffic_type"],
            "LogDestinationType": p["destination_type"],
            "MaxAggregationInterval": p["max_aggregation_interval"],
            "TagSpecifications": [{"ResourceType": "vpc-flow-log", "Tags": tags}],
        }
        if p["destination_type"] == "s3":
            args["LogDestination"] = p["s3_arn"]
        else:
            args["LogGroupName"] = p["log_group_name"]
            args["DeliverLogsPermissionArn"] = p["role_arn"]
        made = ec2.create_flow_logs(**args)
        if made.get("Unsuccessful"):
            module.fail_json(msg=f"Flow log not created: {made['Unsuccessful']}")
        module.exit_json(changed=True, flow_log_id=made["FlowLogIds"][0])
    except AWS_ERRORS as e:
        module.fail_json_aws(e, msg=f"Could not manage the flow log {p['name']}")


if __name__ == "__main__":
    main()
