#!/usr/bin/python
"""Schedule a KMS key for deletion, found by its alias."""

from __future__ import annotations

DOCUMENTATION = r"""
module: kms_key_deletion
short_description: Schedule the KMS key behind an alias for deletion
description:
  - Resolves the alias to the key id and schedules the key's deletion after a pending
    window; no change when there is no such alias or the key is already pending deletion.
    Supports check mode.
  - amazon.aws.kms_key (state absent) schedules by key ARN, which moto 5.2 answers with an
    internal error; the key id works on AWS and on moto.
options:
  alias:
    description: Alias of the key, alias/<name>.
    type: str
    required: true
  pending_window:
    description: Days (7-30) before the key is deleted; it can be cancelled until then.
    type: int
    default: 30
author: Crayon
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Schedule the stack key for deletion in 30 days
  crayon.aws.kms_key_deletion:
    alias: alias/crayon-production
    pending_window: 30
"""

RETURN = r"""
key_id:
  description: Id of the key behind the alias; empty when there is none.
  returned: always
  type: str
"""


from ansible_collections.crayon.aws.plugins.module_utils.common import (  # noqa: E402
    AWS_ERRORS,
    AnsibleAWSModule,
    ClientError,
    is_missing,
)


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "alias": {"type": "str", "required": True},
            "pending_window": {"type": "int", "default": 30},
        },
        supports_check_mode=True,
    )
    kms = module.client("kms")
    alias = module.params["alias"]
    window = module.params["pending_window"]
    if not 7 <= window <= 30:
        module.fail_json(msg=f"pending_window must be 7-30 days, not {window}")
    try:
        try:
            meta = kms.describe_key(KeyId=alias)["KeyMetadata"]
        except ClientError as e:
            if is_missing(e, "NotFoundException"):
                module.exit_json(changed=False, key_id="")
            raise
        if meta["KeyState"] == "PendingDeletion":
            module.exit_json(changed=False, key_id=meta["KeyId"])
        if not module.check_mode:
            kms.schedule_key_deletion(KeyId=meta["KeyId"], PendingWindowInDays=window)
        module.exit_json(changed=True, key_id=meta["KeyId"])
    except AWS_ERRORS as e:
        module.fail_json_aws(e, msg=f"Could not schedule the deletion of the key {alias}")


if __name__ == "__main__":
    main()
