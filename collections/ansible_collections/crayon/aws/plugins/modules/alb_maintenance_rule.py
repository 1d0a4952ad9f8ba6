#!/usr/bin/python
"""Maintenance mode on ECS: a fixed-response rule in front of every rule of the stack's ALB."""

from __future__ import annotations

DOCUMENTATION = r"""
module: alb_maintenance_rule
short_description: Serve a maintenance page from the ALB while the app is down on purpose
description:
  - Adds (present) or removes (absent) one listener rule at a given priority on every listener
    of the load balancer that forwards traffic (a redirect-only listener, HTTP to HTTPS, is
    left alone). The rule matches every path and answers 503 with the given page, so viewers
    see the page instead of errors while the service is stopped or migrating.
  - The ALB's target-group health checks go to the tasks directly and are not affected.
  - aws_ecs keeps rules that forward to no target group of the stack, so a site.yml run while
    maintenance is on leaves this rule in place.
options:
  load_balancer:
    description: Name of the application load balancer.
    type: str
    required: true
  state:
    description: present shows the page; absent removes the rule.
    type: str
    choices: [present, absent]
    default: present
  priority:
    description: Rule priority; lower is evaluated first (1 is before every service's rule).
    type: int
    default: 1
  page:
    description: HTML body of the 503 answer (the ALB takes at most 1024 bytes).
    type: str
    default: "<h1>Down for maintenance</h1><p>Back soon.</p>"
author: Crayon
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Maintenance page on
  crayon.aws.alb_maintenance_rule:
    load_balancer: crayon-production-alb
    region: eu-west-1
    state: present
"""

RETURN = r"""
listeners:
  description: The listener ARNs the rule is on (present) or was removed from (absent).
  type: list
  elements: str
  returned: always
"""

from typing import Any  # noqa: E402

from ansible_collections.crayon.aws.plugins.module_utils.common import (  # noqa: E402
    AWS_ERRORS,
    AnsibleAWSModule,
    is_missing,
)


def _forwarding_listeners(elb: Any, lb_arn: str) -> list[str]:
    listeners = elb.describe_listeners(LoadBalancerArn=lb_arn)["Listeners"]
    return [
        ln["ListenerArn"]
        for ln in listeners
        if not all(a.get("Type") == "redirect" for a in ln.get("DefaultActions", []))
    ]


def _rule_at(elb: Any, listener: str, priority: int) -> dict[str, Any] | None:
    for rule in elb.describe_rules(ListenerArn=listener)["Rules"]:
        if rule.get("Priority") == str(priority):
            return rule
    return None


def _wanted_action(page: str) -> dict[str, Any]:
    return {
        "Type": "fixed-response",
        "FixedResponseConfig": {
            "StatusCode": "503",
            "ContentType": "text/html",
            "MessageBody": page,
        },
    }


def _is_ours(rule: dict[str, Any]) -> bool:
    return [a.get("Type") for a in rule.get("Actions", [])] == ["fixed-response"]


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "load_balancer": {"type": "str", "required": True},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "priority": {"type": "int", "default": 1},
            "page": {"type": "str", "default": "<h1>Down for maintenance</h1><p>Back soon.</p>"},
        },
        supports_check_mode=True,
    )
    p = module.params
    if len(p["page"].encode()) > 1024:
        module.fail_json(msg="page: the ALB answers with at most 1024 bytes; shorten the page")
    elb = module.client("elbv2")
    try:
        _apply(module, elb)
    except AWS_ERRORS as e:
        if is_missing(e, "LoadBalancerNotFound", "LoadBalancerNotFoundException"):
            module.fail_json(
                msg=f"No load balancer {p['load_balancer']}: build the stack first (site.yml)."
            )
        module.fail_json_aws(e, msg=f"Could not set the maintenance rule on {p['load_balancer']}")


def _apply(module: AnsibleAWSModule, elb: Any) -> None:
    p = module.params
    lbs = elb.describe_load_balancers(Names=[p["load_balancer"]])["LoadBalancers"]
    listeners = _forwarding_listeners(elb, lbs[0]["LoadBalancerArn"])
    action = _wanted_action(p["page"])
    changed = False
    for listener in listeners:
        rule = _rule_at(elb, listener, p["priority"])
        if rule is not None and not _is_ours(rule):
            module.fail_json(
                msg=(
                    f"Priority {p['priority']} on {listener} holds another rule "
                    f"({rule['RuleArn']}); choose a free priority."
                )
            )
        if p["state"] == "absent":
            if rule is not None:
                changed = True
                if not module.check_mode:
                    elb.delete_rule(RuleArn=rule["RuleArn"])
            continue
        if rule is None:
            changed = True
            if not module.check_mode:
                elb.create_rule(
                    ListenerArn=listener,
                    Priority=p["priority"],
                    Conditions=[{"Field": "path-pattern", "Values": ["/*"]}],
                    Actions=[action],
                )
        elif rule["Actions"][0].get("FixedResponseConfig") != action["FixedResponseConfig"]:
            changed = True
            if not module.check_mode:
                elb.modify_rule(RuleArn=rule["RuleArn"], Actions=[action])
    module.exit_json(changed=changed, listeners=listeners)


if __name__ == "__main__":
    main()
