"""Filter `crayon_stack`: an inventory's stack declaration, validated, filled and named.

`{{ stack | crayon_stack(services) }}` returns the stack model (docs/stack-model.md): the
declaration with every default filled in, plus `names`, the one place where resource names
and ARNs are derived. The roles take what they need from it (site.yml hands it over as role
variables) and never build a name themselves.

Every mistake is an AnsibleFilterError that names the service and the field and says what to
set, raised by preflight before any AWS call. Pure Python: no AWS call, no Ansible state.

`crayon_service_alarms` turns the services' declared alarms into the alarm list
aws_monitoring manages (pure too: the load balancer and target group dimensions are passed in).
"""

from __future__ import annotations

import copy
import fnmatch
import re
from typing import Any

try:
    from ansible.errors import AnsibleFilterError
except ImportError:  # the unit tests import this file without Ansible's plugin loader

    class AnsibleFilterError(Exception):  # type: ignore[no-redef]
        """Stand-in with Ansible's name."""


STACK_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{1,15}$")
ENV_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{1,11}$")
SERVICE_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,11}$")
RESOURCE_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
REPOSITORY_RE = re.compile(r"^[a-z0-9][a-z0-9._/-]{0,200}$")
ENV_VAR_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
ACCOUNT_RE = re.compile(r"^[0-9]{12}$")
REGION_RE = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-[0-9]$")
# What an ALB path-pattern condition accepts (case-sensitive, up to 128 characters).
PATH_RE = re.compile(r"^/[A-Za-z0-9_.$/~\"'@:+&*?;=-]{0,127}$")
HOST_RE = re.compile(r"^[A-Za-z0-9*?.-]{1,128}$")
LOG_GROUP_RE = re.compile(r"^[.\-_/#A-Za-z0-9]{1,512}$")
JSON_KEY_RE = re.compile(r"^[A-Za-z0-9_.-]{0,128}$")
# ${bucket:data}, ${secret:admin}, ${region}, ${account}, ${port}, ${service}, ${prefix}
REFERENCE_RE = re.compile(r"\$\{([a-z_]+)(?::([a-z0-9-]+))?\}")

TARGETS = ("ecs", "ec2", "lightsail")
ROLES = (
    "aws_network",
    "aws_storage",
    "aws_secrets",
    "aws_audit",
    "aws_registry",
    "aws_iam",
    "aws_certificate",
    "aws_ecs",
    "aws_host",
    "aws_cdn",
    "aws_monitoring",
    "aws_budget",
    "aws_kms",
    "aws_database",
    "aws_frontend",
)
# Roles that run only when the stack declares what they build (stack.kms, stack.database).
OPTIONAL_ROLES = ("aws_kms", "aws_database")
DATABASE_ENGINES = ("postgres", "aurora-postgresql")
DB_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
CAPACITY_PROVIDERS = ("FARGATE", "FARGATE_SPOT")
ARCHITECTURES = ("X86_64", "ARM64")
SCALING_METRICS = ("none", "cpu", "requests")
BUCKET_ACCESS = ("read", "read-write")
# CloudWatch Logs' accepted retention values (days).
RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip
# Bucket names the stack itself uses (aws_audit); a declared bucket may not take them.
RESERVED_BUCKETS = ("audit", "frontend")
ALARM_COMPARISONS = {
    ">": "GreaterThanThreshold",
    ">=": "GreaterThanOrEqualToThreshold",
    "<": "LessThanThreshold",
    "<=": "LessThanOrEqualToThreshold",
}
ALARM_STATISTICS = ("Sum", "Average", "Minimum", "Maximum", "SampleCount")


def fargate_memory_choices(cpu: int) -> list[int]:
    """The memory sizes (MiB) Fargate accepts with `cpu` units; empty for an unknown size."""
    gib = 1024
    if cpu == 256:
        return [512, 1024, 2048]
    if cpu == 512:
        return [n * gib for n in range(1, 5)]
    if cpu == 1024:
        return [n * gib for n in range(2, 9)]
    if cpu == 2048:
        return [n * gib for n in range(4, 17)]
    if cpu == 4096:
        return [n * gib for n in range(8, 31)]
    if cpu == 8192:
        return [n * gib for n in range(16, 61, 4)]
    if cpu == 16384:
        return [n * gib for n in range(32, 121, 8)]
    return []


FARGATE_CPUS = (256, 512, 1024, 2048, 4096, 8192, 16384)


class _Where:
    """Builds messages that say where the mistake is: which service and which field."""

    def __init__(self, what: str) -> None:
        self.what = what

    def fail(self, field: str, problem: str, fix: str) -> AnsibleFilterError:
        return AnsibleFilterError(f"{self.what}: {field} {problem}; {fix}")


def _mapping(where: _Where, field: str, value: Any) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise where.fail(field, f"is {value!r}, not a mapping", "write it as key: value lines")
    return dict(value)


def _list(where: _Where, field: str, value: Any) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise where.fail(field, f"is {value!r}, not a list", "write it as a YAML list")
    return list(value)


def _unknown(where: _Where, field: str, given: dict, known: tuple[str, ...] | list[str]) -> None:
    extra = sorted(set(given) - set(known))
    if extra:
        raise where.fail(
            field,
            f"has unknown key(s) {', '.join(extra)}",
            f"use only {', '.join(known)} (docs/stack-model.md)",
        )


def _int(where: _Where, field: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool):
        raise where.fail(field, f"is {value!r}, not a number", f"set a whole number {low}-{high}")
    try:
        number = int(str(value).strip())
    except ValueError:
        raise where.fail(
            field, f"is {value!r}, not a whole number", f"set a number {low}-{high}"
        ) from None
    if not low <= number <= high:
        raise where.fail(field, f"is {number}, outside {low}-{high}", f"set a number {low}-{high}")
    return number


def _number(where: _Where, field: str, value: Any, low: float, high: float) -> float:
    try:
        number = float(str(value).strip())
    except ValueError:
        raise where.fail(
            field, f"is {value!r}, not a number", f"set a number {low}-{high}"
        ) from None
    if not low <= number <= high:
        raise where.fail(field, f"is {number:g}, outside {low:g}-{high:g}", "set a number in range")
    return number


def _bool(where: _Where, field: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "1"):
        return True
    if text in ("false", "no", "0", ""):
        return False
    raise where.fail(field, f"is {value!r}, not true or false", "set true or false")


def _text(where: _Where, field: str, value: Any, pattern: re.Pattern[str], shape: str) -> str:
    text = "" if value is None else str(value)
    if not pattern.match(text):
        raise where.fail(field, f"is {text!r}", f"set {shape}")
    return text


def _choice(where: _Where, field: str, value: Any, choices: tuple[str, ...]) -> str:
    text = str(value)
    if text not in choices:
        raise where.fail(field, f"is {text!r}", f"set one of {', '.join(choices)}")
    return text


# --- The stack ------------------------------------------------------------------------------


