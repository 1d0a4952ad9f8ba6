#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module: a CloudWatch dashboard (neither amazon.aws nor community.aws has one)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: cloudwatch_dashboard
short_description: Manage a CloudWatch dashboard
description:
  - Creates, replaces or deletes one CloudWatch dashboard. The current body is read first and
    compared as JSON with the wanted one, so a second run reports no change.
  - Supports check mode and diff mode.
  - Built on the amazon.aws collection's AnsibleAWSModule helper (no collection ships a
    dashboard module).
version_added: "0.1.0"
author: Crayon deployment kit
options:
  name:
    description: Dashboard name.
    type: str
    required: true
  state:
    description: Whether the dashboard should exist.
    type: str
    choices: [present, absent]
    default: present
  body:
    description:
      - The dashboard body (widgets), as a dict or a JSON string. Required when present.
    type: raw
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Service dashboard
  crayon.aws.cloudwatch_dashboard:
    name: crayon-production
    body:
      widgets:
        - type: metric
          x: 0
          y: 0
          width: 12
          height: 6
          properties:
            title: CPU
            region: us-east-1
            metrics:
              - ["AWS/ECS", "CPUUtilization", "ClusterName", "crayon", "ServiceName", "crayon"]
"""

RETURN = r"""
dashboard_arn:
  description: ARN of the dashboard (empty when absent or in check mode before creation).
  returned: always
  type: str
validation_messages:
  description: Validation messages CloudWatch returned for the body.
  returned: when the body was written
  type: list
"""

import json  # noqa: E402
from typing import Any  # noqa: E402

from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry  # noqa: E402
from ansible_collections.crayon.aws.plugins.module_utils.common import (  # noqa: E402
    AWS_ERRORS,
    AnsibleAWSModule,
    BotoCoreError,
    ClientError,
)


def _current(module: AnsibleAWSModule, client: Any, name: str) -> dict[str, Any] | None:
    try:
        return dict(client.get_dashboard(DashboardName=name, aws_retry=True))
    except ClientError as e:
        code = e.response.get("Error", {}).get("Code", "")
        if code in ("ResourceNotFound", "ResourceNotFoundException", "ResourceNotFoundFault"):
            return None
        module.fail_json_aws(e, msg=f"Could not read dashboard {name}")
    except BotoCoreError as e:
        module.fail_json_aws(e, msg=f"Could not read dashboard {name}")


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            body=dict(type="raw"),
        ),
        supports_check_mode=True,
        required_if=[("state", "present", ["body"])],
    )
    name = module.params["name"]
    client = module.client("cloudwatch", retry_decorator=AWSRetry.jittered_backoff())
    current = _current(module, client, name)
    current_body = json.loads(current["DashboardBody"]) if current else None
    result: dict[str, Any] = {
        "changed": False,
        "dashboard_arn": (current or {}).get("DashboardArn", ""),
    }

    if module.params["state"] == "absent":
        if current is not None:
            result["changed"] = True
            if module._diff:
                result["diff"] = {"before": current_body, "after": {}}
            if not module.check_mode:
                try:
                    client.delete_dashboards(DashboardNames=[name], aws_retry=True)
                except AWS_ERRORS as e:
                    module.fail_json_aws(e, msg=f"Could not delete dashboard {name}")
            result["dashboard_arn"] = ""
        module.exit_json(**result)

    body = module.params["body"]
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError as e:
            module.fail_json(msg=f"body is not valid JSON: {e}")
    if not isinstance(body, dict) or not isinstance(body.get("widgets"), list):
        module.fail_json(msg="body must be a dashboard: a mapping with a 'widgets' list")

    if current_body != body:
        result["changed"] = True
        if module._diff:
            result["diff"] = {"before": current_body or {}, "after": body}
        if not module.check_mode:
            try:
                resp = client.put_dashboard(
                    DashboardName=name,
                    DashboardBody=json.dumps(body, sort_keys=True),
                    aws_retry=True,
                )
            except AWS_ERRORS as e:
                module.fail_json_aws(e, msg=f"Could not write dashboard {name}")
            result["validation_messages"] = resp.get("DashboardValidationMessages", [])
            written = _current(module, client, name)
            result["dashboard_arn"] = (written or {}).get("DashboardArn", "")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
