#!/usr/bin/python
"""A CloudFront VPC origin (no Ansible module exists for VPC origins)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: cloudfront_vpc_origin
short_description: Create, update or delete a CloudFront VPC origin
description:
  - A VPC origin lets CloudFront reach an internal ALB, an NLB or an EC2 instance in a private
    subnet, so the origin has no public address at all.
  - Finds the VPC origin by name (ListVpcOrigins), creates it when missing, updates it (with
    the ETag as If-Match) when the endpoint settings differ, deletes it when I(state=absent).
    A second run with the same settings makes no write call. Supports check mode.
  - The origin's ARN cannot change in place; a different ARN fails with a clear message
    (delete the VPC origin first, after removing it from the distribution).
options:
  name:
    description: Name of the VPC origin (letters, digits, C(.), C(_), C(-); up to 64).
    type: str
    required: true
  origin_arn:
    description: ARN of the internal ALB, NLB or EC2 instance. Required when I(state=present).
    type: str
  http_port:
    description: Port CloudFront uses for HTTP to the origin.
    type: int
    default: 80
  https_port:
    description: Port CloudFront uses for HTTPS to the origin.
    type: int
    default: 443
  origin_protocol_policy:
    description: How CloudFront talks to the origin.
    type: str
    choices: [http-only, https-only, match-viewer]
    default: http-only
  origin_ssl_protocols:
    description: TLS versions CloudFront offers the origin over HTTPS.
    type: list
    elements: str
    default: [TLSv1.2]
  tags:
    description: Tags set when the VPC origin is created.
    type: dict
    default: {}
  state:
    description: present or absent.
    type: str
    choices: [present, absent]
    default: present
  wait:
    description: Wait until the VPC origin's status is Deployed (minutes on AWS).
    type: bool
    default: false
  wait_timeout:
    description: Seconds to wait.
    type: int
    default: 1200
author: Crayon
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: VPC origin for the internal ALB
  crayon.aws.cloudfront_vpc_origin:
    name: crayon-production-alb
    origin_arn: "{{ aws_ecs_alb_arn }}"
    origin_protocol_policy: http-only

- name: Remove it (after the distribution no longer uses it)
  crayon.aws.cloudfront_vpc_origin:
    name: crayon-production-alb
    state: absent
"""

RETURN = r"""
vpc_origin:
  description: The VPC origin (empty after deletion or when absent).
  returned: always
  type: dict
  contains:
    id: {description: VPC origin id, used in the distribution's VpcOriginConfig., type: str}
    arn: {description: VPC origin ARN., type: str}
    status: {description: Deploying or Deployed., type: str}
    endpoint: {description: The endpoint settings as CloudFront holds them., type: dict}
"""

from typing import Any  # noqa: E402

from ansible_collections.crayon.aws.plugins.module_utils.common import (  # noqa: E402
    AWS_ERRORS,
    AnsibleAWSModule,
    wait_for_status,
)


def _wanted(p: dict[str, Any]) -> dict[str, Any]:
    protocols = list(p["origin_ssl_protocols"])
    return {
        "Name": p["name"],
        "Arn": p["origin_arn"],
        "HTTPPort": p["http_port"],
        "HTTPSPort": p["https_port"],
        "OriginProtocolPolicy": p["origin_protocol_policy"],
        "OriginSslProtocols": {"Quantity": len(protocols), "Items": protocols},
    }


def _comparable(cfg: dict[str, Any]) -> dict[str, Any]:
    ssl = cfg.get("OriginSslProtocols") or {}
    return {
        "Name": cfg.get("Name"),
        "Arn": cfg.get("Arn"),
        "HTTPPort": int(cfg.get("HTTPPort") or 0),
        "HTTPSPort": int(cfg.get("HTTPSPort") or 0),
        "OriginProtocolPolicy": cfg.get("OriginProtocolPolicy"),
        "OriginSslProtocols": sorted(ssl.get("Items") or []),
    }


