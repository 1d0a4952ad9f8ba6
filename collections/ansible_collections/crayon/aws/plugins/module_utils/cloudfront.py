"""What the kit's two distribution writers share (cloudfront_distribution_config for the public
origin mode, cloudfront_vpc_distribution for the VPC origin mode): finding our distribution by
its comment, comparing a wanted config with the one CloudFront holds, the module's result and
waiting until CloudFront has deployed a change."""

from __future__ import annotations

from typing import Any

from ansible_collections.crayon.aws.plugins.module_utils.common import (
    AnsibleAWSModule,
    wait_for_status,
)


def same(want: Any, have: Any) -> bool:
    """True when every setting in `want` is in `have` (keys CloudFront adds are not compared)."""
    if isinstance(want, dict):
        return isinstance(have, dict) and all(same(v, have.get(k)) for k, v in want.items())
    if isinstance(want, list):
        return (
            isinstance(have, list)
            and len(want) == len(have)
            and all(same(w, h) for w, h in zip(want, have, strict=True))
        )
    if isinstance(want, bool) or isinstance(have, bool):
        return str(want).lower() == str(have).lower()
    if isinstance(want, int | float) or isinstance(have, int | float):
        try:
            return float(want) == float(have)
        except (TypeError, ValueError):
            return False
    return bool(want == have)


def find_distribution(cf: Any, comment: str) -> dict[str, Any] | None:
    """The summary of the one distribution whose comment is `comment` (None: none yet)."""
    found = []
    for page in cf.get_paginator("list_distributions").paginate():
        for item in page.get("DistributionList", {}).get("Items") or []:
            if item.get("Comment") == comment:
                found.append(item)
    if len(found) > 1:
        raise ValueError(
            f"{len(found)} distributions have the comment {comment!r}: the comment must be unique"
        )
    return found[0] if found else None


def distribution_result(dist: dict[str, Any] | None) -> dict[str, Any]:
    """What a distribution module returns about it (empty when there is none)."""
    if not dist:
        return {}
    return {
        "id": dist["Id"],
        "arn": dist.get("ARN", ""),
        "domain_name": dist.get("DomainName", ""),
        "status": dist.get("Status", ""),
    }


def wait_deployed(module: AnsibleAWSModule, cf: Any, did: str) -> dict[str, Any]:
    """The distribution once CloudFront reports it Deployed (minutes on AWS)."""
    return wait_for_status(
        module,
        lambda: dict(cf.get_distribution(Id=did)["Distribution"]),
        "Deployed",
        f"Distribution {did}",
        15,
    )
