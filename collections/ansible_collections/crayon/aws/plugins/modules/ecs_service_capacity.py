#!/usr/bin/python
"""The capacity-provider strategy of an existing ECS service."""

from __future__ import annotations

DOCUMENTATION = r"""
module: ecs_service_capacity
short_description: Set the capacity-provider strategy of an existing ECS service
description:
  - Calls UpdateService with the strategy (and a new deployment, which a strategy change
    needs) when it differs from the service's. Supports check mode.
  - community.aws.ecs_service refuses any strategy on a service that reports a launch type
    (services made before capacity providers, and every service moto makes), so the strategy
    of an existing service is set here; ecs_service still sets it when it creates the service.
options:
  cluster:
    description: Cluster name.
    type: str
    required: true
  service:
    description: Service name.
    type: str
    required: true
  capacity_provider_strategy:
    description: Items with capacity_provider (FARGATE or FARGATE_SPOT), base and weight.
    type: list
    elements: dict
    required: true
author: Crayon
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: One FARGATE task, then four on Spot for each one on FARGATE
  crayon.aws.ecs_service_capacity:
    cluster: crayon-production
    service: crayon-production-dash
    capacity_provider_strategy:
      - {capacity_provider: FARGATE, base: 1, weight: 1}
      - {capacity_provider: FARGATE_SPOT, base: 0, weight: 4}
"""

RETURN = r"""
capacity_provider_strategy:
  description: The service's strategy after the call, in the API's shape.
  returned: always
  type: list
  elements: dict
"""


from ansible_collections.crayon.aws.plugins.module_utils.common import (  # noqa: E402
    AWS_ERRORS,
    AnsibleAWSModule,
)


def _api(items: list[dict]) -> list[dict]:
    return sorted(
        (
            {
                "capacityProvider": i["capacity_provider"],
                "base": int(i.get("base", 0)),
                "weight": int(i.get("weight", 0)),
            }
            for i in items
        ),
        key=lambda i: i["capacityProvider"],
    )


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "cluster": {"type": "str", "required": True},
            "service": {"type": "str", "required": True},
            "capacity_provider_strategy": {"type": "list", "elements": "dict", "required": True},
        },
        supports_check_mode=True,
    )
    p = module.params
    ecs = module.client("ecs")
    want = _api(p["capacity_provider_strategy"])
    try:
        found = ecs.describe_services(cluster=p["cluster"], services=[p["service"]])["services"]
        if not found or found[0].get("status") != "ACTIVE":
            module.fail_json(msg=f"ECS service {p['service']} does not exist in {p['cluster']}")
        have = sorted(
            (
                {
                    "capacityProvider": s["capacityProvider"],
                    "base": s.get("base", 0),
                    "weight": s.get("weight", 0),
                }
                for s in found[0].get("capacityProviderStrategy", [])
            ),
            key=lambda i: i["capacityProvider"],
        )
        if have == want:
            module.exit_json(changed=False, capacity_provider_strategy=have)
        if module.check_mode:
            module.exit_json(changed=True, capacity_provider_strategy=want)
        ecs.update_service(
            cluster=p["cluster"],
            service=p["service"],
            capacityProviderStrategy=want,
            forceNewDeployment=True,
        )
    except AWS_ERRORS as e:
        module.fail_json_aws(e, msg=f"Could not set the capacity providers of {p['service']}")
    module.exit_json(changed=True, capacity_provider_strategy=want)


if __name__ == "__main__":
    main()
