"""playbooks/rotate-secret.yml against a real moto server: a declared secret gets a new
current value (the old one stays AWSPREVIOUS, other JSON keys stay), only the services whose
task definitions read it are rolled, the value never shows in the output, check mode changes
nothing, and a secret that is not declared is refused before any AWS call."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.support.moto_server import MotoServer, free_port
from tests.support.playbook import ROOT, run_playbook

pytestmark = pytest.mark.slow  # real ansible-playbook runs

PLAYBOOK = ROOT / "playbooks" / "rotate-secret.yml"
CLUSTER = "shop-prod"
DECLARED = [
    {"name": "gemini-api-key", "id": "shop/prod/gemini-api-key", "json_key": ""},
    {"name": "session", "id": "shop/prod/session", "json_key": "session_key"},
]
NEW_KEY = "AIzaNEW-" + "k" * 30


def client(env: dict[str, str], service: str) -> Any:
    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    ).client(service, endpoint_url=env["AWS_ENDPOINT_URL"])


def inventory(tmp_path: Path) -> Path:
    path = tmp_path / "hosts.yml"
    path.write_text(
        "all:\n  children:\n    aws:\n      hosts:\n        aws_api:\n"
        "          ansible_connection: local\n"
    )
    return path


def deployment_ids(env: dict[str, str]) -> dict[str, str]:
    found = client(env, "ecs").describe_services(cluster=CLUSTER, services=["api", "web", "worker"])
    return {s["serviceName"]: s["deployments"][0]["id"] for s in found["services"]}


@pytest.fixture(scope="module")
def ecs_moto() -> Iterator[MotoServer]:
    """A moto server of its own that reports a service's tasks as running (moto runs none),
    so the playbook's wait for the rolled services can finish."""
    saved = os.environ.get("MOTO_ECS_SERVICE_RUNNING")
    os.environ["MOTO_ECS_SERVICE_RUNNING"] = "1"
    try:
        server = MotoServer().start()
    finally:
        if saved is None:
            del os.environ["MOTO_ECS_SERVICE_RUNNING"]
        else:
            os.environ["MOTO_ECS_SERVICE_RUNNING"] = saved
    try:
        yield server
    finally:
        server.stop()


def build_stack(server: MotoServer) -> dict[str, Any]:
    """Two declared secrets and three services: api injects the API key (valueFrom), worker
    gets the session secret's name in its environment, web uses neither."""
    server.reset()
    env = server.env()
    sm = client(env, "secretsmanager")
    gemini = sm.create_secret(Name="shop/prod/gemini-api-key", SecretString="AIzaOLD")["ARN"]
    sm.create_secret(
        Name="shop/prod/session", SecretString=json.dumps({"session_key": "s1", "keep": "me"})
    )
    ecs = client(env, "ecs")
    ecs.create_cluster(clusterName=CLUSTER)
    containers = {
        "api": {"secrets": [{"name": "GEMINI_API_KEY", "valueFrom": gemini}]},
        "web": {"environment": [{"name": "API_URL", "value": "/api"}]},
        "worker": {"environment": [{"name": "SESSION_SECRET_ID", "value": "shop/prod/session"}]},
    }
    for name, extra in containers.items():
        ecs.register_task_definition(
            family=f"{CLUSTER}-{name}",
            containerDefinitions=[{"name": name, "image": "nginx", "memory": 128, **extra}],
        )
        ecs.create_service(
            cluster=CLUSTER, serviceName=name, taskDefinition=f"{CLUSTER}-{name}", desiredCount=1
        )
    return {"env": env, "gemini_arn": gemini}


@pytest.fixture
def stack(ecs_moto: MotoServer) -> dict[str, Any]:
    return build_stack(ecs_moto)


def asked(**extra: Any) -> dict[str, Any]:
    return {
        "rotate_secret_declared": DECLARED,
        "rotate_secret_cluster": CLUSTER,
        "rotate_secret_region": "us-east-1",
        "rotate_secret_wait_timeout": 60,
        **extra,
    }


