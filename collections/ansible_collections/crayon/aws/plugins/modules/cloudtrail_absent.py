#!/usr/bin/python
"""Delete a CloudTrail trail by name when it exists."""

from __future__ import annotations

DOCUMENTATION = r"""
module: cloudtrail_absent
short_description: Delete a CloudTrail trail by name
description:
  - Deletes the trail when it exists; no change when it does not. Supports check mode.
  - amazon.aws.cloudtrail (state absent) deletes by ARN, which moto 5.2 ignores (the trail
    stays), and reports a change even when there is no trail; this deletes by name, as AWS
    accepts too.
options:
  name:
    description: Trail name.
    type: str
    required: true
author: Crayon
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: No trail
  crayon.aws.cloudtrail_absent:
    name: crayon-production-trail
"""

RETURN = r"""
deleted:
  description: Whether a trail was (or in check mode would be) deleted.
  returned: always
  type: bool
"""


from ansible_collections.crayon.aws.plugins.module_utils.common import (  # noqa: E402
    AWS_ERRORS,
    AnsibleAWSModule,
)


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={"name": {"type": "str", "required": True}},
        supports_check_mode=True,
    )
    ct = module.client("cloudtrail")
    name = module.params["name"]
    try:
        found = ct.describe_trails(trailNameList=[name], includeShadowTrails=False)["trailList"]
        if not found:
            module.exit_json(changed=False, deleted=False)
        if not module.check_mode:
            ct.delete_trail(Name=name)
        module.exit_json(changed=True, deleted=True)
    except AWS_ERRORS as e:
        module.fail_json_aws(e, msg=f"Could not delete the trail {name}")


if __name__ == "__main__":
    main()