def _stack(raw: Any) -> dict:
    where = _Where("stack")
    decl = _mapping(where, "stack", raw)
    _unknown(
        where,
        "stack",
        decl,
        (
            "name", "env", "region", "account_id", "target", "tags", "network",
            "certificate_arn", "roles", "buckets", "secrets", "origin_secret",
            "secret_arn_suffix", "kms", "database", "frontend", "alb", "cdn",
        ),
    )  # fmt: skip
    stack: dict[str, Any] = {
        "name": _text(
            where, "name", decl.get("name"), STACK_NAME_RE,
            "2-16 lower-case letters, digits and dashes starting with a letter (stack.name)",
        ),
        "env": _text(
            where, "env", decl.get("env"), ENV_NAME_RE,
            "2-12 lower-case letters, digits and dashes starting with a letter (stack.env)",
        ),
        "region": _text(
            where, "region", decl.get("region", "us-east-1"), REGION_RE,
            "an AWS region such as eu-west-1",
        ),
        "account_id": _text(
            where, "account_id", str(decl.get("account_id", "")), ACCOUNT_RE,
            'the 12-digit AWS account id, quoted ("123456789012")',
        ),
        "target": _choice(where, "target", decl.get("target", "ecs"), TARGETS),
        "certificate_arn": str(decl.get("certificate_arn") or ""),
        "secret_arn_suffix": str(decl.get("secret_arn_suffix") or "-??????"),
    }  # fmt: skip
    if stack["certificate_arn"] and not stack["certificate_arn"].startswith("arn:aws"):
        raise where.fail(
            "certificate_arn",
            f"is {stack['certificate_arn']!r}",
            "set an ACM certificate ARN or ''",
        )
    if stack["secret_arn_suffix"] not in ("-??????", "-*"):
        raise where.fail(
            "secret_arn_suffix",
            f"is {stack['secret_arn_suffix']!r}",
            "set -?????? (AWS) or -* (moto, which cannot match '?')",
        )
    tags = _mapping(where, "tags", decl.get("tags"))
    stack["tags"] = {str(k): str(v) for k, v in tags.items()}
    network = _mapping(where, "network", decl.get("network"))
    _unknown(where, "network", network, ("nat_gateway", "private_tasks", "nacls"))
    stack["network"] = {
        "nat_gateway": _bool(where, "network.nat_gateway", network.get("nat_gateway", False)),
        "private_tasks": _bool(where, "network.private_tasks", network.get("private_tasks", False)),
    }
    if _bool(where, "network.nacls", network.get("nacls", False)):
        stack["network"]["nacls"] = True  # absent = off (roles read it with a default)
    if stack["network"]["private_tasks"] and not stack["network"]["nat_gateway"]:
        raise where.fail(
            "network.private_tasks",
            "is true without a NAT gateway (tasks could not pull their image)",
            "set network.nat_gateway: true too, or private_tasks: false",
        )
    roles = _mapping(where, "roles", decl.get("roles"))
    _unknown(where, "roles", roles, ROLES)
    stack["kms"] = _bool(where, "kms", decl.get("kms", False))
    stack["database"] = _database(where, decl.get("database"), stack["kms"])
    declared = {"aws_kms": stack["kms"], "aws_database": stack["database"] is not None}
    stack["roles"] = {
        r: _bool(where, f"roles.{r}", roles.get(r, declared.get(r, True))) for r in ROLES
    }
    for role in OPTIONAL_ROLES:
        if stack["roles"][role] and not declared[role]:
            what = "kms: true" if role == "aws_kms" else "a database: mapping"
            raise where.fail(
                f"roles.{role}", "is on but the stack declares nothing for it", f"declare {what}"
            )
    stack["buckets"] = _buckets(where, decl.get("buckets"))
    stack["secrets"] = _secrets(where, decl.get("secrets"))
    origin = str(decl.get("origin_secret") or "")
    if origin and origin not in {s["name"] for s in stack["secrets"]}:
        raise where.fail(
            "origin_secret",
            f"names {origin!r}, which is not in stack.secrets",
            "declare it under stack.secrets (with generate: true) or set origin_secret: ''",
        )
    stack["origin_secret"] = origin
    stack.update(_edge_stack(where, decl))
    return stack


def _database(where: _Where, raw: Any, kms: bool) -> dict | None:
    """A managed database (roles/aws_database) for a service that outgrows SQLite."""
    if raw is None:
        return None
    decl = _mapping(where, "database", raw)
    _unknown(
        where,
        "database",
        decl,
        (
            "engine", "engine_version", "instance_class", "allocated_storage", "multi_az",
            "read_replica", "deletion_protection", "backup_retention_days", "backend", "db_name",
        ),
    )  # fmt: skip
    if not decl.get("backend"):
        raise where.fail(
            "database.backend",
            "is missing: nothing would be allowed to reach the database",
            "name the service whose security group may connect (database.backend: <service>)",
        )
    if not kms:
        raise where.fail(
            "database",
            "is declared without the stack's key (it is encrypted with it)",
            "set stack.kms: true",
        )
    engine = _choice(where, "database.engine", decl.get("engine", "postgres"), DATABASE_ENGINES)

    def flag(field: str, default: bool) -> bool:
        return _bool(where, f"database.{field}", decl.get(field, default))

    return {
        "engine": engine,
        "engine_version": str(decl.get("engine_version") or "16.4"),
        "instance_class": str(decl.get("instance_class") or "db.t4g.micro"),
        "allocated_storage": _int(
            where, "database.allocated_storage", decl.get("allocated_storage", 20), 20, 65536
        ),
        "multi_az": flag("multi_az", False),
        "read_replica": flag("read_replica", False),
        "deletion_protection": flag("deletion_protection", True),
        "backup_retention_days": _int(
            where, "database.backup_retention_days", decl.get("backup_retention_days", 7), 1, 35
        ),
        "backend": str(decl["backend"]),
        "db_name": _text(
            where, "database.db_name", decl.get("db_name", "app"), DB_NAME_RE,
            "a lower-case database name",
        ),
    }  # fmt: skip


def _buckets(where: _Where, raw: Any) -> list[dict]:
    out: list[dict] = []
    for i, item in enumerate(_list(where, "buckets", raw)):
        field = f"buckets[{i}]"
        bucket = _mapping(where, field, item)
        _unknown(where, field, bucket, ("name", "lifecycle", "versioning"))
        name = _text(
            where, f"{field}.name", bucket.get("name"), RESOURCE_NAME_RE,
            "a short lower-case name such as data (the bucket is <stack>-<env>-<name>-<account>)",
        )  # fmt: skip
        if name in RESERVED_BUCKETS:
            raise where.fail(
                f"{field}.name", f"is {name!r}, which the stack uses itself", "pick another"
            )
        if name in {b["name"] for b in out}:
            raise where.fail(
                f"{field}.name", f"{name!r} is declared twice", "declare each bucket once"
            )
        out.append(
            {
                "name": name,
                "versioning": _bool(where, f"{field}.versioning", bucket.get("versioning", True)),
                "lifecycle": _list(where, f"{field}.lifecycle", bucket.get("lifecycle")),
            }
        )
    return out


def _secrets(where: _Where, raw: Any) -> list[dict]:
    out: list[dict] = []
    for i, item in enumerate(_list(where, "secrets", raw)):
        field = f"secrets[{i}]"
        secret = _mapping(where, field, item)
        _unknown(where, field, secret, ("name", "json_key", "initial", "generate", "description"))
        name = _text(
            where, f"{field}.name", secret.get("name"), RESOURCE_NAME_RE,
            "a short lower-case name such as admin (the secret is <stack>/<env>/<name>)",
        )  # fmt: skip
        if name in {s["name"] for s in out}:
            raise where.fail(
                f"{field}.name", f"{name!r} is declared twice", "declare each secret once"
            )
        generate = _bool(where, f"{field}.generate", secret.get("generate", False))
        initial = "" if secret.get("initial") is None else str(secret.get("initial"))
        if generate and initial:
            raise where.fail(
                f"{field}.initial",
                "is set on a generated secret",
                "set either generate: true or initial, not both",
            )
        out.append(
            {
                "name": name,
                "json_key": _text(
                    where, f"{field}.json_key", secret.get("json_key", ""), JSON_KEY_RE,
                    "a JSON key (letters, digits, . _ -) or '' for a plain string",
                ),
                "initial": initial,
                "generate": generate,
                "description": str(secret.get("description") or f"{name} (declared)"),
            }
        )  # fmt: skip
    return out


# --- Services -------------------------------------------------------------------------------

SERVICE_FIELDS = (
    "name", "image", "port", "health", "cpu", "memory", "architecture", "environment",
    "secrets", "permissions", "stateful", "deployment", "count", "scaling", "capacity",
    "routing", "logs", "alarms", "streams", "cached_paths",
)  # fmt: skip


