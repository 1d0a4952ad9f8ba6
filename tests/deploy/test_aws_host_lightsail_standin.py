"""aws_host, Lightsail path, against a loopback Lightsail STAND-IN (not against Lightsail).

moto has no Lightsail service, so these tests run the real role and its real module against
tests/support/lightsail_standin.py: a small HTTP server that speaks Lightsail's JSON wire
protocol for exactly the calls the module makes. They prove the requests, the convergence
(second run: no write call at all), check mode and removal. They cannot prove that AWS accepts
the requests, that the blueprint and bundle exist, how the real firewall behaves, quotas, or
that the host boots and is reachable (see docs/deploy-host-aws.md).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.lightsail_standin import LightsailStandin
from tests.support.moto_server import free_port
from tests.support.playbook import ROOT, PlaybookRun, run_playbook

pytestmark = pytest.mark.slow

PLAYBOOK = ROOT / "tests" / "deploy" / "playbooks" / "aws_host_lightsail.yml"
NAME = "crayon-test-host"


def _explain(run: PlaybookRun) -> str:
    return f"changed tasks: {run.changed_tasks()}\n--- output tail ---\n{run.output[-6000:]}"


def _env() -> dict[str, str]:
    # Every other AWS endpoint points at a closed loopback port: the Lightsail path must make
    # no call but the Lightsail ones (which go to aws_host_lightsail_endpoint_url).
    dead = f"http://127.0.0.1:{free_port()}"
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_URL": dead,
        "AWS_ENDPOINT_URL": dead,
        "AWS_EC2_METADATA_DISABLED": "true",
    }


@pytest.fixture(scope="module")
def standin() -> Iterator[LightsailStandin]:
    with LightsailStandin() as server:
        yield server


@pytest.fixture(scope="module")
def built(standin: LightsailStandin, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("aws_host_lightsail") / "published.json"
    extra = {"aws_host_lightsail_endpoint_url": standin.url, "aws_host_test_out": str(out)}
    first = run_playbook(PLAYBOOK, _env(), extra)
    assert first.returncode == 0, _explain(first)
    calls_after_first = len(standin.state.calls)
    return {
        "extra": extra,
        "first": first,
        "published": json.loads(out.read_text()),
        "calls_after_first": calls_after_first,
    }


def test_standin_create_builds_instance_firewall_ip_and_key(
    standin: LightsailStandin, built: dict[str, Any]
) -> None:
    state = standin.state
    assert built["first"].changed > 0
    assert list(state.instances) == [NAME]
    inst = state.instances[NAME]
    assert inst["state"]["name"] == "running"
    assert (inst["blueprintId"], inst["bundleId"]) == ("debian_12", "micro_3_0")
    assert inst["location"]["availabilityZone"] == "us-east-1a"
    assert inst["sshKeyName"] == NAME and NAME in state.key_pairs
    assert "python3" in inst["_userData"]
    tags = {t["key"]: t["value"] for t in inst["tags"]}
    assert tags["Name"] == NAME and tags["Component"] == "host" and tags["Owner"] == "tests"
    rules = sorted(
        (p["fromPort"], p["toPort"], p["protocol"], p["cidrs"]) for p in state.ports[NAME]
    )
    assert rules == [(22, 22, "tcp", ["198.51.100.7/32"]), (8000, 8000, "tcp", ["0.0.0.0/0"])]
    ip = state.static_ips[f"{NAME}-ip"]
    assert ip["isAttached"] and ip["attachedTo"] == NAME
    assert inst["publicIpAddress"] == ip["ipAddress"]
    # It waited for the instance to leave "pending" (the stand-in answers pending first).
    assert state.calls.count("GetInstance") >= 2


def test_standin_published_facts(standin: LightsailStandin, built: dict[str, Any]) -> None:
    published = built["published"]
    ip = standin.state.static_ips[f"{NAME}-ip"]["ipAddress"]
    assert published["aws_host_public_ip"] == ip
    assert published["cdn_origin_domain"] == "origin.crayon.test"
    assert published["group"] == [ip]
    assert published["ansible_user"] == "admin"


def test_standin_second_run_changes_nothing_and_writes_nothing(
    standin: LightsailStandin, built: dict[str, Any]
) -> None:
    before = len(standin.state.calls)
    second = run_playbook(PLAYBOOK, _env(), built["extra"])
    assert second.returncode == 0, _explain(second)
    assert second.changed == 0, _explain(second)
    made = standin.state.calls[before:]
    assert made, "the second run should have read the state"
    assert [c for c in made if not c.startswith("Get")] == []


def test_standin_check_mode_reports_but_does_not_write(
    standin: LightsailStandin, built: dict[str, Any]
) -> None:
    before = len(standin.state.calls)
    same = run_playbook(PLAYBOOK, _env(), built["extra"], check=True)
    assert same.returncode == 0, _explain(same)
    assert same.changed == 0, _explain(same)
    closing_ssh = run_playbook(
        PLAYBOOK, _env(), {**built["extra"], "aws_host_ssh_cidr": ""}, check=True
    )
    assert closing_ssh.returncode == 0, _explain(closing_ssh)
    assert closing_ssh.changed == 1, _explain(closing_ssh)
    assert [c for c in standin.state.calls[before:] if not c.startswith("Get")] == []
    assert len(standin.state.ports[NAME]) == 2


def test_standin_delete_removes_everything(
    standin: LightsailStandin, built: dict[str, Any]
) -> None:
    extra = {**built["extra"], "aws_host_state": "absent"}
    removed = run_playbook(PLAYBOOK, _env(), extra)
    assert removed.returncode == 0, _explain(removed)
    assert removed.changed == 1, _explain(removed)
    state = standin.state
    assert state.instances == {} and state.static_ips == {} and state.key_pairs == {}
    again = run_playbook(PLAYBOOK, _env(), extra)
    assert again.returncode == 0, _explain(again)
    assert again.changed == 0, _explain(again)


def test_standin_refuses_unknown_calls(standin: LightsailStandin) -> None:
    """The stand-in answers only the calls it implements: anything else fails loudly."""
    import boto3
    from botocore.exceptions import ClientError

    client = boto3.client(
        "lightsail",
        endpoint_url=standin.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    with pytest.raises(ClientError, match="not implemented by this Lightsail stand-in"):
        client.get_bundles()
    with pytest.raises(ClientError, match="NotFoundException"):
        client.get_instance(instanceName="nope")


def test_standin_docstring_says_it_is_a_standin() -> None:
    import tests.support.lightsail_standin as module

    assert (module.__doc__ or "").startswith("A STAND-IN for the AWS Lightsail API")
    assert Path(module.__file__ or "").name == "lightsail_standin.py"
