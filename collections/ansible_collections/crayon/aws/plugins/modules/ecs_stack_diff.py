#!/usr/bin/python
"""Read every resource roles/aws_ecs manages and say, per resource, which wanted fields differ.

The role describes what it wants once (filter_plugins/aws_ecs_wanted.py), in the option shape
of the module that writes each resource. This module reads AWS in one process (reads side by
side in a thread pool), puts what it read into the same shape, and compares field by field.
A write task runs only `when: not diff.<resource>.in_sync`. Every field of the wanted dict is
compared: a field this module has no reading for is reported as differing, never skipped, so a
setting can not be silently left unapplied (tests/deploy/test_ecs_stack_diff.py changes each
field in turn and checks that it is reported).
"""

from __future__ import annotations

DOCUMENTATION = r"""
module: ecs_stack_diff
short_description: Compare the wanted ECS stack (cluster, ALB, services) with AWS, read-only
description:
  - Reads the ECS cluster, the shared ALB with its listeners and rules, and per service the log
    group, task definition, target group, service and auto-scaling policy; compares them with
    O(wanted) and returns, per resource, C(in_sync) and the list of differing fields.
  - Strings in O(wanted) that start with C(@) are references resolved here (C(@vpc),
    C(@subnet:NAME), C(@sg:NAME), C(@secret:NAME), C(@tg:NAME), C(@alb), C(@label:SERVICE),
    C(@taskdef:SERVICE), C(@image:SERVICE), C(@desired:SERVICE)); the map is returned as
    RV(ids) so the caller's wanted state gets the real values.
  - Never changes anything. Supports check mode.
options:
  wanted:
    description: The output of the aws_ecs_wanted filter.
    type: dict
    required: true
  revisions:
    description: Also list every ACTIVE task definition revision per service (destroy).
    type: bool
    default: false
author: Crayon
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Read and compare the ECS stack
  crayon.aws.ecs_stack_diff:
    wanted: "{{ aws_ecs_wanted }}"
  register: aws_ecs_diff

- name: Target groups that differ
  community.aws.elb_target_group: "..."
  loop: "{{ aws_ecs_services }}"
  when: not aws_ecs_diff.services[item.name].target_group.in_sync
"""

RETURN = r"""
ids:
  description: Reference (C(@...)) -> value, for every reference that could be resolved.
  returned: always
  type: dict
missing:
  description: Prerequisites that do not exist (VPC, subnets, security groups, secrets).
  returned: always
  type: list
  elements: str
cluster:
  description: C(in_sync), C(exists) and C(differs) (field names) for the cluster.
  returned: always
  type: dict
cluster_settings:
  description: The same for Container Insights.
  returned: always
  type: dict
alb:
  description: The same for the load balancer, its listeners and its rules.
  returned: always
  type: dict
alb_attributes:
  description: The same for the load balancer's access-log attributes.
  returned: always
  type: dict
services:
  description: >-
    Per service name, the same for log_group, task_definition, target_group, service and
    scaling, service_capacity and service_tags; plus image_missing (no task until the first
    image is pushed), desired_count (now) and revisions.
  returned: always
  type: dict
stale_services:
  description: ECS services in the cluster, named with the stack's prefix, that are not declared.
  returned: always
  type: list
  elements: str
existing_services:
  description: The declared ECS services that exist (by their ECS names).
  returned: always
  type: list
  elements: str
stale_rules:
  description: >-
    Listener rules forwarding to one of the stack's target groups that no declared service
    owns (the ALB write removes them).
  returned: always
  type: list
  elements: dict
"""

import copy  # noqa: E402
from collections.abc import Callable  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from typing import Any  # noqa: E402

from ansible_collections.crayon.aws.plugins.module_utils.common import (  # noqa: E402
    AWS_ERRORS,
    AnsibleAWSModule,
    ClientError,
    Clients,
    error_code,
    tags_dict,
)
from ansible_collections.crayon.aws.plugins.module_utils.ecs import task_definition_arns  # noqa: E402