def _service(raw: Any, index: int, stack: dict) -> dict:
    first = _Where(f"services[{index}]")
    decl = _mapping(first, "service", raw)
    name = _text(
        first, "name", decl.get("name"), SERVICE_NAME_RE,
        "1-12 lower-case letters, digits and dashes starting with a letter",
    )  # fmt: skip
    where = _Where(f"service {name!r}")
    _unknown(where, "service", decl, SERVICE_FIELDS)
    svc: dict[str, Any] = {"name": name}

    image = _mapping(where, "image", decl.get("image"))
    _unknown(where, "image", image, ("repository",))
    svc["image"] = {
        "repository": _text(
            where, "image.repository", image.get("repository", name), REPOSITORY_RE,
            "an ECR repository name (lower case; the stack prefix is added)",
        )
    }  # fmt: skip
    svc["port"] = _int(where, "port", decl.get("port", 8000), 1, 65535)

    health = _mapping(where, "health", decl.get("health"))
    _unknown(
        where, "health", health, ("path", "interval", "timeout", "healthy", "unhealthy", "grace")
    )
    svc["health"] = {
        "path": _text(
            where, "health.path", health.get("path", "/"), PATH_RE, "a path such as /healthz"
        ),
        "interval": _int(where, "health.interval", health.get("interval", 15), 5, 300),
        "timeout": _int(where, "health.timeout", health.get("timeout", 5), 2, 120),
        "healthy": _int(where, "health.healthy", health.get("healthy", 2), 2, 10),
        "unhealthy": _int(where, "health.unhealthy", health.get("unhealthy", 3), 2, 10),
        "grace": _int(where, "health.grace", health.get("grace", 60), 0, 2147483647),
    }
    if svc["health"]["timeout"] >= svc["health"]["interval"]:
        raise where.fail(
            "health.timeout",
            f"({svc['health']['timeout']} s) is not shorter than health.interval "
            f"({svc['health']['interval']} s)",
            "make the timeout shorter than the interval (the ALB requires it)",
        )

    svc["cpu"] = _int(where, "cpu", decl.get("cpu", 256), 1, 16384)
    svc["memory"] = _int(where, "memory", decl.get("memory", 512), 1, 122880)
    if svc["cpu"] not in FARGATE_CPUS:
        raise where.fail(
            "cpu",
            f"is {svc['cpu']}, not a Fargate size",
            f"set one of {', '.join(map(str, FARGATE_CPUS))} (1024 = 1 vCPU)",
        )
    choices = fargate_memory_choices(svc["cpu"])
    if svc["memory"] not in choices:
        raise where.fail(
            "memory",
            f"is {svc['memory']} MiB, which Fargate does not offer with cpu {svc['cpu']}",
            f"set one of {', '.join(map(str, choices))}",
        )
    svc["architecture"] = _choice(
        where, "architecture", decl.get("architecture", "X86_64"), ARCHITECTURES
    )

    svc["stateful"] = _bool(where, "stateful", decl.get("stateful", False))
    svc["count"] = _count(where, svc["stateful"], decl.get("count"))
    svc["deployment"] = _deployment(where, svc["stateful"], decl.get("deployment"))
    svc["scaling"] = _scaling(where, svc, decl.get("scaling"))
    svc["capacity"] = _capacity(where, svc["stateful"], decl.get("capacity"))
    svc["routing"] = _routing(where, decl.get("routing"), index)
    svc.update(_edge_service(where, decl))
    logs = _mapping(where, "logs", decl.get("logs"))
    _unknown(where, "logs", logs, ("group", "retention_days"))
    group = str(logs.get("group") or "")
    if group and not LOG_GROUP_RE.match(group):
        raise where.fail(
            "logs.group", f"is {group!r}", "set a log group name such as /ecs/web or ''"
        )
    retention = _int(where, "logs.retention_days", logs.get("retention_days", 30), 1, 3653)
    if retention not in RETENTION_DAYS:
        raise where.fail(
            "logs.retention_days",
            f"is {retention}, which CloudWatch Logs does not offer",
            f"set one of {', '.join(map(str, RETENTION_DAYS))}",
        )
    svc["logs"] = {"group": group, "retention_days": retention}
    svc["alarms"] = _alarms(where, decl.get("alarms"))
    # Environment, secrets and permissions need the declared buckets and secrets: the caller
    # resolves them once the names are known.
    svc["environment"] = _mapping(where, "environment", decl.get("environment"))
    svc["secrets"] = _mapping(where, "secrets", decl.get("secrets"))
    svc["permissions"] = _mapping(where, "permissions", decl.get("permissions"))
    return svc


def _count(where: _Where, stateful: bool, raw: Any) -> dict:
    count = _mapping(where, "count", raw)
    _unknown(where, "count", count, ("desired", "min", "max"))
    desired = _int(where, "count.desired", count.get("desired", 1), 0, 1000)
    low = _int(where, "count.min", count.get("min", min(desired, 1) if desired else 0), 0, 1000)
    high = _int(where, "count.max", count.get("max", max(desired, low)), 0, 1000)
    if stateful and (desired > 1 or high > 1):
        field = "count.max" if high > 1 else "count.desired"
        raise where.fail(
            field,
            f"is {max(desired, high)} but the service is stateful (one writer: never two tasks)",
            "set count.desired and count.max to 1, or stateful: false",
        )
    if low > high:
        raise where.fail("count.min", f"({low}) is above count.max ({high})", "set min <= max")
    if not low <= desired <= high:
        raise where.fail(
            "count.desired",
            f"({desired}) is outside count.min-count.max ({low}-{high})",
            "set desired between min and max",
        )
    return {"desired": desired, "min": low, "max": high}


def _deployment(where: _Where, stateful: bool, raw: Any) -> dict:
    deployment = _mapping(where, "deployment", raw)
    _unknown(
        where, "deployment", deployment, ("min_healthy_percent", "max_percent", "circuit_breaker")
    )
    breaker = _bool(where, "deployment.circuit_breaker", deployment.get("circuit_breaker", True))
    if stateful:
        # The single-writer rule: the old task stops before the new one starts.
        for field, wanted in (("min_healthy_percent", 0), ("max_percent", 100)):
            if field in deployment and int(deployment[field]) != wanted:
                raise where.fail(
                    f"deployment.{field}",
                    f"is {deployment[field]} but the service is stateful (never two tasks at once)",
                    f"remove it (a stateful service always deploys with {wanted})",
                )
        return {"min_healthy_percent": 0, "max_percent": 100, "circuit_breaker": breaker}
    low = _int(
        where, "deployment.min_healthy_percent", deployment.get("min_healthy_percent", 100), 0, 100
    )
    high = _int(where, "deployment.max_percent", deployment.get("max_percent", 200), 100, 400)
    return {"min_healthy_percent": low, "max_percent": high, "circuit_breaker": breaker}


def _scaling(where: _Where, svc: dict, raw: Any) -> dict:
    scaling = _mapping(where, "scaling", raw)
    _unknown(
        where, "scaling", scaling,
        ("metric", "target", "scale_out_cooldown", "scale_in_cooldown", "cpu_target"),
    )  # fmt: skip
    count = svc["count"]
    default_metric = "cpu" if count["max"] > count["min"] else "none"
    metric = _choice(
        where, "scaling.metric", scaling.get("metric", default_metric), SCALING_METRICS
    )
    if svc["stateful"] and metric != "none":
        raise where.fail(
            "scaling.metric",
            f"is {metric!r} but the service is stateful (exactly one task)",
            "set scaling.metric: none, or stateful: false",
        )
    if metric != "none" and count["max"] <= count["min"]:
        raise where.fail(
            "scaling.metric",
            f"is {metric!r} but count.min and count.max are both {count['min']}",
            "raise count.max above count.min, or set scaling.metric: none",
        )
    high = 100 if metric == "cpu" else 100000
    cpu_target = _cpu_target(where, metric, scaling.get("cpu_target", 0))
    return {
        **({"cpu_target": cpu_target} if cpu_target else {}),
        "metric": metric,
        "target": _int(where, "scaling.target", scaling.get("target", 70), 1, high),
        "scale_out_cooldown": _int(
            where, "scaling.scale_out_cooldown", scaling.get("scale_out_cooldown", 60), 0, 86400
        ),
        "scale_in_cooldown": _int(
            where, "scaling.scale_in_cooldown", scaling.get("scale_in_cooldown", 300), 0, 86400
        ),
    }


