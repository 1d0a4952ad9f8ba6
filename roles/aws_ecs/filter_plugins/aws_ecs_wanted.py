"""The wanted state of every resource roles/aws_ecs manages, in the write modules' option shape.

`{{ aws_ecs_services | aws_ecs_wanted(aws_ecs_names, settings, ids) }}` is the ONE place the
role describes what it wants. The same dict goes to the reader (crayon.aws.ecs_stack_diff),
which compares it with AWS, and to the write tasks' options. Values that only AWS knows
(subnet and security-group ids, ARNs, the image a service runs now, the desired count
auto-scaling chose) are tokens starting with "@" until the reader has resolved them: `ids` is
the reader's token -> value map (empty before the read), so after the read the same
expression gives the real values.
"""

from __future__ import annotations

from typing import Any

# An ALB listener rule's priority space is 1-50000; the model validates the numbers.
_REDIRECT = {
    "Type": "redirect",
    "RedirectConfig": {
        "Protocol": "HTTPS",
        "Port": "443",
        "Host": "#{host}",
        "Path": "/#{path}",
        "Query": "#{query}",
        "StatusCode": "HTTP_301",
    },
}


def _ref(ids: dict[str, Any], token: str) -> Any:
    return ids.get(token, token)


def _label(ids: dict[str, Any], name: str, target_group: str) -> Any:
    """app/<alb>/<id>/targetgroup/<tg>/<id>, from the ARNs once they are known."""
    alb, tg = ids.get("@alb", ""), ids.get("@tg:" + target_group, "")
    if alb.startswith("arn:") and tg.startswith("arn:"):
        return alb.split(":loadbalancer/", 1)[1] + "/" + tg.rsplit(":", 1)[1]
    return _ref(ids, "@label:" + name)


def _default_service(services: list[dict[str, Any]]) -> dict[str, Any]:
    """The service the listeners forward to when no rule matches: the one routed on /*."""
    for svc in services:
        if "/*" in svc["routing"]["paths"] and not svc["routing"]["hosts"]:
            return svc
    return services[0]


def _rule(svc: dict[str, Any], ids: dict[str, Any]) -> dict[str, Any]:
    # The *Config form: the plain Values form takes one value only.
    conditions: list[dict[str, Any]] = []
    if svc["routing"]["hosts"]:
        hosts = {"Values": list(svc["routing"]["hosts"])}
        conditions.append({"Field": "host-header", "HostHeaderConfig": hosts})
    if svc["routing"]["paths"]:
        paths = {"Values": list(svc["routing"]["paths"])}
        conditions.append({"Field": "path-pattern", "PathPatternConfig": paths})
    return {
        "Priority": int(svc["routing"]["priority"]),
        "Conditions": conditions,
        "Actions": [
            {"Type": "forward", "TargetGroupArn": _ref(ids, "@tg:" + svc["names"]["target_group"])}
        ],
    }


def _listeners(
    services: list[dict[str, Any]], settings: dict[str, Any], ids: dict[str, Any]
) -> list[dict[str, Any]]:
    default = _default_service(services)
    forward = [
        {"Type": "forward", "TargetGroupArn": _ref(ids, "@tg:" + default["names"]["target_group"])}
    ]
    # The default service needs no rule of its own when it takes everything (/* on any host).
    rules = [
        _rule(s, ids)
        for s in services
        if not (s is default and s["routing"]["paths"] == ["/*"] and not s["routing"]["hosts"])
    ]
    rules.sort(key=lambda r: r["Priority"])
    cert = settings.get("certificate_arn") or ""
    if not cert:
        foreign = list(ids.get("@foreign_rules:HTTP:80", []))
        return [
            {"Protocol": "HTTP", "Port": 80, "DefaultActions": forward, "Rules": rules + foreign}
        ]
    https = {
        "Protocol": "HTTPS",
        "Port": 443,
        "SslPolicy": settings["ssl_policy"],
        "Certificates": [{"CertificateArn": cert}],
        "DefaultActions": forward,
        "Rules": rules + list(ids.get("@foreign_rules:HTTPS:443", [])),
    }
    http = {
        "Protocol": "HTTP",
        "Port": 80,
        "DefaultActions": [_REDIRECT],
        "Rules": list(ids.get("@foreign_rules:HTTP:80", [])),
    }
    return [http, https]


def _container(
    svc: dict[str, Any], settings: dict[str, Any], ids: dict[str, Any], image: str
) -> dict[str, Any]:
    n = svc["names"]
    port = int(svc["port"])
    health = settings["container_health"]
    command = (
        'python3 -c "import urllib.request; urllib.request.urlopen('
        f"'http://127.0.0.1:{port}{svc['health']['path']}', timeout=3)\""
    )
    return {
        "name": n["container"],
        "image": image,
        "essential": True,
        "portMappings": [{"containerPort": port, "hostPort": port, "protocol": "tcp"}],
        "environment": [
            {"name": k, "value": str(v)} for k, v in sorted(svc["environment"].items())
        ],
        "secrets": [
            {
                "name": env,
                "valueFrom": _ref(ids, "@secret:" + ref["secret_name"])
                + (f":{ref['key']}::" if ref.get("key") else ""),
            }
            for env, ref in sorted(svc["secrets"].items())
        ],
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": n["log_group"],
                "awslogs-region": settings["region"],
                "awslogs-stream-prefix": n["container"],
            },
        },
        "healthCheck": {
            "command": ["CMD-SHELL", command],
            "interval": int(health["interval"]),
            "timeout": int(health["timeout"]),
            "retries": int(health["retries"]),
            "startPeriod": int(health["start_period"]),
        },
        "stopTimeout": 30,
    }


