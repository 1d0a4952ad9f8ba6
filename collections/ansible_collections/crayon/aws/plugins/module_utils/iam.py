"""IAM as crayon.aws modules read it: aws_stack_state (preflight, destroy) and iam_roles_diff
(aws_iam's read-compare)."""

from __future__ import annotations

import json
from typing import Any

from ansible_collections.crayon.aws.plugins.module_utils.common import (
    ClientError,
    is_missing,
    tags_dict,
)


def read_role(iam: Any, name: str) -> dict[str, Any] | None:
    """The role with its trust and inline policies (as dicts), attached policies, instance
    profiles and tags; None when there is no such role."""
    try:
        r = iam.get_role(RoleName=name)["Role"]
    except ClientError as e:
        if is_missing(e, "NoSuchEntity"):
            return None
        raise
    inline = {}
    for policy_name in iam.list_role_policies(RoleName=name)["PolicyNames"]:
        doc = iam.get_role_policy(RoleName=name, PolicyName=policy_name)["PolicyDocument"]
        inline[policy_name] = json.loads(doc) if isinstance(doc, str) else doc
    attached = [
        p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
    ]
    profiles = [
        p["InstanceProfileName"]
        for p in iam.list_instance_profiles_for_role(RoleName=name)["InstanceProfiles"]
    ]
    trust = r.get("AssumeRolePolicyDocument")
    return {
        "arn": r["Arn"],
        "description": r.get("Description", ""),
        "trust": json.loads(trust) if isinstance(trust, str) else trust,
        "inline_policies": inline,
        "managed_policies": attached,
        "instance_profiles": profiles,
        "tags": tags_dict(iam.list_role_tags(RoleName=name).get("Tags")),
    }


def read_oidc_provider(iam: Any, url: str) -> dict[str, Any] | None:
    """The OpenID Connect provider of issuer `url` (audiences, lower-case thumbprints)."""
    host = url.split("://", 1)[-1].rstrip("/")
    arn = next(
        (
            e["Arn"]
            for e in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
            if e["Arn"].endswith("oidc-provider/" + host)
        ),
        None,
    )
    if not arn:
        return None
    d = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    return {
        "arn": arn,
        "client_ids": sorted(d.get("ClientIDList", [])),
        "thumbprints": sorted(t.lower() for t in d.get("ThumbprintList", [])),
    }