# Lists whose order AWS does not keep (or the role does not care about), and the key to sort by.
_ORDERLESS: dict[str, Callable[[Any], Any]] = {
    "subnets": str,
    "security_groups": str,
    "capacity_providers": str,
    "environment": lambda e: e.get("name", "") if isinstance(e, dict) else str(e),
    "secrets": lambda e: e.get("name", "") if isinstance(e, dict) else str(e),
    "Certificates": lambda c: c.get("CertificateArn", "") if isinstance(c, dict) else str(c),
    "Conditions": lambda c: c.get("Field", "") if isinstance(c, dict) else str(c),
    "Values": str,
    "Rules": lambda r: int(r.get("Priority", 0)) if isinstance(r, dict) else 0,
    "capacity_provider_strategy": lambda s: (
        s.get("capacity_provider", "") if isinstance(s, dict) else str(s)
    ),
}
# Dicts compared whole (extra keys in AWS count), not as "the wanted keys are there".
_EXACT = {"tags"}
# Keys of the wanted dict that are the reader's inputs, not settings to compare.
_NOT_SETTINGS = {"plan"}


def _norm(value: Any) -> Any:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (int, float)):
        return str(value)
    return value


def compare(want: Any, have: Any, key: str = "") -> bool:
    """True when `have` carries every wanted value (lists: same length, same elements)."""
    if isinstance(want, dict):
        if not isinstance(have, dict):
            return False
        if key in _EXACT and set(want) != set(have):
            return False
        return all(k in have and compare(v, have[k], k) for k, v in want.items())
    if isinstance(want, list):
        if not isinstance(have, list) or len(want) != len(have):
            return False
        order = _ORDERLESS.get(key)
        if order:
            want, have = sorted(want, key=order), sorted(have, key=order)
        return all(compare(w, h, key + "[]") for w, h in zip(want, have, strict=True))
    return _norm(want) == _norm(have)


def differs(want: dict[str, Any], have: dict[str, Any] | None) -> dict[str, Any]:
    """in_sync/exists/differs for one resource; every top-level wanted field is compared."""
    if have is None:
        return {"in_sync": False, "exists": False, "differs": ["(missing)"]}
    fields = [
        k for k, v in want.items() if k not in _NOT_SETTINGS and not compare(v, have.get(k), k)
    ]
    return {"in_sync": not fields, "exists": True, "differs": fields}


def _resolve(value: Any, ids: dict[str, Any]) -> Any:
    if isinstance(value, dict):
        return {k: _resolve(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, ids) for v in value]
    if isinstance(value, str) and value.startswith("@secret:"):  # "@secret:NAME[:key::]"
        name, _, rest = value.partition(":")[2].partition(":")
        arn = ids.get("@secret:" + name)
        return value if arn is None else arn + (":" + rest if rest else "")
    if isinstance(value, str) and value.startswith("@"):
        return ids.get(value, value)
    return value


# ----------------------------------------------------------------------------------- reads


def read_network(ec2: Any, lookup: dict[str, Any]) -> dict[str, str]:
    ids: dict[str, str] = {}
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [lookup["vpc"]]}])["Vpcs"]
    if len(vpcs) != 1:
        return ids
    vpc = vpcs[0]["VpcId"]
    ids["@vpc"] = vpc
    flt = [{"Name": "vpc-id", "Values": [vpc]}]
    for s in ec2.describe_subnets(
        Filters=[*flt, {"Name": "tag:Name", "Values": lookup["subnets"]}]
    )["Subnets"]:
        ids["@subnet:" + tags_dict(s.get("Tags")).get("Name", "")] = s["SubnetId"]
    for g in ec2.describe_security_groups(
        Filters=[*flt, {"Name": "group-name", "Values": lookup["security_groups"]}]
    )["SecurityGroups"]:
        ids["@sg:" + g["GroupName"]] = g["GroupId"]
    return ids