def _scaled(svc: dict[str, Any]) -> bool:
    return not svc["stateful"] and svc["scaling"]["metric"] != "none"


def _service_wanted(
    svc: dict[str, Any], names: dict[str, Any], settings: dict[str, Any], ids: dict[str, Any]
) -> dict[str, Any]:
    n = svc["names"]
    name = svc["name"]
    deploying = name in settings.get("deploy_services", [])
    tag = settings.get("deploy_image_tag") or ""
    image = f"{n['repository_uri']}:{tag}" if deploying and tag else _ref(ids, "@image:" + name)
    stateful = bool(svc["stateful"])
    subnets = names["subnets"]["private" if settings.get("private_subnets") else "public"]
    tg_arn = _ref(ids, "@tg:" + n["target_group"])
    resource_id = f"service/{names['cluster']}/{n['service']}"
    out: dict[str, Any] = {
        # Inputs of the reader's own decisions (not module options).
        "plan": {
            "image_default": svc["image_uri_default"],
            "desired": 1 if stateful else int(svc["count"]["desired"]),
            "scaled": _scaled(svc),
            "deploying": deploying,
            "repository": n["repository"],
        },
        "log_group": {
            "log_group_name": n["log_group"],
            "retention": int(svc["logs"]["retention_days"]),
            "tags": dict(n.get("tags") or names["tags"]),
            **({"kms_key_id": settings["kms_key_id"]} if settings.get("kms_key_id") else {}),
        },
        "task_definition": {
            "family": n["family"],
            "network_mode": "awsvpc",
            "launch_type": "FARGATE",
            "cpu": str(svc["cpu"]),
            "memory": str(svc["memory"]),
            "execution_role_arn": n["execution_role_arn"],
            "task_role_arn": n["task_role_arn"],
            "runtime_platform": {
                "operatingSystemFamily": "LINUX",
                "cpuArchitecture": svc["architecture"],
            },
            "containers": [_container(svc, settings, ids, image)],
        },
        "target_group": {
            "name": n["target_group"],
            "protocol": "HTTP",
            "port": int(svc["port"]),
            "target_type": "ip",
            "vpc_id": _ref(ids, "@vpc"),
            "health_check_protocol": "HTTP",
            "health_check_path": svc["health"]["path"],
            "health_check_port": "traffic-port",
            "health_check_interval": int(svc["health"]["interval"]),
            "health_check_timeout": int(svc["health"]["timeout"]),
            "healthy_threshold_count": int(svc["health"]["healthy"]),
            "unhealthy_threshold_count": int(svc["health"]["unhealthy"]),
            "successful_response_codes": "200",
            "deregistration_delay_timeout": int(settings["deregistration_delay"]),
            "tags": dict(n.get("tags") or names["tags"]),
        },
        "service": {
            "name": n["service"],
            "cluster": names["cluster"],
            "task_definition": _ref(ids, "@taskdef:" + name),
            "desired_count": _ref(ids, "@desired:" + name),
            "network_configuration": {
                "subnets": [_ref(ids, "@subnet:" + s) for s in subnets],
                "security_groups": [_ref(ids, "@sg:" + names["security_groups"]["app"])],
                "assign_public_ip": not settings.get("private_subnets"),
            },
            "load_balancers": [
                {
                    "targetGroupArn": tg_arn,
                    "containerName": n["container"],
                    "containerPort": int(svc["port"]),
                }
            ],
            "health_check_grace_period_seconds": int(svc["health"]["grace"]),
            # A single writer: never two tasks at once (stop the old one, then start the new).
            "deployment_configuration": {
                "minimum_healthy_percent": 0
                if stateful
                else int(svc["deployment"]["min_healthy_percent"]),
                "maximum_percent": 100 if stateful else int(svc["deployment"]["max_percent"]),
                "deployment_circuit_breaker": {"enable": True, "rollback": True},
            },
            "propagate_tags": "SERVICE",
        },
        # community.aws.ecs_service can not change an existing service's strategy nor its tags:
        # ecs_service_capacity and ecs_tag do (ecs_service sets both when it creates it).
        "service_capacity": {
            "cluster": names["cluster"],
            "service": n["service"],
            "capacity_provider_strategy": [
                {
                    "capacity_provider": c["provider"],
                    "base": int(c["base"]),
                    "weight": int(c["weight"]),
                }
                for c in svc["capacity"]
            ],
        },
        "service_tags": {
            "cluster_name": names["cluster"],
            "resource": n["service"],
            "resource_type": "service",
            "tags": dict(n.get("tags") or names["tags"]),
        },
    }
    scaling = svc["scaling"]
    if _scaled(svc):
        metric: dict[str, Any] = {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"}
        if scaling["metric"] == "requests":
            metric = {
                "PredefinedMetricType": "ALBRequestCountPerTarget",
                "ResourceLabel": _label(ids, name, n["target_group"]),
            }
        out["scaling"] = {
            "state": "present",
            "policy_name": n["scaling_policy"],
            "service_namespace": "ecs",
            "resource_id": resource_id,
            "scalable_dimension": "ecs:service:DesiredCount",
            "minimum_tasks": int(svc["count"]["min"]),
            "maximum_tasks": int(svc["count"]["max"]),
            "policy_type": "TargetTrackingScaling",
            "target_tracking_scaling_policy_configuration": {
                "TargetValue": float(scaling["target"]),
                "PredefinedMetricSpecification": metric,
                "ScaleOutCooldown": int(scaling["scale_out_cooldown"]),
                "ScaleInCooldown": int(scaling["scale_in_cooldown"]),
            },
        }
    else:
        out["scaling"] = {
            "state": "absent",
            "policy_name": n["scaling_policy"],
            "service_namespace": "ecs",
            "resource_id": resource_id,
            "scalable_dimension": "ecs:service:DesiredCount",
            "policy_type": "TargetTrackingScaling",  # the module wants it even to delete
        }
    out["scaling_cpu"] = _cpu_scaling(svc, n, resource_id)
    return out


def _cpu_scaling(svc: dict[str, Any], n: dict[str, Any], resource_id: str) -> dict[str, Any]:
    """scaling.cpu_target: a CPU policy beside request scaling (the scale-out that wins is the
    larger; scale-in only when both allow it)."""
    scaling = svc["scaling"]
    want = {
        "state": "absent",
        "policy_name": n["scaling_policy"] + "-cpu",
        "service_namespace": "ecs",
        "resource_id": resource_id,
        "scalable_dimension": "ecs:service:DesiredCount",
        "policy_type": "TargetTrackingScaling",
    }
    if not (_scaled(svc) and scaling.get("cpu_target")):
        return want
    return {
        **want,
        "state": "present",
        "minimum_tasks": int(svc["count"]["min"]),
        "maximum_tasks": int(svc["count"]["max"]),
        "target_tracking_scaling_policy_configuration": {
            "TargetValue": float(scaling["cpu_target"]),
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "ECSServiceAverageCPUUtilization"
            },
            "ScaleOutCooldown": int(scaling["scale_out_cooldown"]),
            "ScaleInCooldown": int(scaling["scale_in_cooldown"]),
        },
    }


