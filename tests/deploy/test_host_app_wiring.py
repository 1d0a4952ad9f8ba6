"""What site.yml and host.yml give app_host on an ec2 | lightsail host, rendered for real.

Both playbooks load playbooks/vars/host_app.yml in their app-host play. These tests run a real
`ansible-playbook` (tests/deploy/playbooks/host_app_wiring.yml) that loads the same file,
takes app_host's defaults from the role and renders app_host's own app.env.j2 and
litestream.yml.j2 into a temporary folder; then they read the files back. No AWS call is made
(the AWS endpoints point at a closed loopback port) and no systemd host is needed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.test_lightsail_credentials import _parse_env
from tests.deploy.test_stack_model import crayon_stack
from tests.support.moto_server import free_port
from tests.support.playbook import ROOT, run_playbook

pytestmark = pytest.mark.slow  # real ansible-playbook runs

PLAYBOOK = ROOT / "tests" / "deploy" / "playbooks" / "host_app_wiring.yml"
STACK = {"crayon_name": "crayon", "crayon_env": "wiring", "aws_account_id": "123456789012"}


def _render(tmp_path: Path, **extra: Any) -> tuple[dict[str, str], dict[str, Any]]:
    dead = f"http://127.0.0.1:{free_port()}"
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_URL": dead,
        "AWS_ENDPOINT_URL": dead,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    run = run_playbook(PLAYBOOK, env, {"wiring_out": str(tmp_path), **extra})
    assert run.returncode == 0 and run.failed == 0, run.output[-5000:]
    replica = yaml.safe_load((tmp_path / "litestream.yml").read_text())["dbs"][0]["replica"]
    return _parse_env(tmp_path / "crayon.env"), replica


@pytest.mark.parametrize("target", ["ec2", "lightsail"])
def test_host_run_alone_gets_the_names_the_aws_roles_use(tmp_path: Path, target: str) -> None:
    """host.yml alone (no AWS play facts): the model is built from the inventory's declaration."""
    env, replica = _render(tmp_path, deploy_target=target, aws_region="eu-west-1", **STACK)
    assert env["CRAYON_S3_BUCKET"] == "crayon-wiring-data-123456789012"
    assert env["CRAYON_ADMIN_SECRET_ID"] == "crayon/wiring/admin"
    assert env["CRAYON_SESSION_SECRET_ID"] == "crayon/wiring/session"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert env["CRAYON_REPLICA_URL"] == "s3://crayon-wiring-replica-123456789012/db"
    assert env["CRAYON_ENV"] == "production"
    assert env["CRAYON_ORIGIN_SECRET_ID"] == "crayon/wiring/origin-verify"
    assert replica == {
        "type": "s3",
        "bucket": "crayon-wiring-replica-123456789012",
        "path": "db",
        "region": "eu-west-1",
        "sync-interval": "1s",
    }


def test_the_aws_play_hosts_model_is_used(tmp_path: Path) -> None:
    """site.yml: the model preflight set on the AWS play's host wins over the inventory's."""
    environment = {
        "CRAYON_S3_BUCKET": "${bucket:data}",
        "CRAYON_REPLICA_URL": "s3://${bucket:replica}/db",
        "CRAYON_ADMIN_SECRET_ID": "${secret:admin}",
        "CRAYON_SESSION_SECRET_ID": "${secret:session}",
        "CRAYON_TRUSTED_PROXY_HOPS": "2",
    }
    declared = {
        "name": "custom",
        "env": "prod",
        "region": "ap-south-1",
        "account_id": "123456789012",
        "target": "ec2",
        "buckets": [{"name": "data"}, {"name": "replica"}],
        "secrets": [{"name": "admin"}, {"name": "session"}],
    }
    model = crayon_stack(declared, [{"name": "app", "environment": environment}])
    env, replica = _render(
        tmp_path, deploy_target="ec2", wiring_aws={"crayon_model": model}, **STACK
    )
    assert env["CRAYON_S3_BUCKET"] == "custom-prod-data-123456789012"
    assert env["CRAYON_ADMIN_SECRET_ID"] == "custom/prod/admin"
    assert env["CRAYON_SESSION_SECRET_ID"] == "custom/prod/session"
    assert env["AWS_REGION"] == "ap-south-1"
    assert env["CRAYON_REPLICA_URL"] == "s3://custom-prod-replica-123456789012/db"
    assert (replica["bucket"], replica["region"]) == (
        "custom-prod-replica-123456789012",
        "ap-south-1",
    )
    # What app_host sets for a host itself is not taken from the ECS-minded declaration.
    assert env.get("CRAYON_TRUSTED_PROXY_HOPS") != "2"


def test_the_operator_wins(tmp_path: Path) -> None:
    operator = {
        "app_host_env": {"CRAYON_S3_BUCKET": "operator-data", "CRAYON_DURABLE_WRITES": "1"},
        "app_host_litestream_bucket": "operator-replica",
        "app_host_litestream_region": "eu-central-1",
    }
    env, replica = _render(tmp_path, deploy_target="lightsail", wiring_operator=operator, **STACK)
    assert env["CRAYON_S3_BUCKET"] == "operator-data"
    assert env["CRAYON_DURABLE_WRITES"] == "1"
    # What the operator did not set still comes from the stack.
    assert env["CRAYON_ADMIN_SECRET_ID"] == "crayon/wiring/admin"
    assert env["CRAYON_REPLICA_URL"] == "s3://operator-replica/db"
    assert (replica["bucket"], replica["region"]) == ("operator-replica", "eu-central-1")


def test_off_aws_nothing_is_added(tmp_path: Path) -> None:
    """stack.target ecs (no host on AWS): app_host's own defaults."""
    operator = {"app_host_env": {"CRAYON_S3_BUCKET": "local-data"}}
    env, replica = _render(tmp_path, wiring_operator=operator, **STACK)
    assert env["CRAYON_S3_BUCKET"] == "local-data"
    assert not {"CRAYON_ADMIN_SECRET_ID", "AWS_REGION", "CRAYON_REPLICA_URL"} & env.keys()
    assert (replica["bucket"], replica["path"], replica["region"]) == ("", "db", "us-east-1")


@pytest.mark.parametrize("playbook", ["site.yml", "host.yml"])
def test_both_playbooks_load_the_file_in_their_app_host_play(playbook: str) -> None:
    plays = yaml.safe_load((ROOT / "playbooks" / playbook).read_text())
    app_plays = [p for p in plays if p["hosts"] == "app_hosts"]
    assert len(app_plays) == 1
    assert app_plays[0]["vars_files"] == ["vars/host_app.yml"]
    test_plays = yaml.safe_load(PLAYBOOK.read_text())
    assert test_plays[1]["vars_files"][0] == "../../../playbooks/vars/host_app.yml"
