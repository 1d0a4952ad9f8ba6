#!/usr/bin/python
"""Attributes of a load balancer (access logs), set apart from its listeners."""

from __future__ import annotations

DOCUMENTATION = r"""
module: elb_lb_attributes
short_description: Set attributes of an Elastic Load Balancing v2 load balancer
description:
  - Reads the load balancer's attributes and calls ModifyLoadBalancerAttributes with the given
    ones that differ. Supports check mode.
  - amazon.aws.elb_application_lb sets access logs too, but fails when the API leaves out
    C(access_logs.s3.enabled) (moto does); this module treats a missing key as different.
options:
  name:
    description: Load balancer name.
    type: str
    required: true
  attributes:
    description: Attribute keys and string values, e.g. C(access_logs.s3.enabled=true).
    type: dict
    required: true
author: Crayon
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Access logs into the audit bucket
  crayon.aws.elb_lb_attributes:
    name: crayon-production-alb
    attributes:
      access_logs.s3.enabled: "true"
      access_logs.s3.bucket: crayon-production-audit-123456789012
      access_logs.s3.prefix: alb
"""

RETURN = r"""
attributes:
  description: The attributes after the call.
  returned: always
  type: dict
"""


from ansible_collections.crayon.aws.plugins.module_utils.common import (  # noqa: E402
    AWS_ERRORS,
    AnsibleAWSModule,
)


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "name": {"type": "str", "required": True},
            "attributes": {"type": "dict", "required": True},
        },
        supports_check_mode=True,
    )
    elb = module.client("elbv2")
    name = module.params["name"]
    want = {
        str(k): str(v).lower() if isinstance(v, bool) else str(v)
        for k, v in module.params["attributes"].items()
    }
    try:
        lbs = elb.describe_load_balancers(Names=[name])["LoadBalancers"]
        arn = lbs[0]["LoadBalancerArn"]
        have = {
            a["Key"]: a["Value"]
            for a in elb.describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"]
        }
        diff = {k: v for k, v in want.items() if have.get(k) != v}
        if not diff:
            module.exit_json(changed=False, attributes=have)
        if module.check_mode:
            module.exit_json(changed=True, attributes={**have, **diff})
        done = elb.modify_load_balancer_attributes(
            LoadBalancerArn=arn, Attributes=[{"Key": k, "Value": v} for k, v in diff.items()]
        )["Attributes"]
        module.exit_json(changed=True, attributes={a["Key"]: a["Value"] for a in done})
    except elb.exceptions.LoadBalancerNotFoundException:
        module.fail_json(msg=f"Load balancer {name} does not exist (run the aws_ecs role).")
    except AWS_ERRORS as e:
        module.fail_json_aws(e, msg=f"Could not set the attributes of {name}")


if __name__ == "__main__":
    main()
