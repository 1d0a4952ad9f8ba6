"""preflight's origin check (roles/preflight/tasks/origin.yml): in production, CloudFront must
not reach the origin over plain HTTP unless the inventory says why in words; a custom domain
in a Route 53 zone (aws_certificate then requests the ALB's certificate) or a given ALB
certificate makes the origin HTTPS on ECS. No AWS call is made."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.preflight import BASE, ENV, PLAY
from tests.support.preflight import run_on_production as run_playbook

pytestmark = pytest.mark.slow  # real ansible-playbook runs

DOMAIN = {"aws_cdn_domain": "crayon.example.org", "aws_cdn_hosted_zone": "example.org"}
CERT = "arn:aws:acm:eu-west-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"
REASON = "Internal demo; the ALB only admits CloudFront and holds no real data."


def _run(**extra: Any) -> tuple[int, str]:
    run = run_playbook(PLAY, ENV, extra_vars={**BASE, **extra})
    return run.returncode, " ".join(run.output.split())


@pytest.mark.parametrize(
    "extra",
    [
        DOMAIN,
        {"aws_cdn_domain": "crayon.example.org", "app_certificate_arn": CERT},
        {"crayon_env": "dev", "github_environment": "dev"},
        {"origin_http_opt_in": REASON},
    ],
    ids=["domain-and-zone", "domain-and-given-certificate", "dev", "opted-in"],
)
def test_https_origin_or_words_pass(extra: dict[str, Any]) -> None:
    code, out = _run(**extra)
    assert code == 0, out[-3000:]


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        ({}, "Set aws_cdn_domain (the name viewers use"),
        ({"aws_cdn_domain": "crayon.example.org"}, "aws_cdn_hosted_zone (its public Route 53"),
        ({**DOMAIN, "aws_cdn_origin_protocol": "http-only"}, "over plain HTTP across the internet"),
        ({**DOMAIN, "deploy_target": "ec2"}, "deploy_target ec2 has no load balancer"),
        ({**DOMAIN, "deploy_target": "lightsail"}, "deploy_target lightsail has no load balancer"),
        ({"origin_http_opt_in": "why not"}, 'now "why not"'),
    ],
    ids=["no-domain", "no-zone", "forced-http", "ec2", "lightsail", "too-few-words"],
)
def test_plain_http_origin_in_production_stops_with_what_to_set(
    extra: dict[str, Any], says: str
) -> None:
    code, out = _run(**extra)
    assert code != 0
    assert says in out, out[-3000:]
    assert "origin_http_opt_in to a sentence" in out


def test_opting_in_is_said_on_every_run() -> None:
    code, out = _run(deploy_target="ec2", origin_http_opt_in=REASON)
    assert code == 0, out[-3000:]
    assert "reaches the origin over plain HTTP" in out and REASON in out
