#!/usr/bin/python
"""Read the audit role's resources in one process and say which differ from the wanted state.

The role (roles/aws_audit) used to call s3_bucket, s3_lifecycle, the flow-log module and
cloudtrail_info on every run: four module processes, about 4 s of a no-op site.yml here. This
module reads the same things once and compares them here, in Python, with the same rules the
writing modules apply; the role calls a writing module only for a part that is not in sync.
"""

from __future__ import annotations

DOCUMENTATION = r"""
module: audit_diff
short_description: Compare the audit bucket, flow log and CloudTrail trail with the wanted state
description:
  - Read-only (supports check mode). Returns, for each part, whether it exists and whether it
    is in sync with the options given; the role writes only the parts that are not.
options:
  bucket:
    description:
      - The audit bucket as wanted. Omit when nothing writes to it.
      - Keys C(name), C(versioning) (bool), C(encryption) (SSE algorithm), C(public_access)
        (the four PublicAccessBlock flags in snake case), C(object_ownership), C(policy)
        (a policy document), C(tags), C(lifecycle) (C(rule_id), C(expiration_days),
        C(noncurrent_days)) or null for no rule.
    type: dict
  flow_log:
    description:
      - The VPC flow log as wanted; the same keys as the role's flow-log module
        (C(name), C(vpc_id), C(state), C(destination_type), C(log_group_name), C(role_arn),
        C(s3_arn), C(traffic_type), C(max_aggregation_interval)). Omit when there is no VPC.
    type: dict
  trail:
    description:
      - The CloudTrail trail as wanted; C(name), C(state) (present or absent), C(bucket),
        C(prefix), C(tags).
    type: dict
author: Crayon
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Compare the audit resources with what is wanted
  crayon.aws.audit_diff:
    region: eu-west-1
    bucket:
      name: crayon-production-audit-123456789012
      versioning: true
      encryption: AES256
      public_access: {block_public_acls: true, ignore_public_acls: true,
                      block_public_policy: true, restrict_public_buckets: true}
      object_ownership: BucketOwnerEnforced
      policy: "{{ policy }}"
      tags: {Project: crayon}
      lifecycle: {rule_id: expire-audit-logs, expiration_days: 365, noncurrent_days: 30}
    trail:
      name: crayon-production-trail
      state: present
      bucket: crayon-production-audit-123456789012
      prefix: cloudtrail
      tags: {Project: crayon}
  register: audit
"""

RETURN = r"""
bucket:
  description: C(exists) and C(in_sync) of the bucket's settings, and C(lifecycle_in_sync).
  returned: when the bucket option is given
  type: dict
flow_log:
  description: C(in_sync) (true when nothing would be created or removed) and C(found) (ids).
  returned: when the flow_log option is given
  type: dict
trail:
  description: C(exists) and C(in_sync) (for state absent, in sync when no trail exists).
  returned: when the trail option is given
  type: dict
"""

import json  # noqa: E402 - Ansible modules document themselves first
from typing import Any  # noqa: E402

from ansible_collections.amazon.aws.plugins.module_utils.policy import (  # noqa: E402
    compare_policies,
)
from ansible_collections.crayon.aws.plugins.module_utils.common import (  # noqa: E402
    AWS_ERRORS,
    AnsibleAWSModule,
    ClientError,
    error_code,
    tags_dict,
)
from ansible_collections.crayon.aws.plugins.module_utils.flow_logs import same  # noqa: E402

_PUBLIC_ACCESS = {
    "block_public_acls": "BlockPublicAcls",
    "ignore_public_acls": "IgnorePublicAcls",
    "block_public_policy": "BlockPublicPolicy",
    "restrict_public_buckets": "RestrictPublicBuckets",
}


def _read(call: Any, missing: tuple[str, ...], **kwargs: Any) -> Any:
    """The call's answer, or None when AWS says the thing is not there."""
    try:
        return call(**kwargs)
    except ClientError as e:
        if error_code(e) in missing:
            return None
        raise


def _wanted_tags(tags: dict[str, Any] | None) -> dict[str, str]:
    return {str(k): str(v) for k, v in (tags or {}).items()}


def _lifecycle_in_sync(s3: Any, name: str, want: dict[str, Any] | None) -> bool:
    got = _read(
        s3.get_bucket_lifecycle_configuration, ("NoSuchLifecycleConfiguration",), Bucket=name
    )
    rules = {r.get("ID", ""): r for r in (got or {}).get("Rules", [])}
    if want is None:
        return True  # s3_lifecycle is not called then: a rule left behind is the operator's
    rule = rules.get(want["rule_id"])
    if rule is None or rule.get("Status") != "Enabled":
        return False
    days = rule.get("Expiration", {}).get("Days")
    noncurrent = rule.get("NoncurrentVersionExpiration", {}).get("NoncurrentDays")
    return bool(days == int(want["expiration_days"]) and noncurrent == int(want["noncurrent_days"]))