def read_secrets(sm: Any, names: list[str]) -> dict[str, str]:
    ids = {}
    for name in names:
        try:
            d = sm.describe_secret(SecretId=name)
        except ClientError as e:
            if error_code(e) == "ResourceNotFoundException":
                continue
            raise
        if not d.get("DeletedDate"):
            ids["@secret:" + name] = d["ARN"]
    return ids


def read_cluster(ecs: Any, name: str) -> dict[str, Any] | None:
    found = ecs.describe_clusters(clusters=[name], include=["SETTINGS"])["clusters"]
    c = found[0] if found and found[0].get("status") == "ACTIVE" else None
    if c is None:
        return None
    return {
        "arn": c["clusterArn"],
        "name": c["clusterName"],
        "capacity_providers": c.get("capacityProviders", []),
        "capacity_provider_strategy": [
            {
                "capacity_provider": s["capacityProvider"],
                "weight": s.get("weight", 0),
                "base": s.get("base", 0),
            }
            for s in c.get("defaultCapacityProviderStrategy", [])
        ],
        "container_insights": {s["name"]: s["value"] for s in c.get("settings", [])}.get(
            "containerInsights", "disabled"
        ),
    }


def read_services(ecs: Any, cluster: str, names: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"services": {}, "others": []}
    try:
        for i in range(0, len(names), 10):
            for s in ecs.describe_services(
                cluster=cluster, services=names[i : i + 10], include=["TAGS"]
            )["services"]:
                if s.get("status") == "ACTIVE":
                    out["services"][s["serviceName"]] = s
        for page in ecs.get_paginator("list_services").paginate(cluster=cluster):
            out["others"] += [a.rsplit("/", 1)[-1] for a in page["serviceArns"]]
    except ClientError as e:
        if error_code(e) != "ClusterNotFoundException":
            raise
    return out


def read_task_definition(ecs: Any, ref: str) -> dict[str, Any] | None:
    try:
        return ecs.describe_task_definition(taskDefinition=ref)["taskDefinition"]
    except ClientError as e:
        if error_code(e) in ("ClientException", "InvalidParameterException"):
            return None
        raise


def read_log_group(logs: Any, name: str) -> dict[str, Any] | None:
    groups = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    match = [g for g in groups if g["logGroupName"] == name]
    if not match:
        return None
    tags = logs.list_tags_log_group(logGroupName=name).get("tags", {})
    return {
        "log_group_name": name,
        "retention": match[0].get("retentionInDays"),
        "tags": tags,
        "kms_key_id": match[0].get("kmsKeyId", ""),
    }


def read_target_groups(elbv2: Any, names: list[str], prefix: str) -> dict[str, Any]:
    """Every target group named <prefix>-..., with attributes and tags for the wanted ones."""
    found: dict[str, Any] = {}
    for page in elbv2.get_paginator("describe_target_groups").paginate():
        for tg in page["TargetGroups"]:
            if tg["TargetGroupName"] in names or tg["TargetGroupName"].startswith(prefix + "-"):
                found[tg["TargetGroupName"]] = tg
    out: dict[str, Any] = {
        "arns": {n: tg["TargetGroupArn"] for n, tg in found.items()},
        "groups": {},
    }
    wanted = [found[n] for n in names if n in found]
    tags: dict[str, dict[str, str]] = {}
    for i in range(0, len(wanted), 20):
        for d in elbv2.describe_tags(
            ResourceArns=[t["TargetGroupArn"] for t in wanted[i : i + 20]]
        )["TagDescriptions"]:
            tags[d["ResourceArn"]] = tags_dict(d.get("Tags"))
    for tg in wanted:
        attrs = {
            a["Key"]: a["Value"]
            for a in elbv2.describe_target_group_attributes(TargetGroupArn=tg["TargetGroupArn"])[
                "Attributes"
            ]
        }
        out["groups"][tg["TargetGroupName"]] = {
            "name": tg["TargetGroupName"],
            "protocol": tg.get("Protocol"),
            "port": tg.get("Port"),
            "target_type": tg.get("TargetType"),
            "vpc_id": tg.get("VpcId"),
            "health_check_protocol": tg.get("HealthCheckProtocol"),
            "health_check_path": tg.get("HealthCheckPath"),
            "health_check_port": tg.get("HealthCheckPort"),
            "health_check_interval": tg.get("HealthCheckIntervalSeconds"),
            "health_check_timeout": tg.get("HealthCheckTimeoutSeconds"),
            "healthy_threshold_count": tg.get("HealthyThresholdCount"),
            "unhealthy_threshold_count": tg.get("UnhealthyThresholdCount"),
            "successful_response_codes": tg.get("Matcher", {}).get("HttpCode"),
            "deregistration_delay_timeout": attrs.get("deregistration_delay.timeout_seconds"),
            "tags": tags.get(tg["TargetGroupArn"], {}),
        }
    return out