def _cpu_target(where: _Where, metric: str, raw: Any) -> int:
    """scaling.cpu_target: a second target-tracking policy on CPU beside request scaling
    (seed 004 req. 2.6: request load and CPU); 0 = none."""
    target = _int(where, "scaling.cpu_target", raw, 0, 100)
    if target and metric != "requests":
        raise where.fail(
            "scaling.cpu_target",
            f"is {target} but scaling.metric is {metric!r}",
            "use it with metric: requests (with metric: cpu, scaling.target is the CPU target)",
        )
    return target


def _capacity(where: _Where, stateful: bool, raw: Any) -> list[dict]:
    items = _list(where, "capacity", raw) or [{"provider": "FARGATE", "base": 1, "weight": 1}]
    out: list[dict] = []
    for i, item in enumerate(items):
        field = f"capacity[{i}]"
        entry = _mapping(where, field, item)
        _unknown(where, field, entry, ("provider", "base", "weight"))
        provider = str(entry.get("provider", ""))
        if provider not in CAPACITY_PROVIDERS:
            raise where.fail(
                f"{field}.provider",
                f"is {provider!r}, not a Fargate capacity provider",
                f"set one of {', '.join(CAPACITY_PROVIDERS)}",
            )
        if provider in {c["provider"] for c in out}:
            raise where.fail(f"{field}.provider", f"{provider} is listed twice", "list each once")
        out.append(
            {
                "provider": provider,
                "base": _int(where, f"{field}.base", entry.get("base", 0), 0, 100000),
                "weight": _int(where, f"{field}.weight", entry.get("weight", 1), 0, 1000),
            }
        )
    if sum(1 for c in out if c["base"] > 0) > 1:
        raise where.fail(
            "capacity", "gives a base to more than one provider", "give base to one only"
        )
    if sum(c["weight"] for c in out) == 0:
        raise where.fail("capacity", "has no weight above 0", "give at least one provider a weight")
    if stateful and any(c["provider"] == "FARGATE_SPOT" and c["weight"] > 0 for c in out):
        raise where.fail(
            "capacity",
            "puts a stateful service on FARGATE_SPOT (an interruption stops the only writer)",
            "use FARGATE only, or stateful: false",
        )
    return out


def _routing(where: _Where, raw: Any, index: int) -> dict:
    routing = _mapping(where, "routing", raw)
    _unknown(where, "routing", routing, ("paths", "hosts", "priority"))
    paths = [str(p) for p in _list(where, "routing.paths", routing.get("paths", ["/*"]))]
    hosts = [str(h) for h in _list(where, "routing.hosts", routing.get("hosts", []))]
    for p in paths:
        if not PATH_RE.match(p):
            raise where.fail(
                "routing.paths", f"has {p!r}", "write paths starting with / such as /api/*"
            )
    for h in hosts:
        if not HOST_RE.match(h):
            raise where.fail(
                "routing.hosts", f"has {h!r}", "write host names such as app.example.org"
            )
    if not paths and not hosts:
        raise where.fail("routing", "has neither paths nor hosts", "set routing.paths, e.g. ['/*']")
    if len(paths) + len(hosts) > 5:
        raise where.fail(
            "routing", "has more than 5 paths and hosts", "an ALB rule takes at most 5 values"
        )
    return {
        "paths": paths,
        "hosts": hosts,
        "priority": _int(
            where, "routing.priority", routing.get("priority", 100 + 10 * index), 1, 50000
        ),
    }


def _alarms(where: _Where, raw: Any) -> dict:
    alarms = _mapping(where, "alarms", raw)
    known = (
        "cpu_above", "memory_above", "period", "periods", "healthy_hosts_below",
        "healthy_hosts_periods", "response_time_above", "response_time_periods", "metrics",
        "dashboard_metrics",
    )  # fmt: skip
    _unknown(where, "alarms", alarms, known)
    out: dict[str, Any] = {
        "cpu_above": _number(where, "alarms.cpu_above", alarms.get("cpu_above", 80), 0, 100),
        "memory_above": _number(
            where, "alarms.memory_above", alarms.get("memory_above", 80), 0, 100
        ),
        "period": _int(where, "alarms.period", alarms.get("period", 300), 10, 86400),
        "periods": _int(where, "alarms.periods", alarms.get("periods", 2), 1, 100),
        "healthy_hosts_below": _int(
            where, "alarms.healthy_hosts_below", alarms.get("healthy_hosts_below", 1), 0, 1000
        ),
        "healthy_hosts_periods": _int(
            where, "alarms.healthy_hosts_periods", alarms.get("healthy_hosts_periods", 3), 1, 100
        ),
        "response_time_above": _number(
            where, "alarms.response_time_above", alarms.get("response_time_above", 5), 0, 3600
        ),
        "response_time_periods": _int(
            where, "alarms.response_time_periods", alarms.get("response_time_periods", 2), 1, 100
        ),
    }
    if out["period"] not in (10, 30) and out["period"] % 60:
        raise where.fail("alarms.period", f"is {out['period']}", "set 10, 30 or a multiple of 60")
    metrics: list[dict] = []
    for i, item in enumerate(_list(where, "alarms.metrics", alarms.get("metrics"))):
        field = f"alarms.metrics[{i}]"
        m = _mapping(where, field, item)
        _unknown(
            where, field, m,
            ("name", "namespace", "metric", "dimensions", "statistic", "comparison",
             "threshold", "period", "periods", "description", "missing"),
        )  # fmt: skip
        alarm_name = _text(where, f"{field}.name", m.get("name"), RESOURCE_NAME_RE, "a short name")
        if alarm_name in {x["name"] for x in metrics}:
            raise where.fail(
                f"{field}.name", f"{alarm_name!r} is used twice", "name each alarm once"
            )
        comparison = str(m.get("comparison", ">="))
        if comparison not in ALARM_COMPARISONS:
            raise where.fail(f"{field}.comparison", f"is {comparison!r}", "set >, >=, < or <=")
        metrics.append(
            {
                "name": alarm_name,
                "namespace": str(m.get("namespace") or ""),
                "metric": str(m.get("metric") or ""),
                "dimensions": {
                    str(k): str(v)
                    for k, v in _mapping(where, f"{field}.dimensions", m.get("dimensions")).items()
                },
                "statistic": _choice(
                    where, f"{field}.statistic", m.get("statistic", "Sum"), ALARM_STATISTICS
                ),
                "comparison": ALARM_COMPARISONS[comparison],
                "threshold": _number(where, f"{field}.threshold", m.get("threshold"), -1e12, 1e12),
                "period": _int(where, f"{field}.period", m.get("period", out["period"]), 10, 86400),
                "periods": _int(where, f"{field}.periods", m.get("periods", 1), 1, 100),
                "description": str(m.get("description") or alarm_name),
                "missing": _choice(
                    where, f"{field}.missing", m.get("missing", "notBreaching"),
                    ("notBreaching", "breaching", "missing", "ignore"),
                ),
            }
        )  # fmt: skip
        for key in ("namespace", "metric"):
            if not metrics[-1][key]:
                raise where.fail(f"{field}.{key}", "is empty", f"set the metric's {key}")
    out["metrics"] = metrics
    # More of the service's own metrics on the dashboard (graphs only, no alarm).
    graphs: list[dict] = []
    for i, item in enumerate(
        _list(where, "alarms.dashboard_metrics", alarms.get("dashboard_metrics"))
    ):
        field = f"alarms.dashboard_metrics[{i}]"
        m = _mapping(where, field, item)
        _unknown(where, field, m, ("namespace", "metric", "dimensions", "stat"))
        if not m.get("namespace") or not m.get("metric"):
            raise where.fail(field, "lacks namespace or metric", "set both")
        graphs.append(
            {
                "namespace": str(m["namespace"]),
                "metric": str(m["metric"]),
                "dimensions": {
                    str(k): str(v)
                    for k, v in _mapping(where, f"{field}.dimensions", m.get("dimensions")).items()
                },
                "stat": str(m.get("stat") or "Sum"),
            }
        )
    out["dashboard_metrics"] = graphs
    return out


