"""A two-service stack in the shape of STACK_MODEL.md section 4, and its prerequisites in moto.

Until the stack model's filter (plugins/filter/crayon_stack.py) is merged, the aws_ecs tests
build `aws_ecs_services` and `aws_ecs_names` by hand here: a Crayon-like stateful service on
/* and a seed-002-like stateless one on /dash/*. The network and secrets are made with boto3
directly, so these tests exercise roles/aws_ecs alone.
"""

from __future__ import annotations

import contextlib
import copy
import json
from typing import Any

import boto3

ACCOUNT = "123456789012"  # moto's account
REGION = "us-east-1"
PREFIX = "crayon-emulated"
TAGS = {"Project": "crayon", "Environment": "emulated", "ManagedBy": "ansible"}
SECRETS = {
    "admin": "crayon/emulated/admin",
    "session": "crayon/emulated/session",
    "origin-verify": "crayon-emulated/origin-verify",
}


# moto's CreateService drops the grace period, the deployment configuration and the capacity
# strategy: the run after a create sets them once (recipes/local-aws.md). Only these aws_ecs
# tasks may change in that settle run; every later run must change nothing.
MOTO_SETTLE_TASKS = frozenset(
    {
        "aws_ecs : Services (capacity providers, rolling or single-writer deployment, "
        "circuit breaker)",
        "aws_ecs : Capacity-provider strategy of each existing service (with a new deployment)",
    }
)


def names(tags: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "prefix": PREFIX,
        "tags": dict(tags or TAGS),
        "vpc": PREFIX,
        "subnets": {
            "public": [f"{PREFIX}-public-1", f"{PREFIX}-public-2"],
            "private": [f"{PREFIX}-private-1", f"{PREFIX}-private-2"],
        },
        "security_groups": {"alb": f"{PREFIX}-alb", "app": f"{PREFIX}-app"},
        "cluster": PREFIX,
        "alb": f"{PREFIX}-alb",
        "buckets": {"audit": f"{PREFIX}-audit-{ACCOUNT}"},
        "secrets": dict(SECRETS),
        "services": {},
    }


def _service_names(name: str, repository: str) -> dict[str, Any]:
    full = f"{PREFIX}-{name}"
    repo = f"{PREFIX}-{repository}"
    return {
        "service": full,
        "family": full,
        "container": name,
        "target_group": full,
        "log_group": f"/ecs/{full}",
        "repository": repo,
        "repository_uri": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{repo}",
        "task_role": f"{full}-task",
        "task_role_arn": f"arn:aws:iam::{ACCOUNT}:role/{full}-task",
        "execution_role_arn": f"arn:aws:iam::{ACCOUNT}:role/{PREFIX}-ecs-execution",
        "scaling_policy": f"{full}-scaling",
    }


def app_service(tag: str = "1.0") -> dict[str, Any]:
    """Crayon: a single writer (SQLite + Litestream) on /*."""
    n = _service_names("app", "app")
    return {
        "name": "app",
        "image": {"repository": "app"},
        "port": 8000,
        "health": {
            "path": "/healthz",
            "interval": 15,
            "timeout": 5,
            "healthy": 2,
            "unhealthy": 3,
            "grace": 60,
        },
        "cpu": 256,
        "memory": 512,
        "architecture": "X86_64",
        "environment": {"CRAYON_ENV": "emulated", "CRAYON_PORT": "8000"},
        "secrets": {
            "CRAYON_ADMIN_PASSWORD_HASH": {"secret_name": SECRETS["admin"], "key": "password_hash"},
            "CRAYON_ORIGIN_SECRET": {"secret_name": SECRETS["origin-verify"], "key": ""},
        },
        "permissions": {"buckets": [], "secrets": ["admin"]},
        "stateful": True,
        "deployment": {"min_healthy_percent": 100, "max_percent": 200},
        "count": {"desired": 1, "min": 1, "max": 1},
        "scaling": {
            "metric": "none",
            "target": 70,
            "scale_out_cooldown": 60,
            "scale_in_cooldown": 300,
        },
        "capacity": [{"provider": "FARGATE", "base": 1, "weight": 1}],
        "routing": {"paths": ["/*"], "hosts": [], "priority": 100},
        "logs": {"group": "", "retention_days": 30},
        "alarms": {},
        "names": n,
        "image_uri_default": f"{n['repository_uri']}:{tag}",
    }


