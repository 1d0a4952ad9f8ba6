#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Keep the tags of ECR repositories and CloudWatch alarms equal to the stack's."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: resource_tags
short_description: Tags on ECR repositories and CloudWatch alarms, read and compared first
description:
  - community.aws.ecs_ecr and amazon.aws.cloudwatch_metric_alarm take no tags, so the stack's
    cost tags would never reach those resources. This module reads the tags of each resource
    given, and writes only where they differ (adds and changes keys, and removes keys not
    wanted when I(purge_tags) is true).
  - One process for every resource of one service: a no-op run costs one list call each.
options:
  service:
    description: The AWS service the resources belong to.
    type: str
    required: true
    choices: [ecr, cloudwatch]
  arns:
    description: ARNs of the resources (repositories or alarms).
    type: list
    elements: str
    required: true
  tags:
    description: The tags every resource must carry.
    type: dict
    required: true
  purge_tags:
    description: Remove keys not in I(tags).
    type: bool
    default: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
author: Crayon kit
"""

EXAMPLES = r"""
- name: Cost tags on the repositories
  crayon.aws.resource_tags:
    service: ecr
    arns: "{{ repository_arns }}"
    tags: {Project: crayon, Environment: production}
"""

RETURN = r"""
changed_arns:
  description: The resources whose tags were (or, in check mode, would be) written.
  type: list
  elements: str
  returned: always
"""

from typing import Any  # noqa: E402

from ansible_collections.amazon.aws.plugins.module_utils.modules import (  # noqa: E402
    AnsibleAWSModule,
)
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry  # noqa: E402
from botocore.exceptions import BotoCoreError, ClientError  # noqa: E402


class _Ecr:
    def __init__(self, client: Any) -> None:
        self.c = client

    def read(self, arn: str) -> dict[str, str]:
        tags = self.c.list_tags_for_resource(resourceArn=arn).get("tags", [])
        return {t["Key"]: t["Value"] for t in tags}

    def add(self, arn: str, tags: dict[str, str]) -> None:
        self.c.tag_resource(resourceArn=arn, tags=[{"Key": k, "Value": v} for k, v in tags.items()])

    def remove(self, arn: str, keys: list[str]) -> None:
        self.c.untag_resource(resourceArn=arn, tagKeys=keys)


class _CloudWatch:
    def __init__(self, client: Any) -> None:
        self.c = client

    def read(self, arn: str) -> dict[str, str]:
        tags = self.c.list_tags_for_resource(ResourceARN=arn).get("Tags", [])
        return {t["Key"]: t["Value"] for t in tags}

    def add(self, arn: str, tags: dict[str, str]) -> None:
        self.c.tag_resource(ResourceARN=arn, Tags=[{"Key": k, "Value": v} for k, v in tags.items()])

    def remove(self, arn: str, keys: list[str]) -> None:
        self.c.untag_resource(ResourceARN=arn, TagKeys=keys)


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "service": {"type": "str", "required": True, "choices": ["ecr", "cloudwatch"]},
            "arns": {"type": "list", "elements": "str", "required": True},
            "tags": {"type": "dict", "required": True},
            "purge_tags": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    p = module.params
    client = module.client(p["service"], retry_decorator=AWSRetry.jittered_backoff())
    api = _Ecr(client) if p["service"] == "ecr" else _CloudWatch(client)
    wanted = {str(k): str(v) for k, v in p["tags"].items()}
    changed_arns = []
    for arn in p["arns"]:
        try:
            now = api.read(arn)
        except (BotoCoreError, ClientError) as e:
            if module.check_mode:  # not made yet: a real run makes it, then tags it
                changed_arns.append(arn)
                continue
            module.fail_json_aws(e, msg=f"could not read the tags of {arn}")
        add = {k: v for k, v in wanted.items() if now.get(k) != v}
        drop = sorted(k for k in now if k not in wanted) if p["purge_tags"] else []
        if not add and not drop:
            continue
        changed_arns.append(arn)
        if module.check_mode:
            continue
        try:
            if add:
                api.add(arn, add)
            if drop:
                api.remove(arn, drop)
        except (BotoCoreError, ClientError) as e:
            module.fail_json_aws(e, msg=f"could not write the tags of {arn}")
    module.exit_json(changed=bool(changed_arns), changed_arns=changed_arns)


if __name__ == "__main__":
    main()