# --- The edge: static frontend, streams, cached paths (aws_cdn) -----------------------------

# CloudFront's default quota of cache behaviours per distribution.
MAX_BEHAVIORS = 25
YEAR_S = 31536000


def _paths(where: _Where, field: str, raw: Any, example: str) -> list[str]:
    paths = [str(p) for p in _list(where, field, raw)]
    for p in paths:
        if not PATH_RE.match(p):
            raise where.fail(field, f"has {p!r}", f"write paths starting with / such as {example}")
    return paths


def _edge_stack(where: _Where, decl: dict) -> dict:
    """stack.frontend (a static build served from a private bucket), stack.alb, stack.cdn."""
    out: dict[str, Any] = {"frontend": None}
    if decl.get("frontend") is not None:
        front = _mapping(where, "frontend", decl.get("frontend"))
        _unknown(
            where, "frontend", front, ("source", "spa_fallback", "immutable_paths", "html_max_age")
        )
        source = str(front.get("source") or "")
        if not source:
            raise where.fail(
                "frontend.source",
                "is missing",
                "set the built, next-export-style folder (relative to the repository root), "
                "e.g. examples/fullstack/frontend/out",
            )
        fallback = str(front.get("spa_fallback", "/index.html") or "")
        if fallback and (not PATH_RE.match(fallback) or "*" in fallback or "?" in fallback):
            raise where.fail(
                "frontend.spa_fallback",
                f"is {fallback!r}",
                "set an object path such as /index.html or ''",
            )
        out["frontend"] = {
            "source": source,
            "spa_fallback": fallback,
            "immutable_paths": _paths(
                where, "frontend.immutable_paths",
                front.get("immutable_paths", ["/_next/static/*"]), "/_next/static/*",
            ),
            "html_max_age": _int(
                where, "frontend.html_max_age", front.get("html_max_age", 60), 0, YEAR_S
            ),
        }  # fmt: skip
    alb = _mapping(where, "alb", decl.get("alb"))
    _unknown(where, "alb", alb, ("idle_timeout",))
    out["alb"] = {
        "idle_timeout": _int(where, "alb.idle_timeout", alb.get("idle_timeout", 60), 1, 4000)
    }
    cdn = _mapping(where, "cdn", decl.get("cdn"))
    _unknown(where, "cdn", cdn, ("origin_read_timeout",))
    out["cdn"] = {
        "origin_read_timeout": _int(
            where, "cdn.origin_read_timeout", cdn.get("origin_read_timeout", 60), 1, 180
        )
    }
    return out


def _edge_service(where: _Where, decl: dict) -> dict:
    """A service's streams (SSE: not cached, not compressed) and its long-cached paths."""
    out: dict[str, Any] = {"streams": {"paths": [], "heartbeat_seconds": 15}, "cached_paths": []}
    if decl.get("streams") is not None:
        streams = _mapping(where, "streams", decl.get("streams"))
        _unknown(where, "streams", streams, ("paths", "heartbeat_seconds"))
        out["streams"] = {
            "paths": _paths(where, "streams.paths", streams.get("paths"), "/api/runs/*/events"),
            "heartbeat_seconds": _int(
                where, "streams.heartbeat_seconds", streams.get("heartbeat_seconds", 15), 1, 3600
            ),
        }
    for i, item in enumerate(_list(where, "cached_paths", decl.get("cached_paths"))):
        field = f"cached_paths[{i}]"
        entry = _mapping(where, field, item)
        _unknown(where, field, entry, ("path", "ttl"))
        path = str(entry.get("path") or "")
        if not PATH_RE.match(path):
            raise where.fail(f"{field}.path", f"is {path!r}", "write a path such as /static/*")
        ttl = _int(where, f"{field}.ttl", entry.get("ttl", 86400), 0, YEAR_S)
        out["cached_paths"].append({"path": path, "ttl": ttl})
    return out


def _covers(pattern: str, path: str) -> bool:
    """True when the CloudFront/ALB pattern matches the path pattern `path` taken literally."""
    return fnmatch.fnmatchcase(path, pattern)


def _overlap(a: str, b: str) -> bool:
    """Two path patterns that can match the same request (one covers the other, or equal)."""
    return a == b or _covers(a, b) or _covers(b, a)


def _check_edge(model: dict, services: list[dict]) -> None:
    """Streams, cached paths and the frontend across services; sets model['edge'].

    A stream that a cached behaviour also matches would be cached or buffered depending on
    behaviour order: refused. A stream outside its service's routing reaches another service
    at the ALB: refused. A heartbeat not shorter than the ALB idle timeout or CloudFront's
    origin read timeout lets an idle stream be cut: refused.
    """
    front = model["frontend"]
    cached: list[tuple[str, str]] = [
        (f"service {s['name']!r} cached_paths", c["path"])
        for s in services
        for c in s["cached_paths"]
    ]
    if front:
        cached += [("stack.frontend.immutable_paths", p) for p in front["immutable_paths"]]
    streams: list[dict] = []
    seen: dict[str, str] = {}
    for svc in services:
        where = _Where(f"service {svc['name']!r}")
        beat = svc["streams"]["heartbeat_seconds"]
        for path in svc["streams"]["paths"]:
            if path in seen:
                raise where.fail(
                    f"streams.paths {path!r}",
                    f"is also a stream of service {seen[path]!r}",
                    "declare each stream path once, in the service that serves it",
                )
            seen[path] = svc["name"]
            for owner, other in cached:
                if _overlap(path, other):
                    how = "equals" if path == other else "overlaps"
                    raise where.fail(
                        f"streams.paths {path!r}",
                        f"{how} the cached path {other!r} ({owner}): a stream must never be "
                        "cached or compressed",
                        f"narrow or remove {other!r}, or move the stream off it",
                    )
            routes = svc["routing"]["paths"]
            if routes and not any(_covers(r, path) for r in routes):
                raise where.fail(
                    f"streams.paths {path!r}",
                    f"is not inside the service's routing.paths ({', '.join(routes)}): the ALB "
                    "would send it to another service",
                    "add a routing path that covers it (e.g. /api/*) or fix the stream path",
                )
            if beat >= model["alb"]["idle_timeout"]:
                raise where.fail(
                    "streams.heartbeat_seconds",
                    f"({beat} s) is not shorter than stack.alb.idle_timeout "
                    f"({model['alb']['idle_timeout']} s): the ALB would close an idle stream",
                    "raise stack.alb.idle_timeout above the heartbeat, or beat more often",
                )
            if beat >= model["cdn"]["origin_read_timeout"]:
                raise where.fail(
                    "streams.heartbeat_seconds",
                    f"({beat} s) is not shorter than stack.cdn.origin_read_timeout "
                    f"({model['cdn']['origin_read_timeout']} s): CloudFront would cut an idle "
                    "stream",
                    "send heartbeats more often or raise stack.cdn.origin_read_timeout (max 180)",
                )
            streams.append({"service": svc["name"], "path": path, "heartbeat_seconds": beat})
    origin_paths: list[str] = []
    if front:
        if not model["roles"]["aws_cdn"]:
            raise _Where("stack").fail(
                "frontend",
                "is declared but roles.aws_cdn is false: only CloudFront serves it",
                "turn aws_cdn on or remove stack.frontend",
            )
        for svc in services:
            for path in svc["routing"]["paths"]:
                if path in ("/*", "*"):
                    raise _Where(f"service {svc['name']!r}").fail(
                        f"routing.paths {path!r}",
                        "would take every path at the edge and hide stack.frontend",
                        "give the service its own paths (e.g. /api/*), or drop stack.frontend "
                        "and run the frontend as a service that owns /*",
                    )
                if path not in origin_paths:
                    origin_paths.append(path)
    count = len(streams) + len(cached) + len(origin_paths)
    if count > MAX_BEHAVIORS:
        raise _Where("stack").fail(
            "services",
            f"need {count} CloudFront cache behaviours (streams, cached paths, routed paths), "
            f"more than the default quota of {MAX_BEHAVIORS}",
            "merge paths (e.g. /api/*) or ask AWS for a quota raise",
        )
    model["edge"] = {
        "streams": streams,
        "cached_paths": [{"service": s["name"], **c} for s in services for c in s["cached_paths"]],
        "origin_paths": origin_paths,
        "heartbeat_max": max((s["heartbeat_seconds"] for s in streams), default=0),
    }


