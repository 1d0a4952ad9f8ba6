"""aws_cdn's CloudFront VPC origin (tasks/vpc_origin.yml + crayon.aws.cloudfront_vpc_origin)
against the loopback stand-in tests/support/cloudfront_vpc_standin.py (moto has no VPC
origins): built once, second run writes nothing, check mode writes nothing, drift updated,
refused in words without an ARN, removed idempotently. The distribution that uses it:
tests/deploy/test_cdn_vpc_distribution.py."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from tests.support.cloudfront_vpc_standin import CloudFrontVpcOriginStandin
from tests.support.moto_server import free_port
from tests.support.playbook import ROOT, run_playbook

pytestmark = pytest.mark.slow  # real ansible-playbook runs

PLAYBOOK = ROOT / "tests" / "deploy" / "playbooks" / "cdn_vpc_origin.yml"
ALB = (
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:"
    "loadbalancer/app/crayon-vo-alb/50dc6c495c0c9188"
)
NAME = "crayon-votest-origin"


def _env() -> dict[str, str]:
    # Every other AWS endpoint is a closed loopback port: only the stand-in may be called.
    dead = f"http://127.0.0.1:{free_port()}"
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_URL": dead,
        "AWS_ENDPOINT_URL": dead,
        "AWS_EC2_METADATA_DISABLED": "true",
    }


@pytest.fixture(scope="module")
def standin() -> Iterator[CloudFrontVpcOriginStandin]:
    with CloudFrontVpcOriginStandin() as s:
        yield s


def _vars(standin: CloudFrontVpcOriginStandin, **extra: Any) -> dict[str, Any]:
    return {
        "crayon_name": "crayon",
        "crayon_env": "votest",
        "aws_cdn_vpc_origin_arn": ALB,
        "aws_cdn_vpc_origin_endpoint_url": standin.url,
        **extra,
    }


@pytest.fixture(scope="module")
def built(standin: CloudFrontVpcOriginStandin) -> dict[str, Any]:
    first = run_playbook(PLAYBOOK, _env(), _vars(standin))
    assert first.returncode == 0, first.output[-4000:]
    assert first.changed > 0
    return {"calls": list(standin.state.calls)}


def _client(standin: CloudFrontVpcOriginStandin) -> Any:
    return boto3.client(
        "cloudfront",
        endpoint_url=standin.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_vpc_origin_is_built_once(standin: CloudFrontVpcOriginStandin, built: Any) -> None:
    assert built["calls"].count("CreateVpcOrigin") == 1
    items = _client(standin).list_vpc_origins()["VpcOriginList"]["Items"]
    assert [(i["Name"], i["OriginEndpointArn"]) for i in items] == [(NAME, ALB)]
    cfg = _client(standin).get_vpc_origin(Id=items[0]["Id"])["VpcOrigin"]
    endpoint = cfg["VpcOriginEndpointConfig"]
    assert endpoint["OriginProtocolPolicy"] == "http-only"
    assert endpoint["OriginSslProtocols"]["Items"] == ["TLSv1.2"]


def test_second_run_and_check_mode_write_nothing(
    standin: CloudFrontVpcOriginStandin, built: Any
) -> None:
    before = len(standin.state.calls)
    again = run_playbook(PLAYBOOK, _env(), _vars(standin))
    assert again.returncode == 0, again.output[-4000:]
    assert again.changed == 0, again.changed_tasks()
    check = run_playbook(
        PLAYBOOK, _env(), _vars(standin, aws_cdn_origin_https_port=8443), check=True
    )
    assert check.returncode == 0, check.output[-4000:]
    assert "aws_cdn : CloudFront VPC origin" in check.changed_tasks()
    made = standin.state.calls[before:]
    assert made and all(c.startswith(("Get", "List")) for c in made), made


def test_drift_is_updated_with_if_match(standin: CloudFrontVpcOriginStandin, built: Any) -> None:
    run = run_playbook(PLAYBOOK, _env(), _vars(standin, aws_cdn_origin_protocol="https-only"))
    assert run.returncode == 0, run.output[-4000:]
    assert standin.state.calls[-1] == "UpdateVpcOrigin"
    (origin,) = standin.state.origins.values()
    assert origin["Config"]["OriginProtocolPolicy"] == "https-only"
    back = run_playbook(PLAYBOOK, _env(), _vars(standin))
    assert back.returncode == 0 and back.changed == 1, back.output[-4000:]


def test_missing_arn_is_refused_in_words(standin: CloudFrontVpcOriginStandin) -> None:
    run = run_playbook(PLAYBOOK, _env(), _vars(standin, aws_cdn_vpc_origin_arn=""))
    assert run.returncode != 0
    assert "needs the ARN of an internal ALB" in " ".join(run.output.split())


def test_an_unknown_origin_mode_is_refused_in_words() -> None:
    run = run_playbook(
        ROOT / "tests" / "deploy" / "playbooks" / "edge_roles.yml",
        _env(),
        {
            "crayon_name": "crayon",
            "crayon_env": "votest",
            "edge_roles": ["aws_cdn"],
            "aws_cdn_origin_secret": "x" * 20,
            "aws_cdn_origin_domain": "alb.example.org",
            "aws_cdn_origin_mode": "private",
        },
    )
    assert run.returncode != 0
    out = " ".join(run.output.split())
    # The role's argument spec stops it first, naming the variable and the choices.
    assert "aws_cdn_origin_mode must be one of: public, vpc_origin, got: private" in out, out[
        -3000:
    ]


def test_removal_is_idempotent(standin: CloudFrontVpcOriginStandin, built: Any) -> None:
    gone = run_playbook(PLAYBOOK, _env(), _vars(standin, aws_cdn_state="absent"))
    assert gone.returncode == 0 and gone.changed == 1, gone.output[-4000:]
    assert standin.state.origins == {}
    again = run_playbook(PLAYBOOK, _env(), _vars(standin, aws_cdn_state="absent"))
    assert again.returncode == 0 and again.changed == 0, again.changed_tasks()
