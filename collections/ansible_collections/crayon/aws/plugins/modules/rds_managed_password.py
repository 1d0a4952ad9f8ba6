#!/usr/bin/python
"""Create an RDS instance or Aurora cluster whose master password RDS manages in Secrets
Manager, or turn that on for one that exists; report the secret's ARN."""

from __future__ import annotations

DOCUMENTATION = r"""
module: rds_managed_password
short_description: An RDS instance or Aurora cluster with its master password managed by RDS
description:
  - When the instance (or cluster) does not exist, creates it with the given creation
    parameters and ManageMasterUserPassword, so RDS generates the password and keeps it in
    Secrets Manager, encrypted with O(secret_kms_key_id); no password passes through Ansible.
  - When it exists without a managed password, or with the secret under another key, turns
    the managed password on (or moves it to the key) with ApplyImmediately.
  - amazon.aws.rds_instance and rds_cluster (amazon.aws 10) have no ManageMasterUserPassword
    option and need a password to create; they converge every other setting afterwards.
  - Supports check mode.
options:
  kind:
    description: instance (RDS PostgreSQL) or cluster (Aurora).
    type: str
    choices: [instance, cluster]
    default: instance
  identifier:
    description: DB instance or cluster identifier.
    type: str
    required: true
  secret_kms_key_id:
    description: KMS key (ARN) that encrypts the master password's secret.
    type: str
    required: true
  create:
    description:
      - Parameters of CreateDBInstance or CreateDBCluster (boto3 names), used only when it
        does not exist yet. Must not hold a password.
    type: dict
    default: {}
  wait:
    description: Wait until a new instance or cluster is available.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait.
    type: int
    default: 3600
author: Crayon
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: PostgreSQL with its password in Secrets Manager
  crayon.aws.rds_managed_password:
    identifier: shop-prod-db
    secret_kms_key_id: arn:aws:kms:eu-west-1:111122223333:key/1234abcd-...
    create:
      Engine: postgres
      DBInstanceClass: db.t4g.micro
      AllocatedStorage: 20
      MasterUsername: app_admin
"""

RETURN = r"""
secret_arn:
  description:
    - ARN of the secret with the master user name and password.
    - Empty in check mode before creation.
  returned: always
  type: str
created:
  description: Whether the instance or cluster was (or in check mode would be) created.
  returned: always
  type: bool
"""

from typing import Any  # noqa: E402

from ansible_collections.crayon.aws.plugins.module_utils.common import (  # noqa: E402
    AWS_ERRORS,
    AnsibleAWSModule,
    ClientError,
    WaiterError,
    is_missing,
)

NOT_FOUND = {"DBInstanceNotFound", "DBInstanceNotFoundFault", "DBClusterNotFoundFault"}


def describe(rds: Any, kind: str, identifier: str) -> dict[str, Any] | None:
    try:
        if kind == "instance":
            return dict(
                rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]
            )
        return dict(rds.describe_db_clusters(DBClusterIdentifier=identifier)["DBClusters"][0])
    except ClientError as e:
        if is_missing(e, *NOT_FOUND):
            return None
        raise


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "kind": {"type": "str", "choices": ["instance", "cluster"], "default": "instance"},
            "identifier": {"type": "str", "required": True},
            "secret_kms_key_id": {"type": "str", "required": True, "no_log": False},
            "create": {"type": "dict", "default": {}},
            "wait": {"type": "bool", "default": True},
            "wait_timeout": {"type": "int", "default": 3600},
        },
        supports_check_mode=True,
    )
    p = module.params
    kind, identifier, key = p["kind"], p["identifier"], p["secret_kms_key_id"]
    if any("password" in name.lower() for name in p["create"]):
        module.fail_json(msg="create must not hold a password: RDS generates and manages it")
    rds = module.client("rds")
    id_param = "DBInstanceIdentifier" if kind == "instance" else "DBClusterIdentifier"
    try:
        current = describe(rds, kind, identifier)
        if current is None:
            if module.check_mode:
                module.exit_json(changed=True, created=True, secret_arn="")
            params = {
                **p["create"],
                id_param: identifier,
                "ManageMasterUserPassword": True,
                "MasterUserSecretKmsKeyId": key,
            }
            if kind == "instance":
                rds.create_db_instance(**params)
            else:
                rds.create_db_cluster(**params)
            if p["wait"]:
                waiter = "db_instance_available" if kind == "instance" else "db_cluster_available"
                rds.get_waiter(waiter).wait(
                    **{id_param: identifier},
                    WaiterConfig={"Delay": 30, "MaxAttempts": max(1, p["wait_timeout"] // 30)},
                )
            current = describe(rds, kind, identifier) or {}
            secret = current.get("MasterUserSecret") or {}
            module.exit_json(changed=True, created=True, secret_arn=secret.get("SecretArn", ""))
        secret = current.get("MasterUserSecret") or {}
        if secret.get("SecretArn") and secret.get("KmsKeyId") == key:
            module.exit_json(changed=False, created=False, secret_arn=secret["SecretArn"])
        if module.check_mode:
            module.exit_json(changed=True, created=False, secret_arn=secret.get("SecretArn", ""))
        change = {
            id_param: identifier,
            "ManageMasterUserPassword": True,
            "MasterUserSecretKmsKeyId": key,
            "ApplyImmediately": True,
        }
        if kind == "instance":
            rds.modify_db_instance(**change)
        else:
            rds.modify_db_cluster(**change)
        current = describe(rds, kind, identifier) or {}
        secret = current.get("MasterUserSecret") or {}
        module.exit_json(changed=True, created=False, secret_arn=secret.get("SecretArn", ""))
    except WaiterError as e:  # a BotoCoreError: caught first
        module.fail_json(msg=f"{identifier} did not become available in time: {e}")
    except AWS_ERRORS as e:
        module.fail_json_aws(e, msg=f"Could not set up the managed master password of {identifier}")


if __name__ == "__main__":
    main()
