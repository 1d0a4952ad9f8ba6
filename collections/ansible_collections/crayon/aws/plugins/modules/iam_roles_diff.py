#!/usr/bin/python
"""aws_iam's read-compare: the stack's IAM roles and the GitHub OIDC provider as they are,
compared with the role's wanted state in one process."""

from __future__ import annotations

DOCUMENTATION = r"""
module: iam_roles_diff
short_description: Read IAM roles and an OIDC provider, and compare them with the wanted ones
description:
  - Reads each role of I(roles) (trust policy, description, tags, attached and inline policies,
    instance profiles) and the OpenID Connect provider of I(oidc_url) in one process and
    returns, per role, C(in_sync) for the role's own settings and C(policy_in_sync) for its
    inline policy, and C(in_sync) for the provider. Read-only; runs in check mode.
  - A role is in sync when its trust policy, description and tags are exactly the wanted ones,
    it has no attached (managed) policy, and it has its instance profile when one is wanted.
  - Its inline policy is in sync when the role holds exactly one, named I(policy_name), with
    the wanted document; a role whose I(policy) is null holds none (C(stray_policies) lists
    the ones to delete).
options:
  roles:
    description: The roles the stack wants.
    type: list
    elements: dict
    default: []
    suboptions:
      name: {description: Role name., type: str, required: true}
      trust: {description: Trust (assume-role) policy document., type: dict, required: true}
      description: {description: The role's description., type: str, required: true}
      policy: {description: Its inline policy document; null for none., type: dict}
      profile: {description: With an instance profile of its name., type: bool, default: false}
      tags: {description: This role's own tags (exactly these); omitted = I(tags)., type: dict}
  tags:
    description: The tags every role carries (exactly these) unless it gives its own.
    type: dict
    default: {}
  policy_name:
    description: Name of each role's one inline policy.
    type: str
    default: least-privilege
  oidc_url:
    description: Issuer URL of the OpenID Connect provider to compare; empty for none.
    type: str
    default: ""
  oidc_client_ids:
    description: The provider's wanted audiences.
    type: list
    elements: str
    default: [sts.amazonaws.com]
  oidc_thumbprints:
    description: The provider's wanted certificate thumbprints (compared in lower case).
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
- name: Compare the roles with what the role wants
  crayon.aws.iam_roles_diff:
    roles:
      - name: crayon-production-ecs-execution
        trust: {Version: "2012-10-17", Statement: []}
        description: crayon-production-ecs-execution (managed by Ansible)
        policy: null
    tags: {Project: crayon}
    oidc_url: https://token.actions.githubusercontent.com
  register: iam
"""

RETURN = r"""
roles:
  description: >-
    By role name, in_sync, exists, differs (the settings that differ), policy_in_sync and
    stray_policies.
  returned: always
  type: dict
oidc_provider:
  description: in_sync, exists, differs and arn of the OIDC provider (in sync when none is asked).
  returned: always
  type: dict
"""

from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from typing import Any  # noqa: E402

from ansible_collections.crayon.aws.plugins.module_utils.common import (  # noqa: E402
    AWS_ERRORS,
    AnsibleAWSModule,
)
from ansible_collections.crayon.aws.plugins.module_utils.iam import (  # noqa: E402
    read_oidc_provider,
    read_role,
)


def compare_role(
    want: dict[str, Any], have: dict[str, Any] | None, tags: dict[str, str], policy_name: str
) -> dict[str, Any]:
    if have is None:
        return {
            "in_sync": False,
            "exists": False,
            "differs": ["(missing)"],
            "policy_in_sync": False,
            "stray_policies": [],
        }
    differs = [k for k in ("trust", "description") if have[k] != want[k]]
    wanted_tags = want.get("tags") or tags
    if have["tags"] != {k: str(v) for k, v in wanted_tags.items()}:
        differs.append("tags")
    if have["managed_policies"]:
        differs.append("managed_policies")
    if want["profile"] and want["name"] not in have["instance_profiles"]:
        differs.append("instance_profile")
    inline = have["inline_policies"]
    policy = want["policy"]
    wanted_inline = {} if policy is None else {policy_name: policy}
    return {
        "in_sync": not differs,
        "exists": True,
        "differs": differs,
        "policy_in_sync": inline == wanted_inline,
        "stray_policies": sorted(inline) if policy is None else [],
    }


def compare_oidc(p: dict[str, Any], have: dict[str, Any] | None) -> dict[str, Any]:
    if not p["oidc_url"]:
        return {"in_sync": True, "exists": False, "differs": [], "arn": ""}
    if have is None:
        return {"in_sync": False, "exists": False, "differs": ["(missing)"], "arn": ""}
    differs = []
    if have["client_ids"] != sorted(p["oidc_client_ids"]):
        differs.append("client_ids")
    if have["thumbprints"] != sorted(t.lower() for t in p["oidc_thumbprints"]):
        differs.append("thumbprints")
    return {"in_sync": not differs, "exists": True, "differs": differs, "arn": have["arn"]}


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "roles": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {
                    "name": {"type": "str", "required": True},
                    "trust": {"type": "dict", "required": True},
                    "description": {"type": "str", "required": True},
                    "policy": {"type": "dict"},
                    "profile": {"type": "bool", "default": False},
                    "tags": {"type": "dict"},
                },
            },
            "tags": {"type": "dict", "default": {}},
            "policy_name": {"type": "str", "default": "least-privilege"},
            "oidc_url": {"type": "str", "default": ""},
            "oidc_client_ids": {
                "type": "list",
                "elements": "str",
                "default": ["sts.amazonaws.com"],
            },
            "oidc_thumbprints": {"type": "list", "elements": "str", "default": []},
        },
        supports_check_mode=True,
    )
    p = module.params
    iam = module.client("iam")
    try:
        # Five to seven calls a role, each a round trip: the roles are read side by side.
        with ThreadPoolExecutor(max_workers=8) as pool:
            roles = {r["name"]: pool.submit(read_role, iam, r["name"]) for r in p["roles"]}
            oidc = pool.submit(read_oidc_provider, iam, p["oidc_url"]) if p["oidc_url"] else None
            have = {name: f.result() for name, f in roles.items()}
            provider = oidc.result() if oidc else None
    except AWS_ERRORS as e:
        module.fail_json_aws(e, msg="Could not read the IAM roles")
    module.exit_json(
        changed=False,
        roles={
            r["name"]: compare_role(r, have[r["name"]], p["tags"], p["policy_name"])
            for r in p["roles"]
        },
        oidc_provider=compare_oidc(p, provider),
    )


if __name__ == "__main__":
    main()
