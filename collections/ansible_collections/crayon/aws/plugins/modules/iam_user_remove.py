#!/usr/bin/python
"""Delete an IAM user and everything that keeps IAM from deleting it."""

from __future__ import annotations

DOCUMENTATION = r"""
module: iam_user_remove
short_description: Delete an IAM user with its keys, policies and other credentials
description:
  - Deletes the user's console password, access keys, managed and inline policies, group
    memberships, SSH keys, signing certificates and MFA devices, then the user. Only when IAM
    still refuses (DeleteConflict) are service-specific credentials (CodeCommit, Keyspaces)
    looked for and deleted, and the deletion tried again.
  - amazon.aws.iam_user with state absent does the same but always lists service-specific
    credentials first, a call the local AWS emulator (moto) does not implement, so the kit's
    destroy could not be tested with it.
  - Idempotent (a missing user is no change); supports check mode.
options:
  name:
    description: Name of the IAM user.
    type: str
    required: true
author: Crayon
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Remove the Lightsail host's user
  crayon.aws.iam_user_remove:
    name: crayon-production-lightsail-host
"""

RETURN = r"""
deleted:
  description: What was deleted besides the user (access key ids, policy names, ...).
  returned: always
  type: dict
"""


from ansible_collections.crayon.aws.plugins.module_utils.common import (  # noqa: E402
    AWS_ERRORS,
    AnsibleAWSModule,
    ClientError,
    error_code,
)


def _strip(iam, name: str) -> dict[str, list[str]]:
    """Delete what the user holds (except service-specific credentials)."""
    done: dict[str, list[str]] = {}
    try:
        iam.delete_login_profile(UserName=name)
        done["login_profile"] = [name]
    except ClientError as e:
        if error_code(e) != "NoSuchEntity":
            raise
    for key in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]:
        iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
        done.setdefault("access_keys", []).append(key["AccessKeyId"])
    for page in iam.get_paginator("list_attached_user_policies").paginate(UserName=name):
        for policy in page["AttachedPolicies"]:
            iam.detach_user_policy(UserName=name, PolicyArn=policy["PolicyArn"])
            done.setdefault("managed_policies", []).append(policy["PolicyArn"])
    for page in iam.get_paginator("list_user_policies").paginate(UserName=name):
        for policy_name in page["PolicyNames"]:
            iam.delete_user_policy(UserName=name, PolicyName=policy_name)
            done.setdefault("inline_policies", []).append(policy_name)
    for group in iam.list_groups_for_user(UserName=name)["Groups"]:
        iam.remove_user_from_group(UserName=name, GroupName=group["GroupName"])
        done.setdefault("groups", []).append(group["GroupName"])
    for key in iam.list_ssh_public_keys(UserName=name)["SSHPublicKeys"]:
        iam.delete_ssh_public_key(UserName=name, SSHPublicKeyId=key["SSHPublicKeyId"])
        done.setdefault("ssh_keys", []).append(key["SSHPublicKeyId"])
    for cert in iam.list_signing_certificates(UserName=name)["Certificates"]:
        iam.delete_signing_certificate(UserName=name, CertificateId=cert["CertificateId"])
        done.setdefault("signing_certificates", []).append(cert["CertificateId"])
    for device in iam.list_mfa_devices(UserName=name)["MFADevices"]:
        iam.deactivate_mfa_device(UserName=name, SerialNumber=device["SerialNumber"])
        done.setdefault("mfa_devices", []).append(device["SerialNumber"])
    return done


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={"name": {"type": "str", "required": True}},
        supports_check_mode=True,
    )
    iam = module.client("iam")
    name = module.params["name"]
    try:
        try:
            iam.get_user(UserName=name)
        except ClientError as e:
            if error_code(e) == "NoSuchEntity":
                module.exit_json(changed=False, deleted={})
            raise
        if module.check_mode:
            module.exit_json(changed=True, deleted={})
        done = _strip(iam, name)
        try:
            iam.delete_user(UserName=name)
        except ClientError as e:
            if error_code(e) != "DeleteConflict":
                raise
            for cred in iam.list_service_specific_credentials(UserName=name)[
                "ServiceSpecificCredentials"
            ]:
                iam.delete_service_specific_credential(
                    UserName=name, ServiceSpecificCredentialId=cred["ServiceSpecificCredentialId"]
                )
                done.setdefault("service_specific_credentials", []).append(
                    cred["ServiceSpecificCredentialId"]
                )
            iam.delete_user(UserName=name)
        module.exit_json(changed=True, deleted=done)
    except AWS_ERRORS as e:
        module.fail_json_aws(e, msg=f"Could not delete the IAM user {name}")


if __name__ == "__main__":
    main()
