#!/usr/bin/python
"""The versions an ECS service can run, and a switch back to one of them.

A "version" on ECS is a task definition revision of the service's family; its image tag is
what a person recognises, so both are listed. state=list only reads; state=rolled_back points
the service at the previous revision (or the one asked for) and leaves the waiting to
ecs_service_wait. A request for a revision that does not exist, or a rollback with nothing
before the current revision, fails before anything is changed.
"""

from __future__ import annotations

from typing import Any

DOCUMENTATION = r"""
module: ecs_release
short_description: List an ECS service's task definition revisions, or roll back to one
description:
  - Lists the ACTIVE revisions of the service's task definition family with their image,
    and which one the service runs.
  - With state=rolled_back, updates the service to the previous revision, or to I(revision)
    when given. Supports check mode (reports what would change).
options:
  cluster:
    description: Cluster name.
    type: str
    required: true
  service:
    description: Service name.
    type: str
    required: true
  state:
    description: list (read only) or rolled_back.
    type: str
    choices: [list, rolled_back]
    default: list
  revision:
    description:
      - Revision number, family:revision or image tag to roll back to.
      - Empty = the previous one.
    type: str
    default: ""
author: Crayon
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Back to the previous revision
  crayon.aws.ecs_release:
    cluster: crayon-production
    service: crayon-production-app
    state: rolled_back
"""

RETURN = r"""
current:
  description: family:revision the service ran before this call.
  returned: always
  type: str
target:
  description: family:revision the service runs (or would run, in check mode) after this call.
  returned: always
  type: str
versions:
  description:
    - ACTIVE revisions, newest first, each with revision, task_definition, image, tag,
      registered, current and line (a printable summary).
  returned: always
  type: list
  elements: dict
"""


from ansible_collections.crayon.aws.plugins.module_utils.common import (  # noqa: E402
    AWS_ERRORS,
    AnsibleAWSModule,
)
from ansible_collections.crayon.aws.plugins.module_utils.ecs import task_definition_arns  # noqa: E402


def short(arn: str) -> str:
    """family:revision from an ARN (or family:revision itself)."""
    return arn.split("/")[-1]


def pick_target(versions: list[dict[str, Any]], current: str, wanted: str) -> tuple[str, str]:
    """(family:revision to roll to, '') or ('', the reason there is none)."""
    names = [v["task_definition"] for v in versions]
    listing = ", ".join(f"{v['revision']} ({v['tag']})" for v in versions) or "none"
    if wanted:
        for v in versions:
            if wanted in (str(v["revision"]), v["task_definition"], v["tag"]):
                if v["task_definition"] == current:
                    return "", f"the service already runs {current}: nothing to roll back"
                return v["task_definition"], ""
        return "", f"no revision '{wanted}'. Pick one of: {listing}"
    older = [n for n in names if int(n.rsplit(":", 1)[1]) < int(current.rsplit(":", 1)[1])]
    if not older:
        return "", (
            f"nothing to roll back to: {current} is the oldest active revision. "
            f"Deploy a version instead (versions: {listing})"
        )
    return older[0], ""


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "cluster": {"type": "str", "required": True},
            "service": {"type": "str", "required": True},
            "state": {"type": "str", "choices": ["list", "rolled_back"], "default": "list"},
            "revision": {"type": "str", "default": ""},
        },
        supports_check_mode=True,
    )
    p = module.params
    ecs = module.client("ecs")
    try:
        found = ecs.describe_services(cluster=p["cluster"], services=[p["service"]])["services"]
        if not found or found[0].get("status") == "INACTIVE":
            module.fail_json(
                msg=f"No service {p['service']} in cluster {p['cluster']}: build it first "
                "(ansible-playbook playbooks/site.yml -i inventories/<env>)."
            )
        service = found[0]
        current = short(service["taskDefinition"])
        family = current.rsplit(":", 1)[0]
        arns = task_definition_arns(ecs, family, newest_first=True)
        versions = []
        for arn in arns[:25]:
            td = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
            image = td["containerDefinitions"][0].get("image", "")
            versions.append(
                {
                    "revision": td["revision"],
                    "task_definition": short(arn),
                    "image": image,
                    "tag": image.rsplit(":", 1)[-1] if ":" in image.split("/")[-1] else "",
                    "registered": str(td.get("registeredAt", "")),
                    "current": short(arn) == current,
                }
            )
        versions.sort(key=lambda v: -int(v["revision"]))
        for v in versions:
            mark = "*" if v["current"] else " "
            v["line"] = f"{mark} {v['revision']:>4}  {v['tag'] or v['image']}  {v['registered']}"
        result: dict[str, Any] = {
            "current": current,
            "target": current,
            "versions": versions,
            "running": service.get("runningCount", 0),
            "desired": service.get("desiredCount", 0),
            "events": [
                f"{e.get('createdAt')} {e.get('message')}" for e in service.get("events", [])[:5]
            ],
            "deployments": [
                {
                    "task_definition": short(d.get("taskDefinition", "")),
                    "status": d.get("status"),
                    "rollout": d.get("rolloutState", ""),
                    "running": d.get("runningCount", 0),
                }
                for d in service.get("deployments", [])
            ],
        }
        if p["state"] == "list":
            module.exit_json(changed=False, **result)
        target, why = pick_target(versions, current, p["revision"].strip())
        if not target:
            module.fail_json(msg=f"NOT ROLLED BACK: {why}. Nothing was changed.", **result)
        result["target"] = target
        if not module.check_mode:
            ecs.update_service(cluster=p["cluster"], service=p["service"], taskDefinition=target)
        module.exit_json(changed=True, **result)
    except AWS_ERRORS as e:
        module.fail_json_aws(e, msg="Could not read or update the ECS service")


if __name__ == "__main__":
    main()
