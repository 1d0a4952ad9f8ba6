#!/usr/bin/python
"""A CloudFront Function (viewer-request code), created, updated and published by name."""

from __future__ import annotations

DOCUMENTATION = r"""
module: cloudfront_function
short_description: Create, update, publish or delete a CloudFront Function
description:
  - A CloudFront Function runs at the edge on every viewer request of the behaviours it is
    associated with (the association is part of the distribution's config). A distribution may
    only use a function's LIVE stage, so the module publishes after each change.
  - Compares the code and the configuration (comment, runtime) of the DEVELOPMENT stage with
    the wanted ones and writes only when they differ; publishes when the LIVE stage is missing
    or older. A second run is changed=0. Supports check mode.
  - I(state=absent) deletes the function (it must no longer be associated).
options:
  name:
    description: Function name (letters, digits, - and _; at most 64).
    type: str
    required: true
  code:
    description: The JavaScript (cloudfront-js-2.0 runtime unless I(runtime) says otherwise).
    type: str
  comment:
    description: The function's comment.
    type: str
    default: ""
  runtime:
    description: CloudFront Functions runtime.
    type: str
    choices: [cloudfront-js-1.0, cloudfront-js-2.0]
    default: cloudfront-js-2.0
  publish:
    description:
      - Publish the function (copy DEVELOPMENT to LIVE) after a change or when it was never
        published. Only an emulator without PublishFunction (moto 5.2) needs false.
    type: bool
    default: true
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
- name: Single-page-app fallback
  crayon.aws.cloudfront_function:
    name: shop-prod-spa-fallback
    comment: extensionless paths -> /index.html
    code: "{{ lookup('ansible.builtin.template', 'spa_fallback.js.j2') }}"
  register: spa
"""

RETURN = r"""
arn:
  description: The function's ARN (empty when absent, or when check mode would create it).
  returned: always
  type: str
published:
  description: Whether this run published the function (or, in check mode, would).
  returned: always
  type: bool
"""

import contextlib  # noqa: E402 - Ansible modules document themselves first
from typing import Any  # noqa: E402

from ansible_collections.amazon.aws.plugins.module_utils.modules import (  # noqa: E402
    AnsibleAWSModule,
)

with contextlib.suppress(ImportError):  # AnsibleAWSModule reports a missing botocore
    import botocore


def _describe(cf: Any, name: str, stage: str) -> dict[str, Any] | None:
    try:
        return dict(cf.describe_function(Name=name, Stage=stage))
    except cf.exceptions.NoSuchFunctionExists:
        return None


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "name": {"type": "str", "required": True},
            "code": {"type": "str"},
            "comment": {"type": "str", "default": ""},
            "runtime": {
                "type": "str",
                "choices": ["cloudfront-js-1.0", "cloudfront-js-2.0"],
                "default": "cloudfront-js-2.0",
            },
            "publish": {"type": "bool", "default": True},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        },
        required_if=[("state", "present", ["code"])],
        supports_check_mode=True,
    )
    p = module.params
    cf = module.client("cloudfront")
    try:
        dev = _describe(cf, p["name"], "DEVELOPMENT")
        if p["state"] == "absent":
            if dev is None:
                module.exit_json(changed=False, arn="", published=False)
            if not module.check_mode:
                cf.delete_function(Name=p["name"], IfMatch=dev["ETag"])
            module.exit_json(changed=True, arn="", published=False)
        config = {"Comment": p["comment"], "Runtime": p["runtime"]}
        code = p["code"].encode()
        changed = False
        if dev is None:
            changed = True
            if module.check_mode:
                module.exit_json(changed=True, arn="", published=p["publish"])
            made = cf.create_function(Name=p["name"], FunctionConfig=config, FunctionCode=code)
            etag, arn = made["ETag"], made["FunctionSummary"]["FunctionMetadata"]["FunctionARN"]
        else:
            etag = dev["ETag"]
            arn = dev["FunctionSummary"]["FunctionMetadata"]["FunctionARN"]
            have_config = dev["FunctionSummary"].get("FunctionConfig") or {}
            have_code = cf.get_function(Name=p["name"], Stage="DEVELOPMENT")["FunctionCode"].read()
            if have_code != code or any(have_config.get(k) != v for k, v in config.items()):
                changed = True
                if not module.check_mode:
                    etag = cf.update_function(
                        Name=p["name"], IfMatch=etag, FunctionConfig=config, FunctionCode=code
                    )["ETag"]
        publish = False
        if p["publish"]:
            live = _describe(cf, p["name"], "LIVE")
            publish = changed or live is None
            if publish and not module.check_mode:
                cf.publish_function(Name=p["name"], IfMatch=etag)
        module.exit_json(changed=changed or publish, arn=arn, published=publish)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"Could not manage the CloudFront function {p['name']}")


if __name__ == "__main__":
    main()