def _action(a: dict[str, Any]) -> dict[str, Any]:
    if a["Type"] == "forward":
        return {"Type": "forward", "TargetGroupArn": a.get("TargetGroupArn", "")}
    if a["Type"] == "redirect":
        return {"Type": "redirect", "RedirectConfig": a.get("RedirectConfig", {})}
    return {k: v for k, v in a.items() if k != "Order"}


def _rule(r: dict[str, Any]) -> dict[str, Any]:
    conditions = []
    for c in r.get("Conditions", []):
        key = {"path-pattern": "PathPatternConfig", "host-header": "HostHeaderConfig"}.get(
            c["Field"]
        )
        if key:
            values = (c.get(key) or {}).get("Values") or c.get("Values", [])
            conditions.append({"Field": c["Field"], key: {"Values": values}})
        else:
            conditions.append({k: v for k, v in c.items()})
    return {
        "Priority": int(r["Priority"]),
        "Conditions": conditions,
        "Actions": [_action(a) for a in r.get("Actions", [])],
    }


def read_alb(elbv2: Any, name: str) -> dict[str, Any] | None:
    try:
        lb = elbv2.describe_load_balancers(Names=[name])["LoadBalancers"][0]
    except ClientError as e:
        if error_code(e) in ("LoadBalancerNotFound", "LoadBalancerNotFoundException"):
            return None
        raise
    arn = lb["LoadBalancerArn"]
    listeners = []
    for li in elbv2.describe_listeners(LoadBalancerArn=arn)["Listeners"]:
        rules = elbv2.describe_rules(ListenerArn=li["ListenerArn"])["Rules"]
        listener: dict[str, Any] = {
            "Protocol": li["Protocol"],
            "Port": li["Port"],
            "DefaultActions": [_action(a) for a in li.get("DefaultActions", [])],
            "Rules": [_rule(r) for r in rules if not r.get("IsDefault")],
        }
        if li["Protocol"] == "HTTPS":
            listener["SslPolicy"] = li.get("SslPolicy", "")
            listener["Certificates"] = [
                {"CertificateArn": c["CertificateArn"]} for c in li.get("Certificates", [])
            ]
        listeners.append(listener)
    attrs = {
        a["Key"]: a["Value"]
        for a in elbv2.describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"]
    }
    current: dict[str, Any] = {
        "name": name,
        "scheme": lb.get("Scheme"),
        "subnets": [z["SubnetId"] for z in lb.get("AvailabilityZones", [])],
        "security_groups": lb.get("SecurityGroups", []),
        "listeners": sorted(listeners, key=lambda x: x["Port"]),
        "tags": tags_dict(
            elbv2.describe_tags(ResourceArns=[arn])["TagDescriptions"][0].get("Tags")
        ),
        "idle_timeout": attrs.get("idle_timeout.timeout_seconds", "60"),
        "http_drop_invalid_header_fields": attrs.get(
            "routing.http.drop_invalid_header_fields.enabled", "false"
        ),
    }
    # A missing access-log key (moto) means off, as on a new AWS load balancer.
    logs = {
        "access_logs.s3.enabled": "false",
        "access_logs.s3.bucket": "",
        "access_logs.s3.prefix": "",
    }
    logs.update({k: v for k, v in attrs.items() if k.startswith("access_logs.s3.")})
    # Missing (moto) means AWS's default.
    logs["idle_timeout.timeout_seconds"] = attrs.get("idle_timeout.timeout_seconds", "60")
    return {
        "arn": arn,
        "dns_name": lb["DNSName"],
        "zone_id": lb["CanonicalHostedZoneId"],
        "current": current,
        "access_logs": logs,
    }


