"""aws_certificate (roles/aws_certificate, module acm_dns_certificate) against a real moto
server: with a custom domain in a Route 53 zone, an ACM certificate is requested in us-east-1
(CloudFront's) and in the stack's region (the ALB's), the DNS validation records are written
into the zone, the run waits until ACM issues them, and hands the ALB's certificate on as
app_certificate_arn; aws_cdn then reaches the origin with https-only over TLS 1.2 and serves
viewers TLS 1.2 at least. Second run and check mode change nothing; bad input is refused in
words; without a domain nothing is requested.

moto issues a requested certificate MOTO_ACM_VALIDATION_WAIT seconds after the request,
whether or not the records exist (AWS needs them to resolve): this proves the calls, the
records' shape and the waiting, not that AWS would validate a given zone."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
import pytest

from tests.support.moto_server import MotoServer, free_port, require_loopback
from tests.support.playbook import ROOT, run_playbook

pytestmark = pytest.mark.slow  # real ansible-playbook runs

PLAYBOOK = ROOT / "tests" / "deploy" / "playbooks" / "certificate.yml"
DOMAIN = "crayon.example.org"
ZONE = "example.org"
VARS: dict[str, Any] = {
    "crayon_name": "crayon",
    "crayon_env": "certtest",
    "aws_region": "eu-west-1",
    "deploy_target": "ecs",
    "aws_cdn_domain": DOMAIN,
    "aws_cdn_hosted_zone": ZONE,
    "aws_certificate_wait_timeout": 120,
}
CDN_VARS: dict[str, Any] = {
    "cert_roles": ["aws_certificate", "aws_cdn"],
    "aws_ecs_alb_dns_name": "crayon-certtest-alb-1.eu-west-1.elb.amazonaws.com",
    "aws_cdn_origin_secret": "cert-test-origin-verify-0123456789",
}


@pytest.fixture(scope="module")
def moto_acm() -> Iterator[MotoServer]:
    # Its own server: moto reads the validation wait from its environment at start.
    with mock.patch.dict(os.environ, {"MOTO_ACM_VALIDATION_WAIT": "2"}):
        server = MotoServer().start()
    require_loopback(server.url)
    try:
        yield server
    finally:
        server.stop()


def _client(env: dict[str, str], service: str, region: str = "us-east-1") -> Any:
    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region
    ).client(service, endpoint_url=env["AWS_ENDPOINT_URL"])


def _run(env: dict[str, str], tmp_path: Path, check: bool = False, **extra: Any) -> Any:
    facts = tmp_path / "facts.json"
    run = run_playbook(PLAYBOOK, env, {**VARS, **extra, "cert_facts_file": str(facts)}, check=check)
    run.facts = json.loads(facts.read_text()) if facts.exists() else {}
    return run


@pytest.fixture(scope="module")
def built(moto_acm: MotoServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    env = moto_acm.env()
    zone = _client(env, "route53").create_hosted_zone(Name=ZONE, CallerReference="certtest")
    first = _run(env, tmp_path_factory.mktemp("first"))
    assert first.returncode == 0 and first.failed == 0, first.output[-4000:]
    assert first.changed > 0
    return {"env": env, "zone_id": zone["HostedZone"]["Id"], "facts": first.facts}


def _certs(env: dict[str, str], region: str) -> list[dict[str, Any]]:
    acm = _client(env, "acm", region)
    arns = [c["CertificateArn"] for c in acm.list_certificates()["CertificateSummaryList"]]
    return [acm.describe_certificate(CertificateArn=a)["Certificate"] for a in arns]


def test_one_issued_certificate_per_region(built: dict[str, Any]) -> None:
    env = built["env"]
    (cdn,) = _certs(env, "us-east-1")
    (alb,) = _certs(env, "eu-west-1")
    for cert in (cdn, alb):
        assert cert["DomainName"] == DOMAIN
        assert cert["Type"] == "AMAZON_ISSUED"
        assert cert["Status"] == "ISSUED"  # the run waited for it
        assert cert["DomainValidationOptions"][0]["ValidationMethod"] == "DNS"
    facts = built["facts"]
    assert facts["aws_certificate_cdn_arn"] == cdn["CertificateArn"]
    # The ALB's certificate (its own region) goes to aws_ecs's HTTPS listener.
    assert facts["aws_certificate_origin_arn"] == alb["CertificateArn"]
    assert facts["app_certificate_arn"] == alb["CertificateArn"]
    assert ":eu-west-1:" in facts["app_certificate_arn"]


def test_validation_records_are_in_the_zone(built: dict[str, Any]) -> None:
    env = built["env"]
    (cert,) = _certs(env, "us-east-1")
    want = cert["DomainValidationOptions"][0]["ResourceRecord"]
    sets = _client(env, "route53").list_resource_record_sets(HostedZoneId=built["zone_id"])
    cnames = {
        s["Name"]: [r["Value"] for r in s["ResourceRecords"]]
        for s in sets["ResourceRecordSets"]
        if s["Type"] == "CNAME"
    }
    assert cnames.get(want["Name"]) == [want["Value"]], cnames


def test_second_run_and_check_mode_change_nothing(built: dict[str, Any], tmp_path: Path) -> None:
    again = _run(built["env"], tmp_path)
    assert again.returncode == 0, again.output[-4000:]
    assert again.changed == 0, again.changed_tasks()
    assert again.facts == built["facts"]
    check = _run(built["env"], tmp_path, check=True)
    assert check.returncode == 0, check.output[-4000:]
    assert check.changed == 0, check.changed_tasks()
    assert len(_certs(built["env"], "us-east-1")) == 1


def test_cdn_reaches_the_origin_over_https_and_viewers_need_tls12(
    built: dict[str, Any], tmp_path: Path
) -> None:
    env = built["env"]
    run = _run(env, tmp_path, **CDN_VARS)
    assert run.returncode == 0, run.output[-4000:]
    cf = _client(env, "cloudfront")
    (dist,) = cf.list_distributions()["DistributionList"]["Items"]
    config = cf.get_distribution_config(Id=dist["Id"])["DistributionConfig"]
    origin = config["Origins"]["Items"][0]["CustomOriginConfig"]
    assert origin["OriginProtocolPolicy"] == "https-only"
    assert origin["OriginSslProtocols"]["Items"] == ["TLSv1.2"]
    viewer = config["ViewerCertificate"]
    assert viewer["ACMCertificateArn"] == built["facts"]["aws_certificate_cdn_arn"]
    assert viewer["MinimumProtocolVersion"] == "TLSv1.2_2021"
    assert viewer["SSLSupportMethod"] == "sni-only"
    assert config["Aliases"]["Items"] == [DOMAIN]
    again = _run(env, tmp_path, **CDN_VARS)
    assert again.returncode == 0 and again.changed == 0, again.changed_tasks()


def test_a_certificate_given_for_the_alb_is_kept(built: dict[str, Any], tmp_path: Path) -> None:
    mine = "arn:aws:acm:eu-west-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"
    run = _run(built["env"], tmp_path, app_certificate_arn=mine)
    assert run.returncode == 0, run.output[-4000:]
    assert run.facts["app_certificate_arn"] == mine
    assert run.facts["aws_certificate_origin_arn"] == mine


def test_without_a_domain_nothing_is_requested(moto_acm: MotoServer, tmp_path: Path) -> None:
    env = moto_acm.env()
    before = len(_certs(env, "us-east-1")) + len(_certs(env, "ap-south-1"))
    run = _run(env, tmp_path, aws_cdn_domain="", aws_region="ap-south-1")
    assert run.returncode == 0 and run.changed == 0, run.output[-4000:]
    assert run.facts["app_certificate_arn"] == ""
    assert len(_certs(env, "us-east-1")) + len(_certs(env, "ap-south-1")) == before


@pytest.mark.parametrize(
    "bad,words",
    [
        ({"aws_cdn_domain": "crayon.example.com"}, "inside the hosted zone"),
        ({"aws_cdn_domain": "Crayon.Example.org"}, "lower-case DNS name"),
        ({"aws_region": "Europe"}, "an AWS region such as eu-west-1"),
    ],
)
def test_bad_values_are_refused_in_words(bad: dict[str, Any], words: str, tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # any AWS call would fail, not the check
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_URL": dead,
        "AWS_ENDPOINT_URL": dead,
    }
    run = _run(env, tmp_path, **bad)
    assert run.returncode != 0
    assert words in " ".join(run.output.split()), run.output[-3000:]


def test_a_zone_not_in_the_account_is_named(moto_acm: MotoServer, tmp_path: Path) -> None:
    run = _run(
        moto_acm.env(),
        tmp_path,
        aws_cdn_domain="crayon.example.net",
        aws_cdn_hosted_zone="example.net",
    )
    assert run.returncode != 0
    assert "No public Route 53 hosted zone named example.net" in " ".join(run.output.split())


def test_removal_deletes_the_certificates(built: dict[str, Any], tmp_path: Path) -> None:
    env = built["env"]
    gone = _run(env, tmp_path, aws_certificate_state="absent")
    assert gone.returncode == 0 and gone.changed > 0, gone.output[-4000:]
    assert _certs(env, "us-east-1") == [] and _certs(env, "eu-west-1") == []
    again = _run(env, tmp_path, aws_certificate_state="absent")
    assert again.returncode == 0 and again.changed == 0, again.changed_tasks()
