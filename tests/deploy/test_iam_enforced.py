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
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

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


def _play(env: dict[str, str], *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    require_loopback(env["AWS_URL"])
    require_loopback(env["AWS_ENDPOINT_URL"])
    return subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "inventories/emulated", *args],
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
    try:
        built = _play(env, "playbooks/site.yml")
        assert built.returncode == 0, built.stdout[-6000:] + built.stderr[-3000:]
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
        key = iam.create_access_key(UserName="assumer")["AccessKey"]
        env["IAM_TEST_ASSUMER_KEY"] = key["AccessKeyId"]
        env["IAM_TEST_ASSUMER_SECRET"] = key["SecretAccessKey"]
        set_enforcement(server, on=True)
        yield Stack(server, env, built.stdout)
    finally:
        server.stop()


def _creds_env(stack: Stack, creds: dict[str, str]) -> dict[str, str]:
    env = dict(stack.env)
    env["AWS_ACCESS_KEY_ID"] = creds["AccessKeyId"]
    env["AWS_SECRET_ACCESS_KEY"] = creds["SecretAccessKey"]
    env["AWS_SESSION_TOKEN"] = creds["SessionToken"]
    return env


def assume(stack: Stack, suffix: str) -> dict[str, str]:
    sts = boto3.client(
        "sts",
        endpoint_url=stack.server.url,
        region_name=REGION,
        aws_access_key_id=stack.env["IAM_TEST_ASSUMER_KEY"],
        aws_secret_access_key=stack.env["IAM_TEST_ASSUMER_SECRET"],
    )
    creds = sts.assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{NAME}-{suffix}", RoleSessionName="test"
    )["Credentials"]
    return {k: creds[k] for k in ("AccessKeyId", "SecretAccessKey", "SessionToken")}


def assume_deploy_role(stack: Stack) -> dict[str, str]:
    """What aws-actions/configure-aws-credentials does with the job's OIDC token."""
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
    assert code in {"AccessDenied", "AccessDeniedException"}, err.value
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
    repo = NAME
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
    tags = {t for i in ecr.describe_images(repositoryName=NAME)["imageDetails"] for t in i.get("imageTags", [])}
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
        SecretId=f"crayon/emulated/admin",
    )
    refused(client(stack, "ecs", creds).delete_cluster, cluster=NAME)


def test_task_role_does_the_apps_storage_and_secrets_work(stack: Stack) -> None:
    creds = assume(stack, "ecs-task")
    s3 = client(stack, "s3", creds)
    s3.put_object(Bucket=DATA_BUCKET, Key="drawings/iam-test.json", Body=b"{}")
    assert s3.get_object(Bucket=DATA_BUCKET, Key="drawings/iam-test.json")["Body"].read() == b"{}"
    s3.delete_object(Bucket=DATA_BUCKET, Key="drawings/iam-test.json")
    sm = client(stack, "secretsmanager", creds)
    assert sm.get_secret_value(SecretId="crayon/emulated/admin")["SecretString"]
    assert sm.get_secret_value(SecretId="crayon/emulated/session")["SecretString"]
    # One step outside: another prefix, another bucket, the origin secret, IAM, another service.
    refused(s3.put_object, Bucket=DATA_BUCKET, Key="outside/x", Body=b"x")
    refused(s3.put_object, Bucket=REPLICA_BUCKET, Key="elsewhere/x", Body=b"x")
    refused(sm.get_secret_value, SecretId="crayon-emulated/origin-verify")
    refused(client(stack, "iam", creds).list_users)
    refused(client(stack, "ec2", creds).describe_vpcs)


def test_execution_role_reads_exactly_its_secrets(stack: Stack) -> None:
    creds = assume(stack, "ecs-execution")
    sm = client(stack, "secretsmanager", creds)
    for secret in ("crayon/emulated/admin", "crayon/emulated/session", "crayon-emulated/origin-verify"):
        assert sm.get_secret_value(SecretId=secret)["SecretString"]
    refused(sm.list_secrets)
    refused(client(stack, "s3", creds).get_object, Bucket=DATA_BUCKET, Key="drawings/x")
    refused(client(stack, "iam", creds).list_roles)
