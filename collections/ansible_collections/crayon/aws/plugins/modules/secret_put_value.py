#!/usr/bin/python
"""Put a new value into an existing Secrets Manager secret (a rotation), never showing it."""

from __future__ import annotations

DOCUMENTATION = r"""
module: secret_put_value
short_description: Put a new current value into an existing secret
description:
  - Reads the secret's current value and stores a new version as AWSCURRENT (the previous
    one becomes AWSPREVIOUS, so a running task that still holds it keeps working until it
    is replaced). With O(json_key), only that key of the JSON object changes; other keys stay.
  - No change when the value is already current. Refuses a secret that does not exist or is
    scheduled for deletion. Supports check mode. The value never appears in the result.
options:
  secret_id:
    description: Name or ARN of the secret.
    type: str
    required: true
  value:
    description: The new value.
    type: str
    required: true
  json_key:
    description: Key of the JSON object to set; empty stores the value as the whole string.
    type: str
    default: ""
author: Crayon
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Rotate the Gemini API key
  crayon.aws.secret_put_value:
    secret_id: shop/prod/gemini-api-key
    value: "{{ lookup('ansible.builtin.env', 'ROTATE_SECRET_VALUE') }}"
  no_log: true
"""

RETURN = r"""
arn:
  description: ARN of the secret.
  returned: always
  type: str
version_id:
  description: Version now AWSCURRENT (empty in check mode when it would change).
  returned: always
  type: str
previous_version_id:
  description: Version that was AWSCURRENT before.
  returned: always
  type: str
"""

import json  # noqa: E402

from ansible_collections.crayon.aws.plugins.module_utils.common import (  # noqa: E402
    AnsibleAWSModule,
    BotoCoreError,
    ClientError,
    is_missing,
)


def new_string(current: str | None, value: str, json_key: str) -> str:
    """The secret string to store: the value itself, or the JSON object with one key set."""
    if not json_key:
        return value
    try:
        data = json.loads(current) if current else {}
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise ValueError("the secret's current value is not a JSON object")
    return json.dumps({**data, json_key: value})


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "secret_id": {"type": "str", "required": True},
            "value": {"type": "str", "required": True, "no_log": True},
            "json_key": {"type": "str", "default": "", "no_log": False},
        },
        supports_check_mode=True,
    )
    p = module.params
    sm = module.client("secretsmanager")
    try:
        described = sm.describe_secret(SecretId=p["secret_id"])
        if described.get("DeletedDate"):
            module.fail_json(msg=f"{p['secret_id']} is scheduled for deletion: restore it first")
        arn = described["ARN"]
        previous = next(
            (
                v
                for v, stages in described.get("VersionIdsToStages", {}).items()
                if "AWSCURRENT" in stages
            ),
            "",
        )
        current = None
        if previous:
            current = sm.get_secret_value(SecretId=arn).get("SecretString")
        try:
            wanted = new_string(current, p["value"], p["json_key"])
        except ValueError as e:
            module.fail_json(msg=f"{p['secret_id']}: {e}; give no json_key to replace it whole")
        if wanted == current:
            module.exit_json(
                changed=False, arn=arn, version_id=previous, previous_version_id=previous
            )
        if module.check_mode:
            module.exit_json(changed=True, arn=arn, version_id="", previous_version_id=previous)
        put = sm.put_secret_value(SecretId=arn, SecretString=wanted)
        module.exit_json(
            changed=True, arn=arn, version_id=put["VersionId"], previous_version_id=previous
        )
    except ClientError as e:
        if is_missing(e, "ResourceNotFoundException"):
            module.fail_json(
                msg=f"{p['secret_id']} does not exist: run site.yml first, it creates "
                "the declared secrets"
            )
        module.fail_json_aws(e, msg=f"Could not rotate {p['secret_id']}")
    except BotoCoreError as e:
        module.fail_json_aws(e, msg=f"Could not rotate {p['secret_id']}")


if __name__ == "__main__":
    main()