def read_scaling(aas: Any, resource_ids: list[str]) -> dict[str, Any]:
    targets = {
        t["ResourceId"]: t
        for t in aas.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=resource_ids)[
            "ScalableTargets"
        ]
    }
    policies: dict[str, list[dict[str, Any]]] = {}
    for rid in resource_ids:
        policies[rid] = aas.describe_scaling_policies(ServiceNamespace="ecs", ResourceId=rid)[
            "ScalingPolicies"
        ]
    return {"targets": targets, "policies": policies}


def image_exists(ecr: Any, image: str) -> bool:
    path, _, tag = image.rpartition(":")
    if "/" not in path or not tag:
        return False
    try:
        ecr.describe_images(repositoryName=path.split("/", 1)[1], imageIds=[{"imageTag": tag}])
    except ClientError as e:
        if error_code(e) in ("ImageNotFoundException", "RepositoryNotFoundException"):
            return False
        raise
    return True


# ------------------------------------------------------------------ current, in option shape


def service_shape(s: dict[str, Any]) -> dict[str, Any]:
    net = s.get("networkConfiguration", {}).get("awsvpcConfiguration", {})
    dc = s.get("deploymentConfiguration", {})
    cb = dc.get("deploymentCircuitBreaker", {})
    return {
        "name": s["serviceName"],
        "cluster": s["clusterArn"].rsplit("/", 1)[-1],
        "task_definition": s["taskDefinition"].rsplit("/", 1)[-1],
        "desired_count": s.get("desiredCount"),
        "network_configuration": {
            "subnets": net.get("subnets", []),
            "security_groups": net.get("securityGroups", []),
            "assign_public_ip": net.get("assignPublicIp") == "ENABLED",
        },
        "load_balancers": [
            {k: lb[k] for k in ("targetGroupArn", "containerName", "containerPort") if k in lb}
            for lb in s.get("loadBalancers", [])
        ],
        "health_check_grace_period_seconds": s.get("healthCheckGracePeriodSeconds"),
        "deployment_configuration": {
            "minimum_healthy_percent": dc.get("minimumHealthyPercent"),
            "maximum_percent": dc.get("maximumPercent"),
            "deployment_circuit_breaker": {
                "enable": cb.get("enable"),
                "rollback": cb.get("rollback"),
            },
        },
        "propagate_tags": s.get("propagateTags"),
    }


def task_definition_shape(td: dict[str, Any]) -> dict[str, Any]:
    return {
        "family": td["family"],
        "network_mode": td.get("networkMode"),
        "launch_type": "FARGATE" if "FARGATE" in td.get("requiresCompatibilities", []) else "EC2",
        "cpu": td.get("cpu"),
        "memory": td.get("memory"),
        "execution_role_arn": td.get("executionRoleArn", ""),
        "task_role_arn": td.get("taskRoleArn", ""),
        "runtime_platform": td.get("runtimePlatform", {}),
        "containers": td.get("containerDefinitions", []),
    }


