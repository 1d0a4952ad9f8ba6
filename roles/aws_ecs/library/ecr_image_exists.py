#!/usr/bin/python
"""Whether an image tag is in an ECR repository (read-only): the first deploy's question.

On a fresh account the repository is empty until the first push. The role creates the
service with no tasks until then (instead of tasks that fail to pull an image that is not
there), and the first deploy gives it its task.
"""

from __future__ import annotations

DOCUMENTATION = r"""
module: ecr_image_exists
short_description: Whether an image tag exists in an ECR repository
description:
  - Read-only. Returns exists=false when the repository or the tag is missing.
options:
  image:
    description: Full image reference, <registry>/<repository>:<tag>.
    type: str
    required: true
author: Crayon
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Is the first image there?
  ecr_image_exists:
    image: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/crayon-production:latest
"""

RETURN = r"""
exists:
  description: Whether the tag is in the repository.
  returned: always
  type: bool
"""

import contextlib  # noqa: E402 - Ansible modules document themselves first

from ansible_collections.amazon.aws.plugins.module_utils.modules import (  # noqa: E402
    AnsibleAWSModule,
)

with contextlib.suppress(ImportError):  # AnsibleAWSModule reports a missing botocore
    import botocore


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={"image": {"type": "str", "required": True}},
        supports_check_mode=True,
    )
    ref = module.params["image"].strip()
    path, _, tag = ref.rpartition(":")
    repository = path.split("/", 1)[-1]
    if not path or "/" not in path or not tag:
        module.fail_json(msg=f"not an image reference <registry>/<repository>:<tag>: {ref!r}")
    ecr = module.client("ecr")
    try:
        ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])
    except botocore.exceptions.ClientError as e:
        code = e.response.get("Error", {}).get("Code", "")
        if code in ("ImageNotFoundException", "RepositoryNotFoundException"):
            module.exit_json(changed=False, exists=False, repository=repository, tag=tag)
        module.fail_json_aws(e, msg=f"Could not look up {ref}")
    module.exit_json(changed=False, exists=True, repository=repository, tag=tag)


if __name__ == "__main__":
    main()
