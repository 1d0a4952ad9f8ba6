"""boto3 clients on the scenario's moto server (its URL from moto.json), for after destroy."""

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

PREFIX = "vibejudge-prod"
ACCOUNT = "123456789012"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--moto-state", required=True, help="directory holding moto.json")


@pytest.fixture(scope="session")
def aws(request: pytest.FixtureRequest) -> Callable[[str], Any]:
    state = json.loads((Path(request.config.getoption("--moto-state")) / "moto.json").read_text())
    url = require_loopback(state["url"])
    for key in ("AWS_PROFILE", "AWS_CA_BUNDLE"):
        os.environ.pop(key, None)
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    return lambda service: session.client(service, endpoint_url=url)
