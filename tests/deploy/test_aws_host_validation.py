"""aws_host refuses bad settings early, in words, before any AWS call; specs match defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped,unused-ignore]

from tests.support.moto_server import free_port
from tests.support.playbook import ROOT, run_playbook

ROLE = ROOT / "roles" / "aws_host"
PLAYBOOK = ROOT / "tests" / "deploy" / "playbooks" / "aws_host_only.yml"


def _dead_env() -> dict[str, str]:
    # A closed loopback port: any AWS call would fail with a connection error, not an assert.
    dead = f"http://127.0.0.1:{free_port()}"
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_URL": dead,
        "AWS_ENDPOINT_URL": dead,
    }


BAD: list[tuple[str, dict[str, Any], str]] = [
    ("unknown target", {"deploy_target": "gce"}, 'the target must be "ec2" or\n'),
    (
        "big instance type",
        {"deploy_target": "ec2", "aws_host_ec2_instance_type": "m5.24xlarge"},
        "a cost guard",
    ),
    ("bad CIDR", {"deploy_target": "ec2", "aws_host_ssh_cidr": "10.0.0.300/8"}, "SSH settings"),
    (
        "SSH from anywhere",
        {"deploy_target": "ec2", "aws_host_ssh_cidr": "0.0.0.0/0"},
        "SSH settings",
    ),
    (
        "two SSH keys",
        {
            "deploy_target": "ec2",
            "aws_host_ssh_key_name": "mine",
            "aws_host_ssh_public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBoT x",
        },
        "not both",
    ),
    ("Lightsail without origin name", {"deploy_target": "lightsail"}, "aws_host_origin_domain"),
    (
        "big Lightsail bundle",
        {
            "deploy_target": "lightsail",
            "aws_host_origin_domain": "o.example.test",
            "aws_host_lightsail_bundle_id": "xlarge_3_0",
        },
        "Lightsail settings",
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("extra", "words"), [(e, w) for _, e, w in BAD], ids=[i for i, _, _ in BAD]
)
def test_bad_settings_fail_early_in_words(extra: dict[str, Any], words: str) -> None:
    run = run_playbook(PLAYBOOK, _dead_env(), extra, timeout=300)
    assert run.returncode != 0
    assert run.failed == 1
    flat = " ".join(run.output.split())
    assert " ".join(words.split()) in flat, run.output[-3000:]
    assert "Connection refused" not in run.output and "Could not connect" not in run.output


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def test_argument_specs_match_defaults() -> None:
    defaults = _load(ROLE / "defaults" / "main.yml")
    options = _load(ROLE / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]
    assert set(defaults) == set(options), set(defaults) ^ set(options)
    for name, spec in options.items():
        assert spec.get("description"), f"{name} has no description"
        if "default" in spec:
            assert spec["default"] == defaults[name], name
        if "choices" in spec and isinstance(defaults[name], str) and "{{" not in defaults[name]:
            assert defaults[name] in spec["choices"], name


def test_every_task_is_tagged_and_named() -> None:
    for path in sorted((ROLE / "tasks").glob("*.yml")):
        for task in _load(path) or []:
            assert task.get("name"), f"{path.name}: a task without a name"
    main = _load(ROLE / "tasks" / "main.yml")
    assert all("aws_host" in task.get("tags", []) for task in main)
