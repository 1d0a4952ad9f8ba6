#!/usr/bin/python
"""A CloudFront distribution whose origin is a VPC origin (community.aws cannot write one)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: cloudfront_vpc_distribution
short_description: Create, update or delete a CloudFront distribution given in the API's own shape
description:
  - community.aws.cloudfront_distribution cannot write an origin's C(VpcOriginConfig) (it forces
    C(custom_origin_config) on every origin that is not S3). This module takes the
    C(DistributionConfig) exactly as CloudFront's API documents it (CamelCase, with the
    C(Quantity) fields) and writes it with boto3, so any origin kind works, VPC origins included.
  - Finds the distribution by its C(Comment) (ListDistributions); creates it with tags when
    missing; otherwise compares the wanted settings with the distribution's config (only the
    keys given; CloudFront fills in defaults for the rest) and writes an update with the ETag
    as If-Match only when they differ. A second run with the same settings makes no write call.
    Supports check mode.
  - I(state=absent) disables the distribution, waits until CloudFront has deployed that, then
    deletes it.
options:
  comment:
    description: The distribution's comment, which is how this module finds it again (unique).
    type: str
    required: true
  config:
    description:
      - The C(DistributionConfig) as in CloudFront's API, without C(CallerReference) and
        C(Comment) (the module sets both). Required when I(state=present).
    type: dict
  caller_reference:
    description: C(CallerReference) used when the distribution is created.
    type: str
  tags:
    description: Tags set when the distribution is created.
    type: dict
    default: {}
  state:
    description: present or absent.
    type: str
    choices: [present, absent]
    default: present
  wait:
    description: Wait until the distribution is Deployed after a write (minutes on AWS).
    type: bool
    default: false
  wait_timeout:
    description: Seconds to wait.
    type: int
    default: 1800
author: Crayon
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Distribution in front of a VPC origin
  crayon.aws.cloudfront_vpc_distribution:
    comment: crayon-production (Crayon kit, role aws_cdn)
    caller_reference: crayon-production-cdn
    config:
      Enabled: true
      Origins:
        Quantity: 1
        Items:
          - Id: app
            DomainName: internal-crayon-production-alb-1.eu-west-1.elb.amazonaws.com
            VpcOriginConfig:
              VpcOriginId: "{{ aws_cdn_vpc_origin_id }}"
              OriginReadTimeout: 60
              OriginKeepaliveTimeout: 5
      DefaultCacheBehavior:
        TargetOriginId: app
        ViewerProtocolPolicy: redirect-to-https
"""

RETURN = r"""
distribution:
  description:
    - The distribution; after I(state=absent), the one that was deleted (empty when there
      was none), and empty when check mode would create one.
  returned: always
  type: dict
  contains:
    id: {description: Distribution id., type: str}
    arn: {description: Distribution ARN., type: str}
    domain_name: {description: Its *.cloudfront.net name., type: str}
    status: {description: InProgress or Deployed., type: str}
differences:
  description: The top-level settings that differed (and were, or in check mode would be, written).
  returned: always
  type: list
  elements: str
"""

from typing import Any  # noqa: E402

from ansible_collections.crayon.aws.plugins.module_utils.cloudfront import (  # noqa: E402
    distribution_result,
    find_distribution,
    same,
    wait_deployed,
)
from ansible_collections.crayon.aws.plugins.module_utils.common import (  # noqa: E402
    AWS_ERRORS,
    AnsibleAWSModule,
)


def _overlay(have: dict[str, Any], want: dict[str, Any]) -> dict[str, Any]:
    """`have` with every setting of `want` written over it (lists are replaced whole)."""
    out = dict(have)
    for k, v in want.items():
        nested = isinstance(v, dict) and isinstance(have.get(k), dict)
        out[k] = _overlay(have[k], v) if nested else v
    return out


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "comment": {"type": "str", "required": True},
            "config": {"type": "dict"},
            "caller_reference": {"type": "str"},
            "tags": {"type": "dict", "default": {}},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "wait": {"type": "bool", "default": False},
            "wait_timeout": {"type": "int", "default": 1800},
        },
        required_if=[("state", "present", ["config", "caller_reference"])],
        supports_check_mode=True,
    )
    p = module.params
    cf = module.client("cloudfront")
    try:
        try:
            summary = find_distribution(cf, p["comment"])
        except ValueError as e:
            module.fail_json(msg=str(e))
        if p["state"] == "absent":
            if summary is None:
                module.exit_json(changed=False, distribution={}, differences=[])
            if module.check_mode:
                module.exit_json(
                    changed=True, distribution=distribution_result(summary), differences=[]
                )
            did = summary["Id"]
            current = cf.get_distribution_config(Id=did)
            if current["DistributionConfig"]["Enabled"]:
                disabled = dict(current["DistributionConfig"], Enabled=False)
                cf.update_distribution(Id=did, IfMatch=current["ETag"], DistributionConfig=disabled)
            wait_deployed(module, cf, did)
            etag = cf.get_distribution(Id=did)["ETag"]
            cf.delete_distribution(Id=did, IfMatch=etag)
            # The deleted distribution: the caller may still need its name (DNS records).
            module.exit_json(
                changed=True, distribution=distribution_result(summary), differences=[]
            )

        want = dict(p["config"], Comment=p["comment"])
        want.pop("CallerReference", None)
        if summary is None:
            if module.check_mode:
                module.exit_json(changed=True, distribution={}, differences=sorted(want))
            tags = [{"Key": k, "Value": str(v)} for k, v in sorted(p["tags"].items())]
            made = cf.create_distribution_with_tags(
                DistributionConfigWithTags={
                    "DistributionConfig": dict(want, CallerReference=p["caller_reference"]),
                    "Tags": {"Items": tags},
                }
            )["Distribution"]
            if p["wait"]:
                made = wait_deployed(module, cf, made["Id"])
            module.exit_json(
                changed=True, distribution=distribution_result(made), differences=sorted(want)
            )

        current = cf.get_distribution_config(Id=summary["Id"])
        have = current["DistributionConfig"]
        differences = sorted(k for k, v in want.items() if not same(v, have.get(k)))
        if not differences:
            module.exit_json(
                changed=False, distribution=distribution_result(summary), differences=[]
            )
        if module.check_mode:
            module.exit_json(
                changed=True, distribution=distribution_result(summary), differences=differences
            )
        updated = cf.update_distribution(
            Id=summary["Id"], IfMatch=current["ETag"], DistributionConfig=_overlay(have, want)
        )["Distribution"]
        if p["wait"]:
            updated = wait_deployed(module, cf, updated["Id"])
        module.exit_json(
            changed=True, distribution=distribution_result(updated), differences=differences
        )
    except AWS_ERRORS as e:
        module.fail_json_aws(e, msg=f"Could not manage the CloudFront distribution {p['comment']}")


if __name__ == "__main__":
    main()
