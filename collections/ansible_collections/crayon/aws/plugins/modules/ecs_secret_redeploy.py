#!/usr/bin/python
"""Force a new deployment of every ECS service whose tasks read a given secret."""

from __future__ import annotations

DOCUMENTATION = r"""
module: ecs_secret_redeploy
short_description: Roll the ECS services that use a secret, so new tasks read its new value
description:
  - ECS resolves a container's C(secrets) (valueFrom) when a task starts, and an app that
    fetches a secret by id reads it at start too, so a new secret value reaches running
    services only through new tasks. This finds the cluster's services whose task definition
    names the secret (a valueFrom ARN, or an environment value equal to its name or ARN)
    plus those listed in O(services), and forces a new deployment of each. ECS replaces the
    tasks as the service's deployment settings say (rolling, minimum healthy 100%), so the
    service keeps answering. Supports check mode (lists them, changes nothing).
options:
  cluster:
    description: Cluster name.
    type: str
    required: true
  secret_arn:
    description: ARN of the secret.
    type: str
    required: true
  secret_name:
    description: Name of the secret (matched against environment values).
    type: str
    default: ""
  services:
    description:
      - Services to redeploy in any case (one that reads the secret under a name it builds).
    type: list
    elements: str
    default: []
author: Crayon
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Roll the services that read the API key
  crayon.aws.ecs_secret_redeploy:
    cluster: shop-prod
    secret_arn: arn:aws:secretsmanager:eu-west-1:111122223333:secret:shop/prod/gemini-AbCdEf
    secret_name: shop/prod/gemini
"""

RETURN = r"""
redeployed:
  description: Services redeployed (or, in check mode, to be), with the task definition they run.
  returned: always
  type: list
  elements: dict
"""

from typing import Any  # noqa: E402

from ansible_collections.crayon.aws.plugins.module_utils.common import (  # noqa: E402
    AWS_ERRORS,
    AnsibleAWSModule,
)


def uses_secret(task_definition: dict[str, Any], arn: str, name: str) -> bool:
    """True when a container injects the secret (valueFrom, with or without a JSON key
    suffix) or gets its name or ARN in an environment value."""
    names = {arn, name} - {""}
    for container in task_definition.get("containerDefinitions", []):
        for secret in container.get("secrets", []):
            value_from = secret.get("valueFrom", "")
            if value_from in (arn, name) or value_from.startswith(arn + ":"):
                return True
        for env in container.get("environment", []):
            if env.get("value") in names:
                return True
    return False


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "cluster": {"type": "str", "required": True},
            "secret_arn": {"type": "str", "required": True, "no_log": False},
            "secret_name": {"type": "str", "default": "", "no_log": False},
            "services": {"type": "list", "elements": "str", "default": []},
        },
        supports_check_mode=True,
    )
    p = module.params
    ecs = module.client("ecs")
    try:
        arns: list[str] = []
        for page in ecs.get_paginator("list_services").paginate(cluster=p["cluster"]):
            arns += page["serviceArns"]
        chosen: list[dict[str, str]] = []
        for start in range(0, len(arns), 10):
            batch = ecs.describe_services(cluster=p["cluster"], services=arns[start : start + 10])
            for service in batch["services"]:
                if service.get("status") != "ACTIVE":
                    continue
                td = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])
                if service["serviceName"] in p["services"] or uses_secret(
                    td["taskDefinition"], p["secret_arn"], p["secret_name"]
                ):
                    chosen.append(
                        {
                            "service": service["serviceName"],
                            "task_definition": service["taskDefinition"].split("/")[-1],
                        }
                    )
        missing = set(p["services"]) - {c["service"] for c in chosen}
        if missing:
            module.fail_json(msg=f"no such service in {p['cluster']}: {', '.join(sorted(missing))}")
        if not module.check_mode:
            for c in chosen:
                ecs.update_service(
                    cluster=p["cluster"], service=c["service"], forceNewDeployment=True
                )
        module.exit_json(changed=bool(chosen), redeployed=chosen)
    except AWS_ERRORS as e:
        module.fail_json_aws(e, msg=f"Could not redeploy the services of {p['cluster']}")


if __name__ == "__main__":
    main()
