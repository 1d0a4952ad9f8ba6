#!/usr/bin/python
"""Read, in one call, an IAM user, its access keys and the secret that holds its key."""

from __future__ import annotations

DOCUMENTATION = r"""
module: iam_user_key_state
short_description: Read an IAM user, its access keys and the Secrets Manager secret holding its key
description:
  - Read-only; supports check mode. aws_iam compares the result with what it wants and calls
    amazon.aws.iam_user, iam_policy, iam_access_key and community.aws.secretsmanager_secret only
    where something differs (the Lightsail host's user, see docs/deploy-host-aws.md).
  - The secret must be JSON with AccessKeyId and SecretAccessKey. Only the key id and whether
    both fields are filled are returned; the secret access key never leaves the module.
options:
  user_name:
    description: Name of the IAM user.
    type: str
    required: true
  secret_name:
    description: Name (or ARN) of the secret that holds the user's access key.
    type: str
    required: true
author: Crayon
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Lightsail host user as it is now
  crayon.aws.iam_user_key_state:
    user_name: crayon-production-lightsail-host
    secret_name: crayon/production/lightsail-host-key
  register: now
"""

RETURN = r"""
user:
  description: >-
    None when the user does not exist; else arn, path, tags, console_access (a login profile
    exists), managed_policies (attached ARNs) and inline_policies (name to document).
  returned: always
  type: dict
access_keys:
  description: The user's access keys (access_key_id, status, create_date), oldest first.
  returned: always
  type: list
secret:
  description: >-
    None when the secret does not exist; else arn, deleted (scheduled for deletion),
    description, kms_key_id, tags, access_key_id (from the secret's JSON, empty when
    unreadable) and complete (both AccessKeyId and SecretAccessKey are filled).
  returned: always
  type: dict
"""

import json  # noqa: E402
from urllib.parse import unquote  # noqa: E402

from ansible_collections.crayon.aws.plugins.module_utils.common import (  # noqa: E402
    AWS_ERRORS,
    AnsibleAWSModule,
    ClientError,
    error_code,
    tags_dict,
)


def _document(doc: object) -> object:
    # IAM returns policy documents URL-encoded; boto3 usually decodes them already.
    if isinstance(doc, str):
        return json.loads(unquote(doc))
    return doc


def read_user(iam, name: str) -> tuple[dict | None, list[dict]]:
    try:
        user = iam.get_user(UserName=name)["User"]
    except ClientError as e:
        if error_code(e) == "NoSuchEntity":
            return None, []
        raise
    try:
        iam.get_login_profile(UserName=name)
        console = True
    except ClientError as e:
        if error_code(e) != "NoSuchEntity":
            raise
        console = False
    inline = {}
    for page in iam.get_paginator("list_user_policies").paginate(UserName=name):
        for policy in page["PolicyNames"]:
            doc = iam.get_user_policy(UserName=name, PolicyName=policy)["PolicyDocument"]
            inline[policy] = _document(doc)
    attached = [
        p["PolicyArn"]
        for page in iam.get_paginator("list_attached_user_policies").paginate(UserName=name)
        for p in page["AttachedPolicies"]
    ]
    tags = tags_dict(iam.list_user_tags(UserName=name).get("Tags"))
    keys = sorted(
        (
            {
                "access_key_id": k["AccessKeyId"],
                "status": k["Status"],
                "create_date": k["CreateDate"].isoformat(),
            }
            for k in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]
        ),
        key=lambda k: (k["create_date"], k["access_key_id"]),
    )
    return {
        "arn": user["Arn"],
        "path": user.get("Path", "/"),
        "tags": tags,
        "console_access": console,
        "managed_policies": attached,
        "inline_policies": inline,
    }, keys


def read_secret(sm, name: str) -> dict | None:
    try:
        d = sm.describe_secret(SecretId=name)
    except ClientError as e:
        if error_code(e) == "ResourceNotFoundException":
            return None
        raise
    out = {
        "arn": d["ARN"],
        "deleted": bool(d.get("DeletedDate")),
        "description": d.get("Description", ""),
        "kms_key_id": d.get("KmsKeyId", ""),
        "tags": tags_dict(d.get("Tags")),
        "access_key_id": "",
        "complete": False,
    }
    if out["deleted"]:
        return out
    try:
        value = json.loads(sm.get_secret_value(SecretId=name).get("SecretString") or "null")
    except ClientError as e:
        if error_code(e) != "ResourceNotFoundException":  # a secret without a value yet
            raise
        value = None
    except ValueError:
        value = None
    if isinstance(value, dict):
        key_id = value.get("AccessKeyId")
        secret_key = value.get("SecretAccessKey")
        out["access_key_id"] = key_id if isinstance(key_id, str) else ""
        out["complete"] = bool(out["access_key_id"] and isinstance(secret_key, str) and secret_key)
    return out


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "user_name": {"type": "str", "required": True},
            "secret_name": {"type": "str", "required": True},
        },
        supports_check_mode=True,
    )
    try:
        user, keys = read_user(module.client("iam"), module.params["user_name"])
        secret = read_secret(module.client("secretsmanager"), module.params["secret_name"])
    except AWS_ERRORS as e:
        module.fail_json_aws(e, msg="Could not read the IAM user, its keys or its key secret")
    module.exit_json(changed=False, user=user, access_keys=keys, secret=secret)


if __name__ == "__main__":
    main()
