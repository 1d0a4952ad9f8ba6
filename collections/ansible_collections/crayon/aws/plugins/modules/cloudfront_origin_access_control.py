#!/usr/bin/python
"""A CloudFront Origin Access Control, found by its name (no module in amazon.aws/community.aws)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: cloudfront_origin_access_control
short_description: Create, update or delete a CloudFront Origin Access Control by name
description:
  - An Origin Access Control (OAC) lets CloudFront sign its requests to a private S3 bucket;
    the bucket's policy then admits only the distribution (condition C(aws:SourceArn)).
  - Finds the OAC by I(name) (ListOriginAccessControls), creates it when missing and updates it
    only when a setting differs, so a second run is changed=0. Supports check mode.
  - I(state=absent) deletes it (it must no longer be used by a distribution).
options:
  name:
    description: Name of the OAC (unique in the account; at most 64 characters).
    type: str
    required: true
  description:
    description: Its description.
    type: str
    default: ""
  origin_type:
    description: The kind of origin it signs for.
    type: str
    choices: [s3, mediastore, mediapackagev2, lambda]
    default: s3
  signing_behavior:
    description: always signs every request (the bucket can then stay private); never, no-override.
    type: str
    choices: [always, never, no-override]
    default: always
  state:
    description: present or absent.
    type: str
    choices: [present, absent]
    default: present
author: Crayon
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: OAC for the frontend bucket
  crayon.aws.cloudfront_origin_access_control:
    name: shop-prod-frontend
    description: CloudFront reads the frontend bucket (SigV4, always)
  register: oac
"""

RETURN = r"""
id:
  description: The OAC's id (empty when absent, or when check mode would create it).
  returned: always
  type: str
"""

import contextlib  # noqa: E402 - Ansible modules document themselves first
from typing import Any  # noqa: E402

from ansible_collections.amazon.aws.plugins.module_utils.modules import (  # noqa: E402
    AnsibleAWSModule,
)

with contextlib.suppress(ImportError):  # AnsibleAWSModule reports a missing botocore
    import botocore


def _find(cf: Any, name: str) -> dict[str, Any] | None:
    marker = ""
    while True:
        page = cf.list_origin_access_controls(**({"Marker": marker} if marker else {}))
        body = page.get("OriginAccessControlList", {})
        for item in body.get("Items") or []:
            if item.get("Name") == name:
                return dict(item)
        marker = body.get("NextMarker") or ""
        if not marker:
            return None


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "name": {"type": "str", "required": True},
            "description": {"type": "str", "default": ""},
            "origin_type": {
                "type": "str",
                "choices": ["s3", "mediastore", "mediapackagev2", "lambda"],
                "default": "s3",
            },
            "signing_behavior": {
                "type": "str",
                "choices": ["always", "never", "no-override"],
                "default": "always",
            },
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        },
        supports_check_mode=True,
    )
    p = module.params
    cf = module.client("cloudfront")
    want = {
        "Name": p["name"],
        "Description": p["description"],
        "SigningProtocol": "sigv4",
        "SigningBehavior": p["signing_behavior"],
        "OriginAccessControlOriginType": p["origin_type"],
    }
    try:
        found = _find(cf, p["name"])
        if p["state"] == "absent":
            if found is None:
                module.exit_json(changed=False, id="")
            if not module.check_mode:
                etag = cf.get_origin_access_control(Id=found["Id"])["ETag"]
                cf.delete_origin_access_control(Id=found["Id"], IfMatch=etag)
            module.exit_json(changed=True, id=found["Id"])
        if found is None:
            if module.check_mode:
                module.exit_json(changed=True, id="")
            made = cf.create_origin_access_control(OriginAccessControlConfig=want)
            module.exit_json(changed=True, id=made["OriginAccessControl"]["Id"])
        current = cf.get_origin_access_control(Id=found["Id"])
        have = current["OriginAccessControl"]["OriginAccessControlConfig"]
        if all((have.get(k) or "") == v for k, v in want.items()):
            module.exit_json(changed=False, id=found["Id"])
        if not module.check_mode:
            cf.update_origin_access_control(
                Id=found["Id"], IfMatch=current["ETag"], OriginAccessControlConfig=want
            )
        module.exit_json(changed=True, id=found["Id"])
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"Could not manage the origin access control {p['name']}")


if __name__ == "__main__":
    main()
