"""Fixtures for reading the emulated stack back: boto3 clients on the scenario's moto server."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO))

from tests.support.moto_server import require_loopback  # noqa: E402

NAME = "crayon-emulated"
ACCOUNT = "123456789012"
REGION = "us-east-1"
DATA_BUCKET = f"{NAME}-data-{ACCOUNT}"
REPLICA_BUCKET = f"{NAME}-replica-{ACCOUNT}"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--moto-state", required=True, help="directory holding moto.json")


@pytest.fixture(scope="session")
def moto_state(request: pytest.FixtureRequest) -> dict[str, Any]:
    state = json.loads((Path(request.config.getoption("--moto-state")) / "moto.json").read_text())
    require_loopback(state["url"])
    return state


@pytest.fixture(scope="session")
def aws(moto_state: dict[str, Any]) -> Callable[[str], Any]:
    for key in ("AWS_PROFILE", "AWS_CA_BUNDLE"):
        os.environ.pop(key, None)
    session = boto3.session.Session(
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        aws_session_token="testing",
        region_name=REGION,
    )
    clients: dict[str, Any] = {}

    def client(service: str) -> Any:
        if service not in clients:
            clients[service] = session.client(service, endpoint_url=moto_state["url"])
        return clients[service]

    return client
