#!/usr/bin/python
"""Container Insights on an ECS cluster (community.aws.ecs_cluster has no option for it)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: ecs_cluster_settings
short_description: Set an ECS cluster's settings (Container Insights)
description:
  - Reads the cluster's settings and calls UpdateCluster with the given settings when they
    differ. Supports check mode.
options:
  cluster:
    description: Cluster name or ARN.
    type: str
    required: true
  container_insights:
    description: enabled, enhanced or disabled.
    type: str
    choices: [enabled, enhanced, disabled]
    default: enabled
author: Crayon
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Container Insights on
  crayon.aws.ecs_cluster_settings:
    cluster: crayon-production
    container_insights: enabled
"""

RETURN = r"""
settings:
  description: The cluster's settings after the call.
  returned: always
  type: list
  elements: dict
"""


from ansible_collections.crayon.aws.plugins.module_utils.common import (  # noqa: E402
    AWS_ERRORS,
    AnsibleAWSModule,
)


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "cluster": {"type": "str", "required": True},
            "container_insights": {
                "type": "str",
                "choices": ["enabled", "enhanced", "disabled"],
                "default": "enabled",
            },
        },
        supports_check_mode=True,
    )
    ecs = module.client("ecs")
    cluster = module.params["cluster"]
    want = module.params["container_insights"]
    try:
        found = ecs.describe_clusters(clusters=[cluster], include=["SETTINGS"])["clusters"]
        if not found or found[0].get("status") != "ACTIVE":
            module.fail_json(msg=f"ECS cluster {cluster} does not exist or is not active")
        settings = found[0].get("settings", [])
        have = {s["name"]: s["value"] for s in settings}.get("containerInsights", "disabled")
        if have == want:
            module.exit_json(changed=False, settings=settings)
        if module.check_mode:
            module.exit_json(changed=True, settings=settings)
        updated = ecs.update_cluster(
            cluster=cluster, settings=[{"name": "containerInsights", "value": want}]
        )["cluster"]
        module.exit_json(changed=True, settings=updated.get("settings", []))
    except AWS_ERRORS as e:
        module.fail_json_aws(e, msg="Could not update the cluster settings")


if __name__ == "__main__":
    main()
