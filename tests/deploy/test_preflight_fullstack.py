"""A bad fullstack inventory stops in preflight, before any AWS call: site.yml with seed 004's
dev inventory and one mistake, its AWS endpoints pointed at a loopback listener that counts
connections. The message names the service (or stack) and the field and says what to fix; the
listener sees no connection. The control (the inventory as shipped) does reach it."""

from __future__ import annotations

import copy
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tests.support.playbook import ROOT, run_playbook

pytestmark = pytest.mark.slow  # real ansible-playbook runs

INVENTORY = ROOT / "inventories" / "examples" / "fullstack" / "dev"
DECLARED = yaml.safe_load((INVENTORY / "group_vars" / "all" / "main.yml").read_text())


class Listener:
    """A TCP listener on 127.0.0.1 that accepts, counts and closes every connection."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.connections = 0
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=2)
        self.sock.close()


@pytest.fixture()
def listener() -> Iterator[Listener]:
    lst = Listener()
    yield lst
    lst.close()


def _run(listener: Listener, stack: dict[str, Any], services: list[dict[str, Any]]) -> str:
    env = {
        "AWS_URL": listener.url,
        "AWS_ENDPOINT_URL": listener.url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    run = run_playbook(
        ROOT / "playbooks" / "site.yml",
        env,
        {"stack": stack, "services": services},
        inventory=INVENTORY,
        timeout=600,
    )
    assert run.returncode != 0, run.output[-3000:]
    return " ".join(run.output.split())


def _declared() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    return copy.deepcopy(DECLARED["stack"]), copy.deepcopy(DECLARED["services"])


def _undeclared_secret(stack: dict[str, Any], services: list[dict[str, Any]]) -> None:
    services[0]["secrets"] = {"GEMINI_API_KEY": {"secret": "gemini"}}


def _undeclared_permission(stack: dict[str, Any], services: list[dict[str, Any]]) -> None:
    services[0]["permissions"]["secrets"] = ["openai-key"]


def _undeclared_reference(stack: dict[str, Any], services: list[dict[str, Any]]) -> None:
    services[0]["environment"]["GEMINI_SECRET_ID"] = "${secret:gemini}"


def _backend_missing(stack: dict[str, Any], services: list[dict[str, Any]]) -> None:
    stack["database"]["backend"] = "api"


def _backend_on_a_host(stack: dict[str, Any], services: list[dict[str, Any]]) -> None:
    stack["target"] = "ec2"


def _no_network(stack: dict[str, Any], services: list[dict[str, Any]]) -> None:
    stack["roles"] = {"aws_network": False}


@pytest.mark.parametrize(
    ("mistake", "says"),
    [
        (
            _undeclared_secret,
            "service 'backend': secrets.GEMINI_API_KEY.secret names 'gemini', which is not "
            "declared in stack.secrets; declare it there or use one of: gemini-api-key",
        ),
        (
            _undeclared_permission,
            "service 'backend': permissions.secrets[0] names 'openai-key', which is not declared "
            "in stack.secrets",
        ),
        (
            _undeclared_reference,
            "service 'backend': environment.GEMINI_SECRET_ID names secret 'gemini', which is not "
            "declared in stack.secrets",
        ),
        (
            _backend_missing,
            "database.backend names 'api', which is not a declared service",
        ),
        (
            _backend_on_a_host,
            "stack: database.backend names service 'backend', which runs on one ec2 host outside "
            "the VPC's app security group: the database would be without the backend's security "
            "group; set stack.target: ecs",
        ),
        (
            _no_network,
            "stack: roles.aws_network is false, but database.backend 'backend' needs the VPC",
        ),
    ],
    ids=lambda v: getattr(v, "__name__", "")[:30],
)
def test_a_bad_inventory_stops_before_any_aws_call(
    listener: Listener, mistake: Any, says: str
) -> None:
    stack, services = _declared()
    mistake(stack, services)
    output = _run(listener, stack, services)
    assert says in output, output[-3000:]
    assert "Build the stack model" in output
    assert listener.connections == 0


def test_the_inventory_as_shipped_gets_past_the_model_to_aws(listener: Listener) -> None:
    """The control: the same run with the declaration as shipped does call the endpoint."""
    stack, services = _declared()
    _run(listener, stack, services)
    assert listener.connections > 0