def scaling_shape(want: dict[str, Any], read: dict[str, Any]) -> dict[str, Any] | None:
    rid = want["resource_id"]
    policy = next(
        (p for p in read["policies"].get(rid, []) if p["PolicyName"] == want["policy_name"]), None
    )
    target = read["targets"].get(rid)
    if want["state"] == "absent":
        # In sync when the policy is gone (the module leaves the scalable target).
        return {**want, "state": "present" if policy else "absent"}
    if policy is None or target is None:
        return None
    return {
        "state": "present",
        "policy_name": policy["PolicyName"],
        "service_namespace": policy["ServiceNamespace"],
        "resource_id": policy["ResourceId"],
        "scalable_dimension": policy["ScalableDimension"],
        "minimum_tasks": target["MinCapacity"],
        "maximum_tasks": target["MaxCapacity"],
        "policy_type": policy["PolicyType"],
        "target_tracking_scaling_policy_configuration": policy.get(
            "TargetTrackingScalingPolicyConfiguration", {}
        ),
    }


# ------------------------------------------------------------------------------- the diff


def read_all(
    client: Callable[[str], Any], wanted: dict[str, Any], revisions: bool = False
) -> dict[str, Any]:
    """Every read the comparison needs, side by side. Read-only."""
    lookup = wanted["lookup"]
    services = wanted["services"]
    cluster_name = wanted["cluster"]["name"]
    tg_names = [s["target_group"]["name"] for s in services.values()]
    service_names = [s["service"]["name"] for s in services.values()]
    resource_ids = [s["scaling"]["resource_id"] for s in services.values()]
    ec2, sm, ecs, elbv2, logs, aas, ecr = (
        client(n)
        for n in ("ec2", "secretsmanager", "ecs", "elbv2", "logs", "application-autoscaling", "ecr")
    )
    jobs: dict[str, Callable[[], Any]] = {
        "network": lambda: read_network(ec2, lookup),
        "secrets": lambda: read_secrets(sm, lookup["secrets"]),
        "cluster": lambda: read_cluster(ecs, cluster_name),
        "services": lambda: read_services(ecs, cluster_name, service_names),
        "target_groups": lambda: read_target_groups(elbv2, tg_names, lookup["prefix"]),
        "alb": lambda: read_alb(elbv2, wanted["alb"]["name"]),
        "scaling": lambda: read_scaling(aas, resource_ids),
    }
    for name, svc in services.items():
        jobs["log:" + name] = lambda g=svc["log_group"]["log_group_name"]: read_log_group(logs, g)
        # The family's latest revision stands in for a service that does not exist yet.
        jobs["family:" + name] = lambda f=svc["task_definition"]["family"]: read_task_definition(
            ecs, f
        )
        if revisions:
            jobs["revisions:" + name] = lambda f=svc["task_definition"]["family"]: (
                task_definition_arns(ecs, f)
            )
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = {k: pool.submit(fn) for k, fn in jobs.items()}
        read = {k: f.result() for k, f in futures.items()}

    running = read["services"]["services"]
    # Second round: the task definitions the services run (their ARNs came with the services).
    with ThreadPoolExecutor(max_workers=8) as pool:
        tds = {
            name: pool.submit(
                read_task_definition, ecs, running[svc["service"]["name"]]["taskDefinition"]
            )
            for name, svc in services.items()
            if svc["service"]["name"] in running
        }
        read["current_td"] = {name: f.result() for name, f in tds.items()}
    # Third: is the image there, for a service without tasks yet (first deploy)?
    read["image_exists"] = {}
    for name, svc in services.items():
        live = running.get(svc["service"]["name"])
        if svc["plan"]["deploying"] or (live is not None and live.get("desiredCount", 0) > 0):
            continue
        container = svc["task_definition"]["containers"][0]["name"]
        images = {
            c["name"]: c["image"]
            for c in (read["current_td"].get(name) or {}).get("containerDefinitions", [])
        }
        read["image_exists"][name] = image_exists(
            ecr, images.get(container, svc["plan"]["image_default"])
        )
    return read


