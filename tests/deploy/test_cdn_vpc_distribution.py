"""aws_cdn with aws_cdn_origin_mode: vpc_origin (tasks/vpc_distribution.yml, modules
cloudfront_vpc_origin and cloudfront_vpc_distribution) against the loopback stand-in
tests/support/cloudfront_vpc_standin.py: moto has no VPC origins and drops an origin's
VpcOriginConfig, so these calls go to the stand-in and every other AWS endpoint is a closed
loopback port. Built once (VPC origin, then a distribution whose only origin is that VPC
origin, with the same behaviours and origin header as the public mode); second run and check
mode write nothing; drift is written with If-Match; removal disables and deletes the
distribution, then the VPC origin. The stand-in proves the requests and the convergence, not
that AWS accepts them (see its docstring)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.support.cloudfront_vpc_standin import CloudFrontVpcOriginStandin
from tests.support.moto_server import free_port
from tests.support.playbook import ROOT, run_playbook

pytestmark = pytest.mark.slow  # real ansible-playbook runs

PLAYBOOK = ROOT / "tests" / "deploy" / "playbooks" / "edge_roles.yml"
ALB = (
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:"
    "loadbalancer/app/crayon-vd-alb/50dc6c495c0c9188"
)
ALB_DNS = "internal-crayon-vd-alb-1.us-east-1.elb.amazonaws.com"
SECRET = "vpc-distribution-origin-verify-0123456789"
COMMENT = "crayon-vdtest (Crayon kit, role aws_cdn)"


def _env() -> dict[str, str]:
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
        "crayon_env": "vdtest",
        "edge_roles": ["aws_cdn"],
        "aws_cdn_origin_mode": "vpc_origin",
        "aws_cdn_origin_domain": ALB_DNS,
        "aws_cdn_vpc_origin_arn": ALB,
        "aws_cdn_vpc_origin_endpoint_url": standin.url,
        "aws_cdn_origin_secret": SECRET,
        **extra,
    }


def _client(standin: CloudFrontVpcOriginStandin) -> Any:
    return boto3.client(
        "cloudfront",
        endpoint_url=standin.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _config(standin: CloudFrontVpcOriginStandin) -> dict[str, Any]:
    (dist,) = _client(standin).list_distributions()["DistributionList"]["Items"]
    got: dict[str, Any] = _client(standin).get_distribution_config(Id=dist["Id"])
    return got["DistributionConfig"]


@pytest.fixture(scope="module")
def built(standin: CloudFrontVpcOriginStandin) -> list[str]:
    first = run_playbook(PLAYBOOK, _env(), _vars(standin))
    assert first.returncode == 0, first.output[-4000:]
    assert first.changed > 0
    return list(standin.state.write_calls())


def test_the_distribution_reaches_the_app_only_through_the_vpc_origin(
    standin: CloudFrontVpcOriginStandin, built: list[str]
) -> None:
    assert built == ["CreateVpcOrigin", "CreateDistributionWithTags"]
    (vpc_origin_id,) = standin.state.origins
    cfg = _config(standin)
    assert cfg["Comment"] == COMMENT and cfg["Enabled"] is True
    (origin,) = cfg["Origins"]["Items"]
    assert origin["VpcOriginConfig"]["VpcOriginId"] == vpc_origin_id
    assert origin["VpcOriginConfig"]["OriginReadTimeout"] == 60
    assert "CustomOriginConfig" not in origin and "S3OriginConfig" not in origin
    assert origin["DomainName"] == ALB_DNS
    assert origin["CustomHeaders"]["Items"] == [
        {"HeaderName": "X-Origin-Verify", "HeaderValue": SECRET}
    ]
    # The same behaviours as the public mode: SSE uncompressed, static files cached.
    paths = {b["PathPattern"]: b for b in cfg["CacheBehaviors"]["Items"]}
    assert set(paths) == {"/api/events", "/static/*"}
    assert paths["/api/events"]["Compress"] is False
    assert "Last-Event-ID" in paths["/api/events"]["ForwardedValues"]["Headers"]["Items"]
    assert paths["/static/*"]["DefaultTTL"] == 86400
    assert cfg["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    assert cfg["DefaultCacheBehavior"]["MaxTTL"] == 0


def test_second_run_and_check_mode_write_nothing(
    standin: CloudFrontVpcOriginStandin, built: list[str]
) -> None:
    writes = len(standin.state.write_calls())
    again = run_playbook(PLAYBOOK, _env(), _vars(standin))
    assert again.returncode == 0, again.output[-4000:]
    assert again.changed == 0, again.changed_tasks()
    check = run_playbook(PLAYBOOK, _env(), _vars(standin), check=True)
    assert check.returncode == 0 and check.changed == 0, check.changed_tasks()
    drift = run_playbook(
        PLAYBOOK,
        _env(),
        _vars(standin, aws_cdn_cached_paths=[{"path": "/static/*", "ttl": 600}]),
        check=True,
    )
    assert drift.returncode == 0, drift.output[-4000:]
    assert "aws_cdn : CloudFront distribution through the VPC origin" in drift.changed_tasks()
    assert len(standin.state.write_calls()) == writes


def test_drift_is_written_with_if_match(
    standin: CloudFrontVpcOriginStandin, built: list[str]
) -> None:
    run = run_playbook(
        PLAYBOOK, _env(), _vars(standin, aws_cdn_cached_paths=[{"path": "/static/*", "ttl": 600}])
    )
    assert run.returncode == 0 and run.changed == 1, run.output[-4000:]
    assert standin.state.write_calls()[-1] == "UpdateDistribution"
    paths = {b["PathPattern"]: b for b in _config(standin)["CacheBehaviors"]["Items"]}
    assert paths["/static/*"]["DefaultTTL"] == 600
    back = run_playbook(PLAYBOOK, _env(), _vars(standin))
    assert back.returncode == 0 and back.changed == 1, back.output[-4000:]


def test_a_vpc_origin_in_use_cannot_be_deleted(
    standin: CloudFrontVpcOriginStandin, built: list[str]
) -> None:
    (oid,) = standin.state.origins
    cf = _client(standin)
    etag = cf.get_vpc_origin(Id=oid)["ETag"]
    with pytest.raises(ClientError) as err:
        cf.delete_vpc_origin(Id=oid, IfMatch=etag)
    assert err.value.response["Error"]["Code"] == "CannotDeleteEntityWhileInUse"


def test_removal_disables_then_deletes_and_is_idempotent(
    standin: CloudFrontVpcOriginStandin, built: list[str]
) -> None:
    before = len(standin.state.calls)
    gone = run_playbook(PLAYBOOK, _env(), _vars(standin, edge_state="absent"))
    assert gone.returncode == 0 and gone.changed > 0, gone.output[-4000:]
    writes = [c for c in standin.state.calls[before:] if not c.startswith(("Get", "List"))]
    assert writes == ["UpdateDistribution", "DeleteDistribution", "DeleteVpcOrigin"]
    assert standin.state.distributions == {} and standin.state.origins == {}
    again = run_playbook(PLAYBOOK, _env(), _vars(standin, edge_state="absent"))
    assert again.returncode == 0 and again.changed == 0, again.changed_tasks()
