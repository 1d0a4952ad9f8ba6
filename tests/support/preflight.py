"""Shared inputs of the preflight tests: preflight's own playbook run on the production
inventory's stack declaration, its group variables overridden by each test's extra vars."""

from __future__ import annotations

import functools
from typing import Any

from tests.support.playbook import ROOT, run_playbook

PLAY = ROOT / "tests/deploy/playbooks/preflight_only.yml"
INVENTORY = ROOT / "inventories/production"
# No expected account (preflight_account_id ''): preflight makes no AWS call, so these runs
# need no emulator. The endpoints still point at a closed loopback port in case one did.
ENV = {"AWS_URL": "http://127.0.0.1:9", "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}
BASE: dict[str, Any] = {
    "aws_account_id": "123456789012",
    "preflight_account_id": "",
    "crayon_env": "production",
    "deploy_target": "ecs",
    "github_repository": "crayon-demo/crayon",
    "github_environment": "production",
    "alert_email": "ops@crayon.example",
}
# A custom domain: the origin is HTTPS (tasks/origin.yml refuses HTTP in production).
HTTPS_ORIGIN = {"aws_cdn_domain": "crayon.crayon.example", "aws_cdn_hosted_zone": "crayon.example"}

run_on_production = functools.partial(run_playbook, inventory=INVENTORY)