def compare_all(
    wanted: dict[str, Any], read: dict[str, Any], revisions: bool = False
) -> dict[str, Any]:
    """Resolve the references with what was read and compare resource by resource."""
    lookup = wanted["lookup"]
    services = wanted["services"]
    tg_names = [s["target_group"]["name"] for s in services.values()]
    service_names = [s["service"]["name"] for s in services.values()]
    running = read["services"]["services"]
    current_td = read["current_td"]

    ids: dict[str, Any] = {**read["network"], **read["secrets"]}
    ids.update({"@tg:" + n: arn for n, arn in read["target_groups"]["arns"].items()})
    alb = read["alb"]
    if alb:
        ids.update({"@alb": alb["arn"], "@alb_dns": alb["dns_name"], "@alb_zone": alb["zone_id"]})
    missing = [f"VPC {lookup['vpc']}"] if "@vpc" not in ids else []
    missing += [f"subnet {s}" for s in lookup["subnets"] if "@subnet:" + s not in ids]
    missing += [f"security group {g}" for g in lookup["security_groups"] if "@sg:" + g not in ids]
    missing += [f"secret {s}" for s in lookup["secrets"] if "@secret:" + s not in ids]

    result: dict[str, Any] = {"services": {}}
    for name, svc in services.items():
        live = running.get(svc["service"]["name"])
        td = current_td.get(name) or (None if live else read["family:" + name])
        container = svc["task_definition"]["containers"][0]["name"]
        images = {
            c["name"]: c["image"]
            for c in (current_td.get(name) or {}).get("containerDefinitions", [])
        }
        plan = svc["plan"]
        ids["@image:" + name] = images.get(container, plan["image_default"])
        if alb and "@tg:" + svc["target_group"]["name"] in ids:
            tg_arn = ids["@tg:" + svc["target_group"]["name"]]
            ids["@label:" + name] = (
                alb["arn"].split(":loadbalancer/", 1)[1] + "/" + tg_arn.rsplit(":", 1)[1]
            )
        want_td = _resolve(svc["task_definition"], ids)
        td_state = differs(want_td, task_definition_shape(td) if td else None)
        if td_state["in_sync"] and td:
            ids["@taskdef:" + name] = f"{td['family']}:{td['revision']}"
        now = live.get("desiredCount", 0) if live else None
        image_missing = not read["image_exists"].get(name, True)
        if image_missing:
            ids["@desired:" + name] = 0
        elif plan["scaled"] and live is not None and now:
            ids["@desired:" + name] = now  # auto-scaling owns the count once the service runs
        else:
            ids["@desired:" + name] = plan["desired"]
        want_svc = _resolve(svc["service"], ids)
        svc_state = differs(want_svc, service_shape(live) if live else None)
        want_scaling = _resolve(svc["scaling"], ids)
        want_cpu = _resolve(svc["scaling_cpu"], ids) if "scaling_cpu" in svc else None
        entry = {
            "log_group": differs(svc["log_group"], read["log:" + name]),
            "task_definition": td_state,
            "target_group": differs(
                _resolve(svc["target_group"], ids),
                read["target_groups"]["groups"].get(svc["target_group"]["name"]),
            ),
            "service": svc_state,
            "service_capacity": differs(
                svc["service_capacity"],
                {
                    "cluster": live["clusterArn"].rsplit("/", 1)[-1],
                    "service": live["serviceName"],
                    "capacity_provider_strategy": [
                        {
                            "capacity_provider": c["capacityProvider"],
                            "base": c.get("base", 0),
                            "weight": c.get("weight", 0),
                        }
                        for c in live.get("capacityProviderStrategy", [])
                    ],
                }
                if live
                else None,
            ),
            "service_tags": differs(
                svc["service_tags"],
                {
                    "cluster_name": live["clusterArn"].rsplit("/", 1)[-1],
                    "resource": live["serviceName"],
                    "resource_type": "service",
                    "tags": tags_dict(live.get("tags"), "key", "value"),
                }
                if live
                else None,
            ),
            "scaling": differs(want_scaling, scaling_shape(want_scaling, read["scaling"])),
            # scaling.cpu_target: the CPU policy beside request scaling (absent: in sync
            # while there is none).
            "scaling_cpu": differs(want_cpu, scaling_shape(want_cpu, read["scaling"]))
            if want_cpu
            else {"in_sync": True, "exists": False, "differs": []},
            "image_missing": image_missing,
            "desired_count": now,
        }
        if revisions:
            entry["revisions"] = read["revisions:" + name]
        result["services"][name] = entry

    # Listener rules: ours forward to a target group named <prefix>-...; a rule of ours whose
    # target group no declared service has is stale (removed by the ALB write, reported);
    # anyone else's rules are kept (handed back as @foreign_rules:<PROTO>:<PORT>).
    ours = set(read["target_groups"]["arns"].values())
    declared = {ids.get("@tg:" + n) for n in tg_names}
    stale_rules = []
    current_alb = None
    if alb:
        current_alb = copy.deepcopy(alb["current"])
        for li in current_alb["listeners"]:
            kept = []
            for r in li["Rules"]:
                targets = {a.get("TargetGroupArn") for a in r["Actions"]} - {None}
                if targets and targets <= ours:
                    kept.append(r)
                    if not targets <= declared:
                        stale_rules.append(
                            {
                                "listener": f"{li['Protocol']}:{li['Port']}",
                                "priority": r["Priority"],
                                "target_groups": sorted(t.rsplit(":", 1)[1] for t in targets),
                            }
                        )
                else:
                    ids.setdefault(f"@foreign_rules:{li['Protocol']}:{li['Port']}", []).append(r)
            li["Rules"] = kept
    want_alb = _resolve(wanted["alb"], ids)
    for li in want_alb["listeners"]:  # compare our rules only
        foreign = ids.get(f"@foreign_rules:{li['Protocol']}:{li['Port']}", [])
        li["Rules"] = [r for r in li["Rules"] if r not in foreign]

    cluster = read["cluster"]
    result.update(
        {
            "ids": ids,
            "missing": missing,
            "cluster": differs(wanted["cluster"], cluster),
            "cluster_settings": differs(
                wanted["cluster_settings"],
                {"cluster": cluster["name"], "container_insights": cluster["container_insights"]}
                if cluster
                else None,
            ),
            "alb": {
                **differs(want_alb, current_alb),
                "new_listeners": current_alb is None
                or {(li["Protocol"], li["Port"]) for li in want_alb["listeners"]}
                - {(li["Protocol"], li["Port"]) for li in current_alb["listeners"]}
                != set(),
            },
            "alb_attributes": differs(
                wanted["alb_attributes"],
                {"name": wanted["alb"]["name"], "attributes": alb["access_logs"]} if alb else None,
            ),
            "stale_services": sorted(
                s
                for s in read["services"]["others"]
                if s.startswith(lookup["prefix"] + "-") and s not in service_names
            ),
            "stale_rules": stale_rules,
            "existing_services": sorted(running),
        }
    )
    return result


def diff(
    client: Callable[[str], Any], wanted: dict[str, Any], revisions: bool = False
) -> dict[str, Any]:
    """Read everything in parallel, resolve the references, compare. Read-only."""
    return compare_all(wanted, read_all(client, wanted, revisions), revisions)


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "wanted": {"type": "dict", "required": True},
            "revisions": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    try:
        result = diff(Clients(module), module.params["wanted"], module.params["revisions"])
    except AWS_ERRORS as e:
        module.fail_json_aws(e, msg="Could not read the ECS stack")
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