def dash_service(tag: str = "1.0") -> dict[str, Any]:
    """Seed 002's dashboard: stateless, 2-10 tasks on 70 % CPU, Spot preferred, on /dash/*."""
    n = _service_names("dash", "dash")
    n["log_group"] = "/ecs/vibejudge-dashboard"
    return {
        "name": "dash",
        "image": {"repository": "dash"},
        "port": 8501,
        "health": {
            "path": "/_stcore/health",
            "interval": 30,
            "timeout": 5,
            "healthy": 2,
            "unhealthy": 3,
            "grace": 60,
        },
        "cpu": 512,
        "memory": 1024,
        "architecture": "X86_64",
        "environment": {"STREAMLIT_SERVER_PORT": "8501"},
        "secrets": {},
        "permissions": {"buckets": [], "secrets": []},
        "stateful": False,
        "deployment": {"min_healthy_percent": 100, "max_percent": 200},
        "count": {"desired": 2, "min": 2, "max": 10},
        "scaling": {
            "metric": "cpu",
            "target": 70,
            "scale_out_cooldown": 60,
            "scale_in_cooldown": 300,
        },
        "capacity": [
            {"provider": "FARGATE", "base": 2, "weight": 1},
            {"provider": "FARGATE_SPOT", "base": 0, "weight": 4},
        ],
        "routing": {"paths": ["/dash/*"], "hosts": [], "priority": 10},
        "logs": {"group": "/ecs/vibejudge-dashboard", "retention_days": 7},
        "alarms": {},
        "names": n,
        "image_uri_default": f"{n['repository_uri']}:{tag}",
    }


def role_vars(
    *services: dict[str, Any], tags: dict[str, str] | None = None, **extra: Any
) -> dict[str, Any]:
    """The variables site.yml passes to aws_ecs (plus any extra role variable)."""
    n = names(tags)
    for s in services:
        n["services"][s["name"]] = s["names"]
    return {
        "aws_ecs_services": [copy.deepcopy(s) for s in services],
        "aws_ecs_names": n,
        "aws_ecs_region": REGION,
        "aws_ecs_alb_drop_invalid_headers": False,  # moto lacks the attribute
        **extra,
    }


def client(env: dict[str, str], service: str) -> Any:
    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=env["AWS_ENDPOINT_URL"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        aws_session_token="testing",
    )


MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 1,
            "digest": "sha256:" + "0" * 64,
        },
        "layers": [],
    }
)


def push_image(env: dict[str, str], repository: str, tag: str) -> None:
    ecr = client(env, "ecr")
    with contextlib.suppress(ecr.exceptions.RepositoryAlreadyExistsException):
        ecr.create_repository(repositoryName=repository)
    ecr.put_image(repositoryName=repository, imageManifest=MANIFEST, imageTag=tag)


def build_prerequisites(env: dict[str, str]) -> None:
    """What aws_network and aws_secrets would have built: VPC, subnets, groups, secrets."""
    ec2 = client(env, "ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ec2.create_tags(Resources=[vpc], Tags=[{"Key": "Name", "Value": PREFIX}])
    azs = [f"{REGION}a", f"{REGION}b"]
    for i, kind in enumerate(["public", "public", "private", "private"]):
        sub = ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=azs[i % 2])
        name = f"{PREFIX}-{kind}-{i % 2 + 1}"
        ec2.create_tags(
            Resources=[sub["Subnet"]["SubnetId"]], Tags=[{"Key": "Name", "Value": name}]
        )
    for group in ("alb", "app"):
        ec2.create_security_group(GroupName=f"{PREFIX}-{group}", Description=group, VpcId=vpc)
    sm = client(env, "secretsmanager")
    for name in SECRETS.values():
        sm.create_secret(Name=name, SecretString=json.dumps({"password_hash": "x"}))