# --- Names ----------------------------------------------------------------------------------


def _names(stack: dict, services: list[dict]) -> dict:
    prefix = f"{stack['name']}-{stack['env']}"
    account, region = stack["account_id"], stack["region"]
    secret_path = f"{stack['name']}/{stack['env']}"
    secrets = {s["name"]: f"{secret_path}/{s['name']}" for s in stack["secrets"]}
    arn = f"arn:aws:secretsmanager:{region}:{account}:secret:"
    buckets = {b["name"]: f"{prefix}-{b['name']}-{account}" for b in stack["buckets"]}
    buckets["audit"] = f"{prefix}-audit-{account}"
    if stack["frontend"]:
        buckets["frontend"] = f"{prefix}-frontend-{account}"
    registry = f"{account}.dkr.ecr.{region}.amazonaws.com"
    execution = f"{prefix}-ecs-execution"
    names: dict[str, Any] = {
        "prefix": prefix,
        "tags": {
            "Project": stack["name"],
            "Environment": stack["env"],
            "ManagedBy": "ansible",
            **stack["tags"],
        },
        "vpc": prefix,
        "subnets": {
            "public": [f"{prefix}-public-1", f"{prefix}-public-2"],
            "private": [f"{prefix}-private-1", f"{prefix}-private-2"],
        },
        "security_groups": {"alb": f"{prefix}-alb", "app": f"{prefix}-app"},
        "cluster": prefix,
        "alb": f"{prefix}-alb",
        "buckets": buckets,
        "secrets": secrets,
        "secret_arn_patterns": {
            k: f"{arn}{v}{stack['secret_arn_suffix']}" for k, v in secrets.items()
        },
        "origin_secret": secrets.get(stack["origin_secret"], ""),
        "roles": {
            "execution": execution,
            "deploy": f"{prefix}-github-deploy",
            "host": f"{prefix}-host",
            "lightsail_user": f"{prefix}-lightsail-host",
        },
        "lightsail_key_secret": f"{secret_path}/lightsail-host-key",
        "topic": f"{prefix}-alerts",
        "alarm_prefix": f"{prefix}-",
        "dashboard": prefix,
        "budget": f"{prefix}-monthly",
        "trail": f"{prefix}-trail",
        "flow_logs_group": f"/vpc/{prefix}/flow-logs",
        "distribution_comment": f"{prefix} (Crayon kit, role aws_cdn)",
        "frontend_oac": f"{prefix}-frontend",
        "spa_function": f"{prefix}-spa-fallback",
        "host": prefix,
        "kms_alias": f"alias/{prefix}",
        "database": {
            "instance": f"{prefix}-db",
            "replica": f"{prefix}-db-replica",
            "cluster": f"{prefix}-db",
            "subnet_group": f"{prefix}-db",
            "security_group": f"{prefix}-db",
        },
        "services": {},
    }
    if len(names["alb"]) > 32:
        raise AnsibleFilterError(
            f"stack: name and env make the load balancer name {names['alb']!r}, longer than "
            "AWS's 32 characters; shorten stack.name or stack.env"
        )
    for svc in services:
        base = f"{prefix}-{svc['name']}"
        repository = f"{prefix}-{svc['image']['repository']}"
        entry = {
            "service": base,
            "family": base,
            "container": svc["name"],
            "target_group": base,
            "log_group": svc["logs"]["group"] or f"/ecs/{base}",
            "repository": repository,
            "repository_uri": f"{registry}/{repository}",
            "task_role": f"{base}-task",
            "task_role_arn": f"arn:aws:iam::{account}:role/{base}-task",
            "execution_role_arn": f"arn:aws:iam::{account}:role/{execution}",
            "scaling_policy": f"{base}-scaling",
        }
        if len(entry["target_group"]) > 32:
            raise AnsibleFilterError(
                f"service {svc['name']!r}: name: the target group name {entry['target_group']!r} "
                "is longer than AWS's 32 characters; shorten the service name (or stack.name/env)"
            )
        names["services"][svc["name"]] = entry
    _cost_tags(names, services)
    # The IAM roles the stack manages, in one order (preflight's read and aws_iam agree on it).
    names["iam_roles"] = [
        execution,
        *(names["services"][s["name"]]["task_role"] for s in services),
        names["roles"]["deploy"],
        names["roles"]["host"],
    ]
    return names


def _cost_tags(names: dict, services: list[dict]) -> None:
    """Cost by service (seed 004 req. 7.6/10.4): every resource of a service carries
    Service=<name>, the stack's shared ones (network, ALB, cluster, key, trail) Service=shared.
    names.tags stays without it, so a role that tags shared and per-service things alike
    picks one of these two on purpose."""
    names["shared_tags"] = {**names["tags"], "Service": "shared"}
    names["shared_budget"] = f"{names['prefix']}-shared-monthly"
    for svc in services:
        entry = names["services"][svc["name"]]
        entry["tags"] = {**names["tags"], "Service": svc["name"]}
        entry["budget"] = f"{names['prefix']}-{svc['name']}-monthly"


# --- Cross-checks that need the whole declaration -------------------------------------------


def _check_database_path(model: dict, services: list[dict]) -> None:
    """A database only its backend reaches: the backend must be an ECS service in the stack's
    VPC, behind the app security group the database admits (roles/aws_database)."""
    database = model["database"]
    if database is None:
        return
    backend = database["backend"]
    where = _Where("stack")
    if backend not in {s["name"] for s in services}:
        return  # crayon_stack's own check names it
    roles = model["roles"]
    if model["target"] != "ecs":
        raise where.fail(
            "database.backend",
            f"names service {backend!r}, which runs on one {model['target']} host outside the "
            "VPC's app security group: the database would be without the backend's security group",
            "set stack.target: ecs, or remove stack.database",
        )
    for role, what in (
        ("aws_network", "the VPC, its private subnets and the app security group"),
        ("aws_ecs", f"service {backend!r} itself (its tasks carry the app security group)"),
        ("aws_kms", "the key the database is encrypted with"),
    ):
        if not roles[role]:
            raise where.fail(
                f"roles.{role}",
                f"is false, but database.backend {backend!r} needs {what}: the database would be "
                "without the backend's security group",
                f"remove roles.{role}: false, or remove stack.database",
            )


