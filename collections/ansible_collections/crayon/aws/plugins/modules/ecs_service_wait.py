#!/usr/bin/python
"""Wait for an ECS service to reach a steady state on a given task definition, failing fast.

community.aws.ecs_service only waits on delete. This module polls DescribeServices and
returns as soon as the deployment has finished, and fails as soon as it cannot finish: the
deployment is FAILED (the circuit breaker gave up and rolled back), the service went back to
another task definition, or new tasks keep stopping. On failure it reports the service's
latest events and the stopped tasks' reasons, so nobody waits 30 minutes to learn why.
"""

from __future__ import annotations

import time
from typing import Any

DOCUMENTATION = r"""
module: ecs_service_wait
short_description: Wait for an ECS deployment to finish, or fail fast with the reason
description:
  - Polls the service until its only deployment runs the wanted task definition with the
    desired number of running tasks (rollout COMPLETED), or fails early when the deployment
    FAILED, was rolled back, or its tasks keep stopping. Read-only.
options:
  cluster:
    description: Cluster name.
    type: str
    required: true
  service:
    description: Service name.
    type: str
    required: true
  task_definition:
    description: The family:revision (or ARN) the service must settle on.
    type: str
    required: true
  timeout:
    description: Seconds before giving up.
    type: int
    default: 600
  poll_interval:
    description: Seconds between two looks.
    type: int
    default: 5
  max_stopped_tasks:
    description: Fail once this many tasks of the new task definition have stopped.
    type: int
    default: 2
author: Crayon
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Wait for the new revision
  crayon.aws.ecs_service_wait:
    cluster: crayon-production
    service: crayon-production-app
    task_definition: crayon-production-app:42
    timeout: 600
"""

RETURN = r"""
seconds:
  description: Seconds waited.
  returned: always
  type: float
events:
  description: Latest service events, newest first.
  returned: always
  type: list
  elements: str
stopped_reasons:
  description: Why recent tasks of the new task definition stopped.
  returned: always
  type: list
  elements: str
"""


from ansible_collections.crayon.aws.plugins.module_utils.common import (  # noqa: E402
    AWS_ERRORS,
    AnsibleAWSModule,
)


def _same_td(a: str, b: str) -> bool:
    """family:revision and full ARNs compare equal when they name the same revision."""
    return a.split("/")[-1] == b.split("/")[-1]


def assess(service: dict[str, Any], wanted: str, stopped: int, max_stopped: int) -> tuple[str, str]:
    """('done' | 'wait' | 'failed', why) for one look at the service."""
    deployments = service.get("deployments", [])
    primary = next((d for d in deployments if d.get("status") == "PRIMARY"), None)
    if primary is None:
        return "wait", "no primary deployment yet"
    if primary.get("rolloutState") == "FAILED":
        return "failed", primary.get("rolloutStateReason", "deployment failed")
    if not _same_td(service.get("taskDefinition", ""), wanted):
        return "failed", (
            f"the service runs {service.get('taskDefinition')} instead of {wanted} "
            "(rolled back, or another deploy replaced this one)"
        )
    if stopped >= max_stopped:
        return "failed", f"{stopped} tasks of {wanted} stopped"
    running, desired = service.get("runningCount", 0), service.get("desiredCount", 0)
    if (
        len(deployments) == 1
        and primary.get("rolloutState", "COMPLETED") == "COMPLETED"
        and running == desired
    ):
        return "done", f"{running}/{desired} tasks running {wanted}"
    return (
        "wait",
        f"{running}/{desired} running, {len(deployments)} deployments, "
        f"rollout {primary.get('rolloutState')}",
    )


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "cluster": {"type": "str", "required": True},
            "service": {"type": "str", "required": True},
            "task_definition": {"type": "str", "required": True},
            "timeout": {"type": "int", "default": 600},
            "poll_interval": {"type": "int", "default": 5},
            "max_stopped_tasks": {"type": "int", "default": 2},
        },
        supports_check_mode=True,
    )
    p = module.params
    ecs = module.client("ecs")
    started = time.monotonic()
    events: list[str] = []
    reasons: list[str] = []
    why = ""
    try:
        while True:
            found = ecs.describe_services(cluster=p["cluster"], services=[p["service"]])["services"]
            if not found:
                module.fail_json(msg=f"service {p['service']} not found in {p['cluster']}")
            service = found[0]
            events = [
                f"{e.get('createdAt')} {e.get('message')}" for e in service.get("events", [])[:10]
            ]
            stopped_arns = ecs.list_tasks(
                cluster=p["cluster"], serviceName=p["service"], desiredStatus="STOPPED"
            ).get("taskArns", [])
            reasons = []
            if stopped_arns:
                for task in ecs.describe_tasks(cluster=p["cluster"], tasks=stopped_arns[:20])[
                    "tasks"
                ]:
                    if _same_td(task.get("taskDefinitionArn", ""), p["task_definition"]):
                        containers = "; ".join(
                            f"{c.get('name')}: exit {c.get('exitCode')} "
                            f"{c.get('reason', '')}".strip()
                            for c in task.get("containers", [])
                        )
                        reasons.append(f"{task.get('stoppedReason', '')} [{containers}]")
            verdict, why = assess(
                service, p["task_definition"], len(reasons), p["max_stopped_tasks"]
            )
            waited = round(time.monotonic() - started, 1)
            if verdict == "done":
                module.exit_json(
                    changed=False, seconds=waited, events=events, stopped_reasons=reasons, msg=why
                )
            if verdict == "failed":
                module.fail_json(
                    msg=f"Deploy of {p['task_definition']} failed after {waited}s: {why}",
                    seconds=waited,
                    events=events,
                    stopped_reasons=reasons,
                )
            if waited >= p["timeout"]:
                module.fail_json(
                    msg=f"Deploy of {p['task_definition']} did not settle "
                    f"within {p['timeout']}s: {why}",
                    seconds=waited,
                    events=events,
                    stopped_reasons=reasons,
                )
            time.sleep(p["poll_interval"])
    except AWS_ERRORS as e:
        module.fail_json_aws(e, msg="Could not read the service")


if __name__ == "__main__":
    main()
