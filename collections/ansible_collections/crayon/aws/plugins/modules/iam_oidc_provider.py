#!/usr/bin/python
"""An IAM OpenID Connect identity provider (no amazon.aws / community.aws module manages one)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: iam_oidc_provider
short_description: Create or delete an IAM OpenID Connect identity provider
description:
  - Ensures an IAM OIDC identity provider (for example GitHub Actions'
    token.actions.githubusercontent.com) exists with the given audiences and thumbprints,
    or is absent. Supports check mode.
options:
  url:
    description: Issuer URL, for example https://token.actions.githubusercontent.com.
    type: str
    required: true
  client_ids:
    description: Audiences allowed to use the provider.
    type: list
    elements: str
    default: [sts.amazonaws.com]
  thumbprints:
    description: SHA-1 thumbprints of the issuer's certificate chain.
    type: list
    elements: str
    default: []
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
- name: GitHub Actions OIDC provider
  crayon.aws.iam_oidc_provider:
    url: https://token.actions.githubusercontent.com
    client_ids: [sts.amazonaws.com]
    thumbprints: [6938fd4d98bab03faadb97b34396831e3780aea1]
"""

RETURN = r"""
arn:
  description: ARN of the provider (empty when absent).
  returned: always
  type: str
"""


from ansible_collections.crayon.aws.plugins.module_utils.common import (  # noqa: E402
    AWS_ERRORS,
    AnsibleAWSModule,
)


def _host(url: str) -> str:
    return url.split("://", 1)[-1].rstrip("/")


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "url": {"type": "str", "required": True},
            "client_ids": {"type": "list", "elements": "str", "default": ["sts.amazonaws.com"]},
            "thumbprints": {"type": "list", "elements": "str", "default": []},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        },
        supports_check_mode=True,
    )
    iam = module.client("iam")
    url = module.params["url"]
    want_clients = sorted(module.params["client_ids"])
    want_thumbs = sorted(t.lower() for t in module.params["thumbprints"])
    try:
        arn = ""
        current = None
        for entry in iam.list_open_id_connect_providers().get("OpenIDConnectProviderList", []):
            if entry["Arn"].endswith("oidc-provider/" + _host(url)):
                arn = entry["Arn"]
                current = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
        if module.params["state"] == "absent":
            if arn and not module.check_mode:
                iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)
            module.exit_json(changed=bool(arn), arn="")
        if current is None:
            if not module.check_mode:
                arn = iam.create_open_id_connect_provider(
                    Url=url, ClientIDList=want_clients, ThumbprintList=want_thumbs
                )["OpenIDConnectProviderArn"]
            module.exit_json(changed=True, arn=arn)
        changed = False
        have_clients = sorted(current.get("ClientIDList", []))
        for client_id in sorted(set(want_clients) - set(have_clients)):
            changed = True
            if not module.check_mode:
                iam.add_client_id_to_open_id_connect_provider(
                    OpenIDConnectProviderArn=arn, ClientID=client_id
                )
        for client_id in sorted(set(have_clients) - set(want_clients)):
            changed = True
            if not module.check_mode:
                iam.remove_client_id_from_open_id_connect_provider(
                    OpenIDConnectProviderArn=arn, ClientID=client_id
                )
        have_thumbs = sorted(t.lower() for t in current.get("ThumbprintList", []))
        if want_thumbs and have_thumbs != want_thumbs:
            changed = True
            if not module.check_mode:
                iam.update_open_id_connect_provider_thumbprint(
                    OpenIDConnectProviderArn=arn, ThumbprintList=want_thumbs
                )
        module.exit_json(changed=changed, arn=arn)
    except AWS_ERRORS as e:
        module.fail_json_aws(e, msg="Could not manage the OIDC provider")


if __name__ == "__main__":
    main()