def aws_ecs_wanted(
    services: list[dict[str, Any]],
    names: dict[str, Any],
    settings: dict[str, Any],
    ids: dict[str, Any] | None = None,
) -> dict[str, Any]:
    ids = dict(ids or {})
    if not services:
        raise ValueError("aws_ecs_services is empty: declare at least one service")
    public = [_ref(ids, "@subnet:" + s) for s in names["subnets"]["public"]]
    alb: dict[str, Any] = {
        "name": names["alb"],
        "scheme": "internet-facing",
        "subnets": public,
        "security_groups": [_ref(ids, "@sg:" + names["security_groups"]["alb"])],
        "listeners": _listeners(services, settings, ids),
        "tags": dict(names.get("shared_tags") or names["tags"]),
    }
    # Sent only when it differs from AWS's default: moto lacks the attribute.
    if settings.get("alb_drop_invalid_headers"):
        alb["http_drop_invalid_header_fields"] = True
    logs = (
        {
            "access_logs.s3.enabled": "true",
            "access_logs.s3.bucket": settings["alb_access_logs_bucket"],
            "access_logs.s3.prefix": settings["alb_access_logs_prefix"],
        }
        if settings.get("alb_access_logs")
        else {"access_logs.s3.enabled": "false"}
    )
    # With the access logs (elb_lb_attributes), not through elb_application_lb: that module
    # fails on an existing ALB whose attributes leave the idle timeout out (moto's do).
    logs["idle_timeout.timeout_seconds"] = str(int(settings["alb_idle_timeout"]))
    return {
        "lookup": {
            "prefix": names["prefix"],
            "vpc": names["vpc"],
            "subnets": list(names["subnets"]["public"]) + list(names["subnets"]["private"]),
            "security_groups": [names["security_groups"]["alb"], names["security_groups"]["app"]],
            "secrets": sorted(
                {ref["secret_name"] for s in services for ref in s["secrets"].values()}
            ),
        },
        "cluster": {
            "name": names["cluster"],
            "capacity_providers": ["FARGATE", "FARGATE_SPOT"],
            "capacity_provider_strategy": [
                {"capacity_provider": "FARGATE", "weight": 1, "base": 0}
            ],
        },
        "cluster_settings": {"cluster": names["cluster"], "container_insights": "enabled"},
        "alb": alb,
        "alb_attributes": {"name": names["alb"], "attributes": logs},
        "services": {s["name"]: _service_wanted(s, names, settings, ids) for s in services},
    }


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"aws_ecs_wanted": aws_ecs_wanted}