def _resolve(where: _Where, field: str, value: Any, ctx: dict) -> str:
    """Replace ${bucket:x}, ${secret:x}, ${region}, ${account}, ${port}, ${prefix}."""
    text = "" if value is None else str(value)

    def one(match: re.Match[str]) -> str:
        kind, arg = match.group(1), match.group(2)
        if kind in ("bucket", "secret"):
            table = ctx["names"]["buckets" if kind == "bucket" else "secrets"]
            if arg not in table or (kind == "bucket" and arg in RESERVED_BUCKETS):
                declared = ", ".join(k for k in table if k not in RESERVED_BUCKETS) or "none"
                raise where.fail(
                    field,
                    f"names {kind} {arg!r}, which is not declared in stack.{kind}s",
                    f"declare it there or use one of: {declared}",
                )
            return str(table[arg])
        simple = {
            "region": ctx["stack"]["region"],
            "account": ctx["stack"]["account_id"],
            "prefix": ctx["names"]["prefix"],
            "port": str(ctx["service"]["port"]),
            "service": ctx["service"]["name"],
        }
        if kind not in simple or arg is not None:
            raise where.fail(
                field,
                f"has an unknown reference {match.group(0)!r}",
                "use ${bucket:NAME}, ${secret:NAME}, ${region}, ${account}, ${prefix}, ${port} "
                "or ${service} (write $${ for a literal ${)",
            )
        return simple[kind]

    parts = text.split("$${")
    return "${".join(REFERENCE_RE.sub(one, part) for part in parts)


def _wire(svc: dict, stack: dict, names: dict, image_tag: str) -> None:
    where = _Where(f"service {svc['name']!r}")
    ctx = {"stack": stack, "names": names, "service": svc}
    environment: dict[str, str] = {}
    for key, value in svc["environment"].items():
        if not ENV_VAR_RE.match(str(key)):
            raise where.fail("environment", f"has the name {key!r}", "use letters, digits and _")
        environment[str(key)] = _resolve(where, f"environment.{key}", value, ctx)
    svc["environment"] = environment

    declared = {s["name"]: s for s in stack["secrets"]}
    secrets: dict[str, dict] = {}
    for key, ref in svc["secrets"].items():
        field = f"secrets.{key}"
        if not ENV_VAR_RE.match(str(key)):
            raise where.fail("secrets", f"has the name {key!r}", "use letters, digits and _")
        if key in environment:
            raise where.fail(field, "is also in environment", "set it in one of the two")
        entry = _mapping(where, field, ref)
        _unknown(where, field, entry, ("secret", "key"))
        secret = str(entry.get("secret", ""))
        if secret not in declared:
            raise where.fail(
                f"{field}.secret",
                f"names {secret!r}, which is not declared in stack.secrets",
                f"declare it there or use one of: {', '.join(declared) or 'none'}",
            )
        key_name = str(entry.get("key", declared[secret]["json_key"]) or "")
        secrets[str(key)] = {
            "secret": secret,
            "secret_name": names["secrets"][secret],
            "key": key_name,
            "arn_pattern": names["secret_arn_patterns"][secret],
        }
    svc["secrets"] = secrets

    perms = svc["permissions"]
    _unknown(where, "permissions", perms, ("buckets", "secrets"))
    buckets: list[dict] = []
    for i, item in enumerate(_list(where, "permissions.buckets", perms.get("buckets"))):
        field = f"permissions.buckets[{i}]"
        entry = _mapping(where, field, item)
        _unknown(where, field, entry, ("bucket", "prefixes", "access"))
        bucket = str(entry.get("bucket", ""))
        declared_buckets = [b["name"] for b in stack["buckets"]]
        if bucket not in declared_buckets:
            raise where.fail(
                f"{field}.bucket",
                f"names {bucket!r}, which is not declared in stack.buckets",
                f"declare it there or use one of: {', '.join(declared_buckets) or 'none'}",
            )
        prefixes = [str(p) for p in _list(where, f"{field}.prefixes", entry.get("prefixes"))]
        for p in prefixes:
            if p.startswith("/") or "*" in p:
                raise where.fail(
                    f"{field}.prefixes", f"has {p!r}", "write key prefixes like uploads/"
                )
        buckets.append(
            {
                "bucket": bucket,
                "bucket_name": names["buckets"][bucket],
                "prefixes": prefixes,
                "access": _choice(
                    where, f"{field}.access", entry.get("access", "read"), BUCKET_ACCESS
                ),
            }
        )
    secret_perms: list[str] = []
    for i, item in enumerate(_list(where, "permissions.secrets", perms.get("secrets"))):
        if str(item) not in declared:
            raise where.fail(
                f"permissions.secrets[{i}]",
                f"names {item!r}, which is not declared in stack.secrets",
                f"declare it there or use one of: {', '.join(declared) or 'none'}",
            )
        secret_perms.append(str(item))
    svc["permissions"] = {
        "buckets": buckets,
        "secrets": secret_perms,
        "secret_names": [names["secrets"][s] for s in secret_perms],
        "secret_arn_patterns": [names["secret_arn_patterns"][s] for s in secret_perms],
    }
    svc["names"] = names["services"][svc["name"]]
    svc["image_uri_default"] = f"{svc['names']['repository_uri']}:{image_tag}"


def _check_routes(services: list[dict]) -> None:
    owners: dict[tuple[str, str], str] = {}
    priorities: dict[int, str] = {}
    for svc in services:
        where = _Where(f"service {svc['name']!r}")
        routing = svc["routing"]
        for host in routing["hosts"] or [""]:
            for path in routing["paths"] or [""]:
                other = owners.get((host, path))
                if other:
                    field = f"routing.paths {path!r}" if path else f"routing.hosts {host!r}"
                    on = f" on host {host!r}" if host and path else ""
                    raise where.fail(
                        field,
                        f"is also used by service {other!r}{on}",
                        "give each service its own paths or hosts",
                    )
                owners[(host, path)] = svc["name"]
        other = priorities.get(routing["priority"])
        if other:
            raise where.fail(
                "routing.priority",
                f"{routing['priority']} is also used by service {other!r}",
                "give each service its own priority",
            )
        priorities[routing["priority"]] = svc["name"]


def crayon_stack(stack: Any, services: Any, image_tag: str = "latest") -> dict:
    """The stack model: the declaration validated, defaults filled, names derived."""
    model = _stack(copy.deepcopy(stack))
    raw_services = _list(_Where("services"), "services", copy.deepcopy(services))
    if not raw_services and model["target"] != "ecs":
        raise AnsibleFilterError(
            "services: none declared; declare the app as one service (docs/stack-model.md)"
        )
    parsed: list[dict] = []
    for i, raw in enumerate(raw_services):
        svc = _service(raw, i, model)
        if svc["name"] in {s["name"] for s in parsed}:
            raise AnsibleFilterError(
                f"service {svc['name']!r}: name is declared twice (services[{i}]); "
                "give each service its own name"
            )
        parsed.append(svc)
    if model["target"] != "ecs" and len(parsed) > 1:
        raise AnsibleFilterError(
            f"services: {len(parsed)} declared but stack.target {model['target']} runs one app "
            "on one host; declare one service or set stack.target: ecs"
        )
    _check_routes(parsed)
    _check_edge(model, parsed)
    _check_database_path(model, parsed)
    database = model["database"]
    if database is not None and database["backend"] not in {s["name"] for s in parsed}:
        raise AnsibleFilterError(
            f"stack: database.backend names {database['backend']!r}, which is not a declared "
            "service: the database would admit no one; name the service that uses it"
        )
    names = _names(model, parsed)
    for svc in parsed:
        _wire(svc, model, names, str(image_tag or "latest"))
    for bucket in model["buckets"]:
        bucket["bucket_name"] = names["buckets"][bucket["name"]]
    for secret in model["secrets"]:
        secret["id"] = names["secrets"][secret["name"]]
        secret["arn_pattern"] = names["secret_arn_patterns"][secret["name"]]
        # The model is a fact that -v prints: the initial value stays in the inventory
        # (aws_secrets reads it from stack.secrets under no_log), only its presence is kept.
        secret["has_initial"] = bool(secret.pop("initial"))
    model["services"] = parsed
    model["names"] = names
    return model


# --- Alarms ---------------------------------------------------------------------------------


