#!/usr/bin/python
"""Keep an existing secret's description in line without touching its value.

community.aws.secretsmanager_secret updates a description only together with the value
(overwrite: true), and the kit never overwrites a value an operator set: a changed description
was therefore never applied. UpdateSecret with a description alone leaves the value as it is.
"""

from __future__ import annotations

DOCUMENTATION = r"""
module: secret_description
short_description: Set the description of an existing Secrets Manager secret, never its value
description:
  - Reads the secret's description and, when it differs, calls UpdateSecret with the
    description only (no new version of the value). Supports check mode.
options:
  name:
    description: Name or ARN of the secret (it must exist).
    type: str
    required: true
  description:
    description: The description the secret should carry.
    type: str
    required: true
author: Crayon
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Describe the session key anew
  crayon.aws.secret_description:
    name: crayon/production/session
    description: crayon session signing key
"""

RETURN = r"""
previous:
  description: The description before the call.
  returned: always
  type: str
"""

from ansible_collections.crayon.aws.plugins.module_utils.common import (  # noqa: E402
    AWS_ERRORS,
    AnsibleAWSModule,
)


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "name": {"type": "str", "required": True},
            "description": {"type": "str", "required": True},
        },
        supports_check_mode=True,
    )
    name, wanted = module.params["name"], module.params["description"]
    sm = module.client("secretsmanager")
    try:
        previous = sm.describe_secret(SecretId=name).get("Description", "")
        if previous == wanted:
            module.exit_json(changed=False, previous=previous)
        if not module.check_mode:
            sm.update_secret(SecretId=name, Description=wanted)
    except AWS_ERRORS as e:
        module.fail_json_aws(e, msg=f"Could not set the description of the secret {name}")
    module.exit_json(changed=True, previous=previous)


if __name__ == "__main__":
    main()