def bucket_state(s3: Any, want: dict[str, Any]) -> dict[str, Any]:
    name = want["name"]
    if _read(s3.head_bucket, ("404", "NoSuchBucket", "NotFound"), Bucket=name) is None:
        missing = {"exists": False, "in_sync": False, "lifecycle_in_sync": False}
        return {**missing, "differs": ["bucket"]}
    differs: list[str] = []
    versioning = s3.get_bucket_versioning(Bucket=name).get("Status") == "Enabled"
    if versioning != bool(want.get("versioning", True)):
        differs.append("versioning")
    enc = _read(
        s3.get_bucket_encryption, ("ServerSideEncryptionConfigurationNotFoundError",), Bucket=name
    )
    rules = (enc or {}).get("ServerSideEncryptionConfiguration", {}).get("Rules", [{}])
    algorithm = rules[0].get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm")
    if algorithm != want.get("encryption", "AES256"):
        differs.append("encryption")
    block = _read(
        s3.get_public_access_block, ("NoSuchPublicAccessBlockConfiguration",), Bucket=name
    )
    have_block = (block or {}).get("PublicAccessBlockConfiguration", {})
    for key, aws_key in _PUBLIC_ACCESS.items():
        if bool(have_block.get(aws_key, False)) != bool((want.get("public_access") or {}).get(key)):
            differs.append("public_access")
            break
    controls = _read(
        s3.get_bucket_ownership_controls, ("OwnershipControlsNotFoundError",), Bucket=name
    )
    ownership = ((controls or {}).get("OwnershipControls", {}).get("Rules") or [{}])[0]
    wanted_ownership = want.get("object_ownership")
    if wanted_ownership and ownership.get("ObjectOwnership") != wanted_ownership:
        differs.append("object_ownership")
    policy = _read(s3.get_bucket_policy, ("NoSuchBucketPolicy",), Bucket=name)
    have_policy = json.loads(policy["Policy"]) if policy else {}
    if want.get("policy") is not None and compare_policies(have_policy, want["policy"]):
        differs.append("policy")
    tagging = _read(s3.get_bucket_tagging, ("NoSuchTagSet",), Bucket=name)
    if tags_dict((tagging or {}).get("TagSet")) != _wanted_tags(want.get("tags")):
        differs.append("tags")
    return {
        "exists": True,
        "in_sync": not differs,
        "differs": differs,
        "lifecycle_in_sync": _lifecycle_in_sync(s3, name, want.get("lifecycle")),
    }


def flow_log_state(ec2: Any, want: dict[str, Any]) -> dict[str, Any]:
    filters = [{"Name": "tag:Name", "Values": [want["name"]]}]
    if want.get("vpc_id"):
        filters.append({"Name": "resource-id", "Values": [want["vpc_id"]]})
    found = ec2.describe_flow_logs(Filters=filters)["FlowLogs"]
    present = want.get("state", "present") == "present"
    keep = [f for f in found if present and same(f, want)]
    in_sync = len(keep) == len(found) and (bool(keep) or not present)
    return {"in_sync": in_sync, "found": [f["FlowLogId"] for f in found]}


def trail_state(ct: Any, want: dict[str, Any]) -> dict[str, Any]:
    trails = ct.describe_trails(trailNameList=[want["name"]], includeShadowTrails=False)
    found = [t for t in trails.get("trailList", []) if t.get("Name") == want["name"]]
    if want.get("state", "present") == "absent":
        return {"exists": bool(found), "in_sync": not found}
    if not found:
        return {"exists": False, "in_sync": False, "differs": ["trail"]}
    trail = found[0]
    differs = [
        field
        for field, ok in (
            ("is_multi_region_trail", trail.get("IsMultiRegionTrail") is True),
            ("log_file_validation", trail.get("LogFileValidationEnabled") is True),
            ("include_global_events", trail.get("IncludeGlobalServiceEvents") is True),
            ("s3_bucket_name", trail.get("S3BucketName") == want["bucket"]),
            ("s3_key_prefix", (trail.get("S3KeyPrefix") or "") == want.get("prefix", "")),
        )
        if not ok
    ]
    if not ct.get_trail_status(Name=trail["TrailARN"]).get("IsLogging"):
        differs.append("logging")
    tags = ct.list_tags(ResourceIdList=[trail["TrailARN"]]).get("ResourceTagList", [{}])
    if tags_dict((tags[0] if tags else {}).get("TagsList")) != _wanted_tags(want.get("tags")):
        differs.append("tags")
    return {"exists": True, "in_sync": not differs, "differs": differs}


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "bucket": {"type": "dict"},
            "flow_log": {"type": "dict"},
            "trail": {"type": "dict"},
        },
        supports_check_mode=True,
    )
    p = module.params
    out: dict[str, Any] = {"changed": False}
    try:
        if p["bucket"]:
            out["bucket"] = bucket_state(module.client("s3"), p["bucket"])
        if p["flow_log"]:
            out["flow_log"] = flow_log_state(module.client("ec2"), p["flow_log"])
        if p["trail"]:
            out["trail"] = trail_state(module.client("cloudtrail"), p["trail"])
    except AWS_ERRORS as e:
        module.fail_json_aws(e, msg="Could not read the audit resources")
    module.exit_json(**out)


if __name__ == "__main__":
    main()
