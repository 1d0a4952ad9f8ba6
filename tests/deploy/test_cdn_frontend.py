"""aws_cdn with a static frontend (stack.frontend) and the frontend release (aws_frontend),
against a real moto server: one stack built once for the module, read back from the emulator.

What moto 5.2 keeps of a DistributionConfig, and so what is read back from it: origins (ids,
domain names, custom origin settings and headers), behaviours (order, path patterns, origins,
methods, TTLs, compression, forwarded headers/cookies/query strings), the default root object,
price class, HTTP version. What it drops (measured): every origin's S3OriginConfig and
OriginAccessControlId, and every behaviour's FunctionAssociations. Those are checked through
the module's own report (`not_kept`: what it sent and the endpoint did not hold) and its
warning on re-runs; the OAC and the function themselves are read back from moto. moto has no
PublishFunction, UpdateFunction nor TestFunction: publishing is off here, and the function's
JavaScript is run with node (test_spa_fallback_function_in_node).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.support.moto_server import MotoServer
from tests.support.playbook import ROOT, run_playbook

pytestmark = pytest.mark.slow  # real ansible-playbook runs

PLAYBOOK = ROOT / "tests" / "deploy" / "playbooks" / "cdn_frontend.yml"
BUILD = ROOT / "examples" / "fullstack" / "frontend" / "out"
ACCOUNT = "123456789012"
BUCKET = f"fs-edge-frontend-{ACCOUNT}"
ALB_DNS = "fs-edge-alb-1.us-east-1.elb.amazonaws.com"
YEAR = 31536000


def _stack(source: Path) -> dict[str, Any]:
    return {
        "name": "fs",
        "env": "edge",
        "account_id": ACCOUNT,
        "frontend": {
            "source": str(source),
            "spa_fallback": "/index.html",
            "immutable_paths": ["/_next/static/*"],
            "html_max_age": 60,
        },
        "alb": {"idle_timeout": 120},
    }


SERVICES: list[dict[str, Any]] = [
    {
        "name": "backend",
        "routing": {"paths": ["/api/*"]},
        "streams": {"paths": ["/api/runs/*/events"], "heartbeat_seconds": 15},
        "cached_paths": [{"path": "/api/static/*", "ttl": 3600}],
    }
]


def _vars(source: Path, out: Path, **extra: Any) -> dict[str, Any]:
    return {
        "stack": _stack(source),
        "services": SERVICES,
        "aws_ecs_alb_dns_name": ALB_DNS,
        "aws_cdn_origin_secret": "fs-edge-origin-verify-0123456789",
        # moto 5.2 has no PublishFunction (see the module docstring).
        "aws_cdn_function_publish": False,
        # moto applies the bucket policy, and the tests reach it over plain HTTP.
        "aws_cdn_frontend_deny_insecure_transport": False,
        "edge_out": str(out),
        **extra,
    }


def _client(env: dict[str, str], service: str) -> Any:
    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    ).client(service, endpoint_url=env["AWS_ENDPOINT_URL"])


class Built:
    def __init__(self, env: dict[str, str], source: Path, out: Path, first: Any) -> None:
        self.env, self.source, self.out, self.first = env, source, out, first
        self.report = json.loads(out.read_text())

    def vars(self, **extra: Any) -> dict[str, Any]:
        return _vars(self.source, self.out, **extra)


@pytest.fixture(scope="module")
def built(moto: MotoServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    moto.reset()
    env = moto.env()
    work = tmp_path_factory.mktemp("frontend")
    source = work / "out"
    shutil.copytree(BUILD, source)
    out = work / "edge.json"
    first = run_playbook(PLAYBOOK, env, _vars(source, out))
    assert first.returncode == 0 and first.failed == 0, first.output[-4000:]
    assert first.changed > 0
    yield Built(env, source, out, first)


def _config(b: Built) -> dict[str, Any]:
    cf = _client(b.env, "cloudfront")
    items = cf.list_distributions()["DistributionList"]["Items"]
    assert len(items) == 1
    return dict(cf.get_distribution_config(Id=items[0]["Id"])["DistributionConfig"])


def test_origins_and_behaviours_in_order(built: Built) -> None:
    config = _config(built)
    origins = {o["Id"]: o for o in config["Origins"]["Items"]}
    assert origins["frontend"]["DomainName"] == f"{BUCKET}.s3.us-east-1.amazonaws.com"
    app = origins["app"]
    assert app["DomainName"] == ALB_DNS
    # Above the 15 s heartbeat, so an idle stream is not cut at the edge.
    assert app["CustomOriginConfig"]["OriginReadTimeout"] == 60
    assert [h["HeaderName"] for h in app["CustomHeaders"]["Items"]] == ["X-Origin-Verify"]
    assert config["DefaultRootObject"] == "index.html"

    behaviours = config["CacheBehaviors"]["Items"]
    summary = [
        (b["PathPattern"], b["TargetOriginId"], b["DefaultTTL"], b["MaxTTL"], b["Compress"])
        for b in behaviours
    ]
    # Streams first (narrowest), then cached paths, hashed assets, then the routed paths.
    assert summary == [
        ("/api/runs/*/events", "app", 0, 0, False),
        ("/api/static/*", "app", 3600, YEAR, True),
        ("/_next/static/*", "frontend", YEAR, YEAR, True),
        ("/api/*", "app", 0, 0, True),
    ]
    stream = behaviours[0]
    assert "Last-Event-ID" in stream["ForwardedValues"]["Headers"]["Items"]
    assert stream["ForwardedValues"]["Cookies"]["Forward"] == "all"
    api = behaviours[3]
    assert sorted(api["AllowedMethods"]["Items"]) == sorted(
        ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"]
    )
    assert api["ForwardedValues"]["QueryString"] is True
    default = config["DefaultCacheBehavior"]
    assert default["TargetOriginId"] == "frontend"
    assert (default["DefaultTTL"], default["MaxTTL"], default["Compress"]) == (60, 60, True)
    assert default["ForwardedValues"]["Cookies"]["Forward"] == "none"


def test_oac_and_function_were_sent_and_exist(built: Built) -> None:
    cf = _client(built.env, "cloudfront")
    oacs = cf.list_origin_access_controls()["OriginAccessControlList"]["Items"]
    assert [(o["Name"], o["SigningProtocol"], o["SigningBehavior"]) for o in oacs] == [
        ("fs-edge-frontend", "sigv4", "always")
    ]
    assert built.report["oac_id"] == oacs[0]["Id"]
    code = cf.get_function(Name="fs-edge-spa-fallback")["FunctionCode"].read().decode()
    assert 'var FALLBACK = "/index.html";' in code
    assert built.report["function_arn"].endswith(":function/fs-edge-spa-fallback")
    # What moto dropped is exactly what the module sent and the emulator did not keep.
    frontend_index = [o["Id"] for o in _config(built)["Origins"]["Items"]].index("frontend")
    assert set(built.report["not_kept"]) >= {
        f"Origins.Items[{frontend_index}].OriginAccessControlId",
        "DefaultCacheBehavior.FunctionAssociations.Quantity",
    }


def test_bucket_is_private_and_only_the_distribution_reads(built: Built) -> None:
    s3 = _client(built.env, "s3")
    policy = json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"])
    allow = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    assert len(allow) == 1
    assert allow[0]["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert allow[0]["Action"] == "s3:GetObject"
    arn = built.report["arn"]
    assert arn.startswith("arn:aws:cloudfront::") and arn.endswith(_config_id(built))
    assert allow[0]["Condition"] == {"StringEquals": {"AWS:SourceArn": arn}}
    block = s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"]
    assert all(block.values()) and len(block) == 4
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    rule = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


def _config_id(b: Built) -> str:
    cf = _client(b.env, "cloudfront")
    return str(cf.list_distributions()["DistributionList"]["Items"][0]["Id"])


def _invalidations(b: Built) -> list[list[str]]:
    cf = _client(b.env, "cloudfront")
    did = _config_id(b)
    out = []
    for item in cf.list_invalidations(DistributionId=did)["InvalidationList"].get("Items") or []:
        batch = cf.get_invalidation(DistributionId=did, Id=item["Id"])["Invalidation"]
        out.append(sorted(batch["InvalidationBatch"]["Paths"]["Items"]))
    return out


def test_release_uploads_with_cache_control_and_invalidates(built: Built) -> None:
    s3 = _client(built.env, "s3")
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]}
    files = {str(p.relative_to(built.source)) for p in built.source.rglob("*") if p.is_file()}
    assert keys == files
    page = s3.head_object(Bucket=BUCKET, Key="index.html")
    assert page["CacheControl"] == "public, max-age=60"
    assert page["ContentType"] == "text/html; charset=utf-8"
    chunk = next(k for k in keys if k.startswith("_next/static/") and k.endswith(".js"))
    asset = s3.head_object(Bucket=BUCKET, Key=chunk)
    assert asset["CacheControl"] == f"public, max-age={YEAR}, immutable"
    assert asset["ContentType"] == "text/javascript; charset=utf-8"
    # The first release: every page (new paths may have been cached as the SPA fallback),
    # no hashed asset (new names were never cached).
    first = _invalidations(built)[0]
    assert "/" in first and "/index.html" in first and "/runs" in first
    assert not [p for p in first if p.startswith("/_next/static/")]


def test_second_run_and_check_mode_change_nothing(built: Built) -> None:
    before = len(_invalidations(built))
    again = run_playbook(PLAYBOOK, built.env, built.vars())
    assert again.returncode == 0, again.output[-4000:]
    assert again.changed == 0, again.changed_tasks()
    # The module says which settings the emulator does not keep (compared by digest).
    assert "did not keep these settings" in " ".join(again.output.split())
    assert len(_invalidations(built)) == before
    check = run_playbook(PLAYBOOK, built.env, built.vars(), check=True)
    assert check.returncode == 0, check.output[-4000:]
    assert check.changed == 0, check.changed_tasks()


def test_a_new_build_uploads_and_invalidates_only_what_changed(built: Built) -> None:
    before = _invalidations(built)
    (built.source / "runs.html").write_text("<!doctype html><title>Runs v2</title>\n")
    (built.source / "404.html").unlink()
    new_chunk = built.source / "_next/static/chunks/extra-0123456789abcdef.js"
    new_chunk.write_text("console.log('v2')\n")
    run = run_playbook(PLAYBOOK, built.env, built.vars())
    assert run.returncode == 0, run.output[-4000:]
    changed = run.changed_tasks()
    assert "aws_frontend : Upload what changed, then delete what left the build" in changed
    assert "aws_frontend : Invalidate the changed paths (one invalidation per release)" in changed
    assert not [t for t in changed if t.startswith("aws_cdn")], changed
    after = _invalidations(built)
    assert len(after) == len(before) + 1
    new = next(paths for paths in after if paths not in before)
    assert new == ["/404", "/404.html", "/runs", "/runs.html"]
    s3 = _client(built.env, "s3")
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]}
    assert "404.html" not in keys and "_next/static/chunks/extra-0123456789abcdef.js" in keys


def test_spa_fallback_function_in_node(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    template = (ROOT / "roles/aws_cdn/templates/spa_fallback.js.j2").read_text()
    code = template.replace(
        "{{ aws_cdn_frontend.spa_fallback | to_json }}", json.dumps("/index.html")
    )
    assert "{{" not in code
    script = tmp_path / "spa.js"
    script.write_text(
        code
        + "\nconst uris = JSON.parse(process.argv[2]);\n"
        + "console.log(JSON.stringify(uris.map(u => handler({request: {uri: u}}).uri)));\n"
    )
    cases = {
        "/": "/index.html",
        "/runs/42": "/index.html",
        "/runs/": "/index.html",
        "/index.html": "/index.html",
        "/_next/static/chunks/home-6.js": "/_next/static/chunks/home-6.js",
        "/favicon.ico": "/favicon.ico",
        "/v1.2/page": "/index.html",
    }
    done = subprocess.run(
        [node, str(script), json.dumps(list(cases))],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(done.stdout) == list(cases.values())
