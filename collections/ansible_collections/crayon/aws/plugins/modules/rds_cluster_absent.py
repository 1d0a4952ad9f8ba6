#!/usr/bin/python
"""Delete an Aurora cluster, after a final snapshot unless told not to."""

from __future__ import annotations

DOCUMENTATION = r"""
module: rds_cluster_absent
short_description: Delete an Aurora cluster after a final snapshot
description:
  - Deletes the cluster when it exists, taking the final snapshot O(final_snapshot) first
    unless it is empty; no change when there is no such cluster. Supports check mode.
  - amazon.aws.rds_cluster 10 sends its final snapshot name as FinalSnapshotIdentifier,
    which DeleteDBCluster does not know (it is FinalDBSnapshotIdentifier), so it cannot
    delete a cluster with a final snapshot.
options:
  identifier:
    description: Cluster identifier.
    type: str
    required: true
  final_snapshot:
    description: Name of the final snapshot; empty deletes without one.
    type: str
    default: ""
  wait:
    description: Wait until the cluster is gone.
    type: bool
    default: true
author: Crayon
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Remove the cluster, keep its data in a snapshot
  crayon.aws.rds_cluster_absent:
    identifier: shop-prod-db
    final_snapshot: shop-prod-db-final-20260501-120000
"""

RETURN = r"""
final_snapshot:
  description: The final snapshot taken; empty when none was.
  returned: always
  type: str
"""

import time  # noqa: E402

from ansible_collections.crayon.aws.plugins.module_utils.common import (  # noqa: E402
    AWS_ERRORS,
    AnsibleAWSModule,
    ClientError,
    is_missing,
)


def exists(rds: object, identifier: str) -> bool:
    try:
        rds.describe_db_clusters(DBClusterIdentifier=identifier)  # type: ignore[attr-defined]
    except ClientError as e:
        if is_missing(e, "DBClusterNotFoundFault"):
            return False
        raise
    return True


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "identifier": {"type": "str", "required": True},
            "final_snapshot": {"type": "str", "default": ""},
            "wait": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    rds = module.client("rds")
    identifier, snapshot = module.params["identifier"], module.params["final_snapshot"]
    try:
        if not exists(rds, identifier):
            module.exit_json(changed=False, final_snapshot="")
        if not module.check_mode:
            params: dict[str, object] = {"DBClusterIdentifier": identifier}
            if snapshot:
                params["FinalDBSnapshotIdentifier"] = snapshot
            else:
                params["SkipFinalSnapshot"] = True
            rds.delete_db_cluster(**params)
            deadline = time.monotonic() + 3600
            while module.params["wait"] and exists(rds, identifier):
                if time.monotonic() > deadline:
                    module.fail_json(msg=f"{identifier} was still being deleted after an hour")
                time.sleep(15)
        module.exit_json(changed=True, final_snapshot=snapshot)
    except AWS_ERRORS as e:
        module.fail_json_aws(e, msg=f"Could not delete the cluster {identifier}")


if __name__ == "__main__":
    main()
