#!/usr/bin/python
"""A CloudFront distribution from its whole DistributionConfig (OAC ids, functions, any origin)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: cloudfront_distribution_config
short_description: Create, update or delete a CloudFront distribution from its DistributionConfig
description:
  - community.aws.cloudfront_distribution cannot write an origin's C(OriginAccessControlId) nor
    a behaviour's C(FunctionAssociations), and reports a change on every run. This module takes
    the C(DistributionConfig) in CloudFront's own API shape (CamelCase, with the C(Quantity)
    fields) and writes it whole with boto3.
  - Finds the distribution by its C(Comment) (ListDistributions). The top-level settings left
    out of I(config) are filled with CloudFront's defaults (no custom error responses, no geo
    restriction, no web ACL, no logging, no default root object, no origin groups), so a
    setting added by hand elsewhere is found and written back (the config is compared whole).
    Inside a setting, keys CloudFront adds (defaults such as C(OriginShield)) are not compared.
  - Some endpoints keep less than they are given (moto 5.2 drops an origin's
    C(S3OriginConfig) and C(OriginAccessControlId) and every behaviour's
    C(FunctionAssociations)). After each write the module tags the distribution with a digest
    of what it sent and of what the endpoint then held; a run whose wanted config has the same
    digest, against a distribution that still holds exactly that, makes no write (and warns
    which fields the endpoint did not keep). Any other difference is written.
  - Supports check mode (reports what would change, writes nothing).
  - I(state=absent) disables the distribution, waits until that is deployed, then deletes it.
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
    description: Tags set when the distribution is created (the module's two digest tags are added).
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
- name: A static frontend from S3 (OAC) with the API on the load balancer
  crayon.aws.cloudfront_distribution_config:
    comment: shop-prod (Crayon kit, role aws_cdn)
    caller_reference: shop-prod-cdn
    config:
      Enabled: true
      Origins:
        Quantity: 1
        Items:
          - Id: frontend
            DomainName: shop-prod-frontend-123456789012.s3.us-east-1.amazonaws.com
            S3OriginConfig: {OriginAccessIdentity: ""}
            OriginAccessControlId: E1OACEXAMPLE
      DefaultCacheBehavior:
        TargetOriginId: frontend
        ViewerProtocolPolicy: redirect-to-https
        FunctionAssociations:
          Quantity: 1
          Items:
            - EventType: viewer-request
              FunctionARN: arn:aws:cloudfront::123456789012:function/shop-prod-spa-fallback
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
not_kept:
  description:
    - Settings the endpoint did not keep as sent, as paths such as
      C(Origins.Items[0].OriginAccessControlId).
  returned: always
  type: list
  elements: str
"""

import hashlib  # noqa: E402 - Ansible modules document themselves first
import json  # noqa: E402
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

WANTED_TAG = "crayon:config-sent"
STORED_TAG = "crayon:config-held"

# CloudFront's values for the top-level settings a config may leave out: filled in so the
# whole config is compared and written (a web ACL or error page added by hand is undone).
TOP_DEFAULTS: dict[str, Any] = {
    "Aliases": {"Quantity": 0},
    "DefaultRootObject": "",
    "CacheBehaviors": {"Quantity": 0},
    "CustomErrorResponses": {"Quantity": 0},
    "OriginGroups": {"Quantity": 0},
    "Logging": {"Enabled": False, "IncludeCookies": False, "Bucket": "", "Prefix": ""},
    "Restrictions": {"GeoRestriction": {"RestrictionType": "none", "Quantity": 0}},
    "WebACLId": "",
    "PriceClass": "PriceClass_All",
    "HttpVersion": "http2",
    "IsIPV6Enabled": True,
}


def _unkept(want: Any, have: Any, path: str = "") -> list[str]:
    """Paths of the settings in `want` that `have` does not hold as given."""
    if isinstance(want, dict) and isinstance(have, dict):
        out: list[str] = []
        for k, v in want.items():
            out += _unkept(v, have.get(k), f"{path}.{k}" if path else k)
        return out
    if isinstance(want, list) and isinstance(have, list) and len(want) == len(have):
        return [
            p
            for i, (w, h) in enumerate(zip(want, have, strict=True))
            for p in _unkept(w, h, f"{path}[{i}]")
        ]
    return [] if same(want, have) else [path]


