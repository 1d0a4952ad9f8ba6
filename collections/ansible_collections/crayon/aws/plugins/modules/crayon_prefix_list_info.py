#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module: look up an EC2 managed prefix list by name (no collection has one)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: crayon_prefix_list_info
short_description: Find an EC2 managed prefix list by name
description:
  - Calls EC2 DescribeManagedPrefixLists with a C(prefix-list-name) filter and returns the
    matching list (id, name, owner, max entries), or nothing when there is none.
  - Used to find AWS's C(com.amazonaws.global.cloudfront.origin-facing) list, so that a
    security group can accept traffic from CloudFront only.
  - Neither amazon.aws nor community.aws has a module for managed prefix lists; this one is
    built on the collection's AnsibleAWSModule helper and takes the usual connection options.
version_added: "0.1.0"
author: Crayon deployment kit
options:
  name:
    description: Prefix list name.
    type: str
    required: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Find CloudFront's origin-facing prefix list
  crayon.aws.crayon_prefix_list_info:
    name: com.amazonaws.global.cloudfront.origin-facing
  register: cloudfront_pl
"""

RETURN = r"""
found:
  description: Whether a list with that name exists.
  returned: always
  type: bool
prefix_list_id:
  description: Id of the list (empty when not found).
  returned: always
  type: str
  sample: pl-3b927c52
prefix_list:
  description: The list as EC2 describes it, in snake case (empty when not found).
  returned: always
  type: dict
"""

from typing import Any  # noqa: E402

from ansible.module_utils.common.dict_transformations import (  # type: ignore[import-untyped]  # noqa: E402
    camel_dict_to_snake_dict,
)
from ansible_collections.crayon.aws.plugins.module_utils.common import (  # noqa: E402
    AWS_ERRORS,
    AnsibleAWSModule,
)


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={"name": {"type": "str", "required": True}},
        supports_check_mode=True,
    )
    client = module.client("ec2")
    name: str = module.params["name"]
    found: list[dict[str, Any]] = []
    try:
        paginator = client.get_paginator("describe_managed_prefix_lists")
        for page in paginator.paginate(Filters=[{"Name": "prefix-list-name", "Values": [name]}]):
            found.extend(page.get("PrefixLists", []))
    except AWS_ERRORS as e:
        module.fail_json_aws(e, msg=f"Could not describe managed prefix list {name!r}")
    # Some endpoints ignore the filter: keep only exact name matches.
    found = [pl for pl in found if pl.get("PrefixListName") == name]
    if not found:
        module.exit_json(changed=False, found=False, prefix_list_id="", prefix_list={})
    prefix_list = found[0]
    module.exit_json(
        changed=False,
        found=True,
        prefix_list_id=prefix_list["PrefixListId"],
        prefix_list=camel_dict_to_snake_dict(prefix_list),
    )


if __name__ == "__main__":
    main()