def test_rotates_the_value_and_rolls_only_the_services_that_read_it(
    stack: dict[str, Any], tmp_path: Path
) -> None:
    env = stack["env"]
    before = deployment_ids(env)
    run = run_playbook(
        PLAYBOOK,
        {**env, "ROTATE_SECRET_VALUE": NEW_KEY},
        asked(rotate_secret="gemini-api-key"),
        inventory=inventory(tmp_path),
        verbosity=2,
    )
    assert run.returncode == 0, run.output[-4000:]
    sm = client(env, "secretsmanager")
    assert sm.get_secret_value(SecretId="shop/prod/gemini-api-key")["SecretString"] == NEW_KEY
    previous = sm.get_secret_value(SecretId="shop/prod/gemini-api-key", VersionStage="AWSPREVIOUS")
    assert previous["SecretString"] == "AIzaOLD"
    after = deployment_ids(env)
    assert after["api"] != before["api"]
    assert after["web"] == before["web"] and after["worker"] == before["worker"]
    assert NEW_KEY not in run.output and "AIzaOLD" not in run.output
    assert "ROTATED gemini-api-key" in run.output and "api" in run.output


def test_a_json_secret_gets_a_generated_key_and_keeps_its_other_keys(
    stack: dict[str, Any], tmp_path: Path
) -> None:
    env = stack["env"]
    before = deployment_ids(env)
    run = run_playbook(
        PLAYBOOK,
        env,
        asked(rotate_secret="session", rotate_secret_generate=True),
        inventory=inventory(tmp_path),
    )
    assert run.returncode == 0, run.output[-4000:]
    value = json.loads(
        client(env, "secretsmanager").get_secret_value(SecretId="shop/prod/session")["SecretString"]
    )
    assert value["keep"] == "me"
    assert value["session_key"] != "s1" and len(value["session_key"]) == 48
    assert value["session_key"] not in run.output
    after = deployment_ids(env)
    assert after["worker"] != before["worker"]
    assert after["api"] == before["api"] and after["web"] == before["web"]


def test_check_mode_changes_nothing(stack: dict[str, Any], tmp_path: Path) -> None:
    env = stack["env"]
    before = deployment_ids(env)
    run = run_playbook(
        PLAYBOOK,
        {**env, "ROTATE_SECRET_VALUE": NEW_KEY},
        asked(rotate_secret="gemini-api-key"),
        inventory=inventory(tmp_path),
        check=True,
    )
    assert run.returncode == 0, run.output[-4000:]
    sm = client(env, "secretsmanager")
    assert sm.get_secret_value(SecretId="shop/prod/gemini-api-key")["SecretString"] == "AIzaOLD"
    assert deployment_ids(env) == before


@pytest.mark.parametrize(
    ("extra", "value", "said"),
    [
        ({"rotate_secret": "stripe-key"}, NEW_KEY, "'stripe-key' is not a declared secret"),
        ({"rotate_secret": "gemini-api-key"}, "", "ROTATE_SECRET_VALUE"),
        ({"rotate_secret": "gemini-api-key", "rotate_secret_generate": True}, NEW_KEY, "not both"),
    ],
)
def test_a_bad_request_is_refused_before_any_aws_call(
    moto: MotoServer, tmp_path: Path, extra: dict[str, Any], value: str, said: str
) -> None:
    # Nothing listens on this loopback port: any AWS call would fail with a connection error.
    dead = f"http://127.0.0.1:{free_port()}"
    env = {**moto.env(), "AWS_URL": dead, "AWS_ENDPOINT_URL": dead, "ROTATE_SECRET_VALUE": value}
    run = run_playbook(PLAYBOOK, env, asked(**extra), inventory=inventory(tmp_path))
    assert run.returncode != 0
    assert "NOT ROTATED" in run.output and said in run.output
    assert "Nothing was changed" in run.output
    assert "Could not connect" not in run.output