def _digest(config: dict[str, Any]) -> str:
    body = {k: v for k, v in config.items() if k != "CallerReference"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:40]


def _record(cf: Any, dist: dict[str, Any], want: dict[str, Any]) -> list[str]:
    """Tag the distribution with digests of what was sent and what the endpoint now holds."""
    held = cf.get_distribution_config(Id=dist["Id"])["DistributionConfig"]
    cf.tag_resource(
        Resource=dist["ARN"],
        Tags={
            "Items": [
                {"Key": WANTED_TAG, "Value": _digest(want)},
                {"Key": STORED_TAG, "Value": _digest(held)},
            ]
        },
    )
    return _unkept(want, held)


def _absent(module: AnsibleAWSModule, cf: Any, summary: dict[str, Any] | None) -> None:
    if summary is None:
        module.exit_json(changed=False, distribution={}, differences=[], not_kept=[])
    if module.check_mode:
        module.exit_json(
            changed=True, distribution=distribution_result(summary), differences=[], not_kept=[]
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
        changed=True, distribution=distribution_result(summary), differences=[], not_kept=[]
    )


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
            _absent(module, cf, summary)

        want = {**TOP_DEFAULTS, **p["config"], "Comment": p["comment"]}
        want.pop("CallerReference", None)
        if summary is None:
            if module.check_mode:
                module.exit_json(
                    changed=True, distribution={}, differences=sorted(want), not_kept=[]
                )
            tags = [{"Key": k, "Value": str(v)} for k, v in sorted(p["tags"].items())]
            made = cf.create_distribution_with_tags(
                DistributionConfigWithTags={
                    "DistributionConfig": dict(want, CallerReference=p["caller_reference"]),
                    "Tags": {"Items": tags},
                }
            )["Distribution"]
            not_kept = _record(cf, made, want)
            if p["wait"]:
                made = wait_deployed(module, cf, made["Id"])
            module.exit_json(
                changed=True,
                distribution=distribution_result(made),
                differences=sorted(want),
                not_kept=not_kept,
            )

        current = cf.get_distribution_config(Id=summary["Id"])
        have = current["DistributionConfig"]
        differences = sorted(k for k, v in want.items() if not same(v, have.get(k)))
        not_kept: list[str] = []
        if differences:
            tags = {
                t["Key"]: t["Value"]
                for t in cf.list_tags_for_resource(Resource=summary["ARN"])["Tags"].get("Items")
                or []
            }
            if tags.get(WANTED_TAG) == _digest(want) and tags.get(STORED_TAG) == _digest(have):
                # The same config as last written, and the endpoint holds what it held then:
                # the differences are what this endpoint does not keep, not a change.
                not_kept = _unkept(want, have)
                module.warn(
                    "The CloudFront endpoint did not keep these settings as sent (compared by "
                    f"digest instead): {', '.join(not_kept)}"
                )
                differences = []
        if not differences:
            module.exit_json(
                changed=False,
                distribution=distribution_result(summary),
                differences=[],
                not_kept=not_kept,
            )
        if module.check_mode:
            module.exit_json(
                changed=True,
                distribution=distribution_result(summary),
                differences=differences,
                not_kept=[],
            )
        updated = cf.update_distribution(
            Id=summary["Id"],
            IfMatch=current["ETag"],
            DistributionConfig=dict(want, CallerReference=have["CallerReference"]),
        )["Distribution"]
        not_kept = _record(cf, updated, want)
        if p["wait"]:
            updated = wait_deployed(module, cf, updated["Id"])
        module.exit_json(
            changed=True,
            distribution=distribution_result(updated),
            differences=differences,
            not_kept=not_kept,
        )
    except AWS_ERRORS as e:
        module.fail_json_aws(e, msg=f"Could not manage the CloudFront distribution {p['comment']}")


if __name__ == "__main__":
    main()