def crayon_service_alarms(
    services: list[dict],
    prefix: str,
    cluster: str,
    load_balancer: str = "",
    target_groups: dict | None = None,
    on_ecs: bool = True,
) -> list[dict]:
    """The CloudWatch alarms the services declare, in aws_monitoring's alarm shape.

    load_balancer is the ALB's metric dimension (app/<name>/<id>); target_groups maps a
    service name to its target group's dimension (targetgroup/<name>/<id>). An alarm whose
    dimensions are not known yet (first check-mode run) comes back with enabled false.
    """
    target_groups = target_groups or {}
    alarms: list[dict] = []
    for svc in services:
        a = svc["alarms"]
        base = f"{prefix}-{svc['name']}"
        period = a["period"]
        span = f"for {a['periods'] * period // 60} minutes"
        ecs_dims = {"ClusterName": cluster, "ServiceName": svc["names"]["service"]}
        tg = target_groups.get(svc["name"], "")
        common = {"treat_missing_data": "missing", "statistic": "Average"}
        if a["cpu_above"] > 0:
            alarms.append(
                {
                    **common,
                    "name": f"{base}-cpu-high",
                    "enabled": on_ecs,
                    "description": f"{svc['name']}: CPU above {a['cpu_above']:g} % {span}",
                    "namespace": "AWS/ECS",
                    "metric_name": "CPUUtilization",
                    "dimensions": ecs_dims,
                    "comparison": "GreaterThanThreshold",
                    "threshold": a["cpu_above"],
                    "period": period,
                    "evaluation_periods": a["periods"],
                }
            )
        if a["memory_above"] > 0:
            alarms.append(
                {
                    **common,
                    "name": f"{base}-memory-high",
                    "enabled": on_ecs,
                    "description": f"{svc['name']}: memory above {a['memory_above']:g} % {span}",
                    "namespace": "AWS/ECS",
                    "metric_name": "MemoryUtilization",
                    "dimensions": ecs_dims,
                    "comparison": "GreaterThanThreshold",
                    "threshold": a["memory_above"],
                    "period": period,
                    "evaluation_periods": a["periods"],
                }
            )
        if a["healthy_hosts_below"] > 0:
            alarms.append(
                {
                    "name": f"{base}-no-healthy-target",
                    "enabled": on_ecs and bool(load_balancer and tg),
                    "description": (
                        f"{svc['name']}: fewer than {a['healthy_hosts_below']} healthy targets for "
                        f"{a['healthy_hosts_periods']} minutes"
                    ),
                    "namespace": "AWS/ApplicationELB",
                    "metric_name": "HealthyHostCount",
                    "statistic": "Minimum",
                    "dimensions": {"LoadBalancer": load_balancer, "TargetGroup": tg},
                    "comparison": "LessThanThreshold",
                    "threshold": float(a["healthy_hosts_below"]),
                    "period": 60,
                    "evaluation_periods": a["healthy_hosts_periods"],
                    "treat_missing_data": "breaching",
                }
            )
        if a["response_time_above"] > 0:
            alarms.append(
                {
                    "name": f"{base}-slow-responses",
                    "enabled": on_ecs and bool(load_balancer and tg),
                    "description": (
                        f"{svc['name']}: target response time above {a['response_time_above']:g} s "
                        f"for {a['response_time_periods']} periods of {period} s"
                    ),
                    "namespace": "AWS/ApplicationELB",
                    "metric_name": "TargetResponseTime",
                    "statistic": "Average",
                    "dimensions": {"LoadBalancer": load_balancer, "TargetGroup": tg},
                    "comparison": "GreaterThanThreshold",
                    "threshold": a["response_time_above"],
                    "period": period,
                    "evaluation_periods": a["response_time_periods"],
                    "treat_missing_data": "notBreaching",
                }
            )
        for m in a["metrics"]:
            alarms.append(
                {
                    "name": f"{base}-{m['name']}",
                    "enabled": True,
                    "description": m["description"],
                    "namespace": m["namespace"],
                    "metric_name": m["metric"],
                    "statistic": m["statistic"],
                    "dimensions": m["dimensions"],
                    "comparison": m["comparison"],
                    "threshold": m["threshold"],
                    "period": m["period"],
                    "evaluation_periods": m["periods"],
                    "treat_missing_data": m["missing"],
                }
            )
    return alarms


# --- IAM policies ---------------------------------------------------------------------------


def _sid(text: str) -> str:
    """An IAM statement id (letters and digits only) from a declared name."""
    return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", text) if part)


def crayon_task_policy(services: Any) -> dict | None:
    """The least-privilege policy a service's task needs (its permissions), or None when it
    needs none (an empty task role). Given a list, the union (the one host of ec2/lightsail)."""
    items = services if isinstance(services, list) else [services]
    statements: list[dict] = []
    seen: set[str] = set()
    secrets: list[str] = []
    for svc in items:
        for perm in svc["permissions"]["buckets"]:
            arn = f"arn:aws:s3:::{perm['bucket_name']}"
            sid = _sid(perm["bucket"])
            if sid in seen:  # the union of two services naming the same bucket: first wins
                continue
            seen.add(sid)
            prefixes = perm["prefixes"]
            statements.append(
                {"Sid": f"{sid}Location", "Effect": "Allow",
                 "Action": ["s3:GetBucketLocation"], "Resource": arn}
            )  # fmt: skip
            listing: dict[str, Any] = {
                "Sid": f"{sid}List", "Effect": "Allow",
                "Action": ["s3:ListBucket"], "Resource": arn,
            }  # fmt: skip
            if prefixes:
                listing["Condition"] = {"StringLike": {"s3:prefix": [f"{p}*" for p in prefixes]}}
            statements.append(listing)
            actions = ["s3:GetObject"]
            if perm["access"] == "read-write":
                actions += ["s3:PutObject", "s3:DeleteObject"]
            statements.append(
                {
                    "Sid": f"{sid}Objects",
                    "Effect": "Allow",
                    "Action": actions,
                    "Resource": [f"{arn}/{p}*" for p in prefixes] or [f"{arn}/*"],
                }
            )
        for pattern in svc["permissions"]["secret_arn_patterns"]:
            if pattern not in secrets:
                secrets.append(pattern)
    if secrets:
        statements.append(
            {"Sid": "Secrets", "Effect": "Allow",
             "Action": ["secretsmanager:GetSecretValue"], "Resource": secrets}
        )  # fmt: skip
    return {"Version": "2012-10-17", "Statement": statements} if statements else None


def crayon_execution_policy(services: list[dict], region: str, account: str) -> dict:
    """What the ECS agent needs for every service: pull its image, write its logs, and read
    exactly the secrets it injects (valueFrom), nothing else."""
    repos, logs, secrets = [], [], []
    for svc in services:
        repos.append(f"arn:aws:ecr:{region}:{account}:repository/{svc['names']['repository']}")
        logs.append(f"arn:aws:logs:{region}:{account}:log-group:{svc['names']['log_group']}:*")
        for ref in svc["secrets"].values():
            if ref["arn_pattern"] not in secrets:
                secrets.append(ref["arn_pattern"])
    statements: list[dict] = [
        {"Sid": "EcrToken", "Effect": "Allow",
         "Action": ["ecr:GetAuthorizationToken"], "Resource": "*"},
        {"Sid": "EcrPull", "Effect": "Allow",
         "Action": ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer",
                    "ecr:BatchGetImage"],
         "Resource": sorted(set(repos))},
        {"Sid": "Logs", "Effect": "Allow",
         "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": sorted(set(logs))},
    ]  # fmt: skip
    if secrets:
        statements.append(
            {"Sid": "Secrets", "Effect": "Allow",
             "Action": ["secretsmanager:GetSecretValue"], "Resource": secrets}
        )  # fmt: skip
    return {"Version": "2012-10-17", "Statement": statements}


class FilterModule:
    def filters(self) -> dict:
        return {
            "crayon_stack": crayon_stack,
            "crayon_service_alarms": crayon_service_alarms,
            "crayon_task_policy": crayon_task_policy,
            "crayon_execution_policy": crayon_execution_policy,
        }