def _result(origin: dict[str, Any] | None) -> dict[str, Any]:
    if not origin:
        return {}
    return {
        "id": origin["Id"],
        "arn": origin.get("Arn", ""),
        "status": origin.get("Status", ""),
        "endpoint": origin.get("VpcOriginEndpointConfig", {}),
    }


def _find(cf: Any, name: str) -> str | None:
    marker = ""
    while True:
        page = cf.list_vpc_origins(**({"Marker": marker} if marker else {}))["VpcOriginList"]
        for item in page.get("Items") or []:
            if item.get("Name") == name:
                return str(item["Id"])
        marker = page.get("NextMarker") or ""
        if not page.get("IsTruncated") or not marker:
            return None


def _wait(module: AnsibleAWSModule, cf: Any, oid: str) -> dict[str, Any]:
    return wait_for_status(
        module,
        lambda: dict(cf.get_vpc_origin(Id=oid)["VpcOrigin"]),
        "Deployed",
        f"VPC origin {oid}",
        10,
    )


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "name": {"type": "str", "required": True},
            "origin_arn": {"type": "str"},
            "http_port": {"type": "int", "default": 80},
            "https_port": {"type": "int", "default": 443},
            "origin_protocol_policy": {
                "type": "str",
                "choices": ["http-only", "https-only", "match-viewer"],
                "default": "http-only",
            },
            "origin_ssl_protocols": {"type": "list", "elements": "str", "default": ["TLSv1.2"]},
            "tags": {"type": "dict", "default": {}},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "wait": {"type": "bool", "default": False},
            "wait_timeout": {"type": "int", "default": 1200},
        },
        required_if=[("state", "present", ["origin_arn"])],
        supports_check_mode=True,
    )
    p = module.params
    cf = module.client("cloudfront")
    try:
        oid = _find(cf, p["name"])
        found = cf.get_vpc_origin(Id=oid) if oid else None
        origin = found["VpcOrigin"] if found else None
        if p["state"] == "absent":
            if not found:
                module.exit_json(changed=False, vpc_origin={})
            if not module.check_mode:
                cf.delete_vpc_origin(Id=oid, IfMatch=found["ETag"])
            module.exit_json(changed=True, vpc_origin={})

        want = _wanted(p)
        if origin is None:
            if module.check_mode:
                module.exit_json(changed=True, vpc_origin={})
            tags = [{"Key": k, "Value": str(v)} for k, v in sorted(p["tags"].items())]
            made = cf.create_vpc_origin(
                VpcOriginEndpointConfig=want, **({"Tags": {"Items": tags}} if tags else {})
            )["VpcOrigin"]
            if p["wait"]:
                made = _wait(module, cf, made["Id"])
            module.exit_json(changed=True, vpc_origin=_result(made))

        have = origin.get("VpcOriginEndpointConfig") or {}
        if _comparable(have) == _comparable(want):
            if p["wait"] and not module.check_mode:
                origin = _wait(module, cf, origin["Id"])
            module.exit_json(changed=False, vpc_origin=_result(origin))
        if have.get("Arn") != want["Arn"]:
            module.fail_json(
                msg=(
                    f"VPC origin {p['name']} points at {have.get('Arn')}, not {want['Arn']}: the "
                    "ARN cannot change in place. Remove the origin from the distribution, delete "
                    "the VPC origin (state=absent), then run again."
                )
            )
        if module.check_mode:
            module.exit_json(changed=True, vpc_origin=_result(origin))
        updated = cf.update_vpc_origin(
            Id=origin["Id"], IfMatch=found["ETag"], VpcOriginEndpointConfig=want
        )["VpcOrigin"]
        if p["wait"]:
            updated = _wait(module, cf, updated["Id"])
        module.exit_json(changed=True, vpc_origin=_result(updated))
    except AWS_ERRORS as e:
        module.fail_json_aws(e, msg=f"Could not manage the CloudFront VPC origin {p['name']}")


if __name__ == "__main__":
    main()
