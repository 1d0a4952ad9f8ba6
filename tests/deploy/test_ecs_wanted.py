"""The wanted state roles/aws_ecs derives from the stack model (filter_plugins/aws_ecs_wanted.py).

Pure functions: no AWS. What the role builds from these dicts is checked against moto in
tests/deploy/test_ecs_stack.py.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.support import ecs_stack as E

REPO = Path(__file__).resolve().parents[2]


def _filter() -> ModuleType:
    path = REPO / "roles" / "aws_ecs" / "filter_plugins" / "aws_ecs_wanted.py"
    spec = importlib.util.spec_from_file_location("aws_ecs_wanted", path)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


SETTINGS: dict[str, Any] = {
    "region": E.REGION,
    "certificate_arn": "",
    "ssl_policy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
    "private_subnets": False,
    "deregistration_delay": 10,
    "container_health": {"interval": 30, "timeout": 5, "retries": 3, "start_period": 30},
    "alb_idle_timeout": 60,
    "alb_drop_invalid_headers": True,
    "alb_access_logs": False,
    "alb_access_logs_bucket": "",
    "alb_access_logs_prefix": "alb",
    "deploy_image_tag": "",
    "deploy_services": [],
}


def _wanted(
    *services: dict[str, Any], ids: dict[str, Any] | None = None, **settings: Any
) -> dict[str, Any]:
    v = E.role_vars(*services)
    result: dict[str, Any] = _filter().aws_ecs_wanted(
        v["aws_ecs_services"], v["aws_ecs_names"], {**SETTINGS, **settings}, ids or {}
    )
    return result


def test_http_only_forwards_to_the_catch_all_service_with_one_rule_per_other() -> None:
    w = _wanted(E.dash_service(), E.app_service())
    (listener,) = w["alb"]["listeners"]
    assert (listener["Protocol"], listener["Port"]) == ("HTTP", 80)
    assert listener["DefaultActions"][0]["TargetGroupArn"] == "@tg:crayon-emulated-app"
    (rule,) = listener["Rules"]
    assert rule["Priority"] == 10
    assert rule["Conditions"] == [
        {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/dash/*"]}}
    ]
    assert rule["Actions"][0]["TargetGroupArn"] == "@tg:crayon-emulated-dash"


def test_a_certificate_moves_the_rules_to_https_and_redirects_http() -> None:
    arn = "arn:aws:acm:us-east-1:123456789012:certificate/abc"
    http, https = _wanted(E.app_service(), E.dash_service(), certificate_arn=arn)["alb"][
        "listeners"
    ]
    assert http["DefaultActions"][0]["Type"] == "redirect"
    assert http["DefaultActions"][0]["RedirectConfig"]["StatusCode"] == "HTTP_301"
    assert http["Rules"] == []
    assert https["Certificates"] == [{"CertificateArn": arn}]
    assert [r["Priority"] for r in https["Rules"]] == [10]


def test_host_routing_and_no_catch_all_use_the_first_service_as_default() -> None:
    dash = E.dash_service()
    dash["routing"] = {"paths": [], "hosts": ["dash.example.com"], "priority": 5}
    app = E.app_service()
    app["routing"] = {"paths": ["/api/*"], "hosts": [], "priority": 7}
    (listener,) = _wanted(dash, app)["alb"]["listeners"]
    assert listener["DefaultActions"][0]["TargetGroupArn"] == "@tg:crayon-emulated-dash"
    assert [(r["Priority"], r["Conditions"][0]["Field"]) for r in listener["Rules"]] == [
        (5, "host-header"),
        (7, "path-pattern"),
    ]


def test_a_stateful_service_is_one_task_never_two_and_never_scaled() -> None:
    app = E.app_service()
    app["deployment"] = {"min_healthy_percent": 100, "max_percent": 200}
    w = _wanted(app)["services"]["app"]
    dc = w["service"]["deployment_configuration"]
    assert (dc["minimum_healthy_percent"], dc["maximum_percent"]) == (0, 100)
    assert dc["deployment_circuit_breaker"] == {"enable": True, "rollback": True}
    assert w["plan"]["desired"] == 1 and w["plan"]["scaled"] is False
    assert w["scaling"]["state"] == "absent"


def test_a_stateless_service_scales_on_requests_with_the_alb_resource_label() -> None:
    dash = E.dash_service()
    dash["scaling"]["metric"] = "requests"
    alb = "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/crayon-emulated-alb/50dc6c"
    tg = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/crayon-emulated-dash/943f01"
    unresolved = _wanted(dash)["services"]["dash"]["scaling"]
    spec = unresolved["target_tracking_scaling_policy_configuration"]
    assert spec["PredefinedMetricSpecification"]["ResourceLabel"] == "@label:dash"
    resolved = _wanted(dash, ids={"@alb": alb, "@tg:crayon-emulated-dash": tg})
    spec = resolved["services"]["dash"]["scaling"]["target_tracking_scaling_policy_configuration"]
    assert spec["PredefinedMetricSpecification"] == {
        "PredefinedMetricType": "ALBRequestCountPerTarget",
        "ResourceLabel": "app/crayon-emulated-alb/50dc6c/targetgroup/crayon-emulated-dash/943f01",
    }
    assert (spec["ScaleOutCooldown"], spec["ScaleInCooldown"]) == (60, 300)
    assert resolved["services"]["dash"]["scaling"]["maximum_tasks"] == 10


def test_secrets_are_injected_by_value_from_with_their_json_key() -> None:
    admin = "arn:aws:secretsmanager:us-east-1:1:secret:crayon/emulated/admin-AbCdEf"
    origin = "arn:aws:secretsmanager:us-east-1:1:secret:crayon-emulated/origin-verify-XyZ123"
    ids = {
        "@secret:crayon/emulated/admin": admin,
        "@secret:crayon-emulated/origin-verify": origin,
    }
    (container,) = _wanted(E.app_service(), ids=ids)["services"]["app"]["task_definition"][
        "containers"
    ]
    assert container["secrets"] == [
        {"name": "CRAYON_ADMIN_PASSWORD_HASH", "valueFrom": f"{admin}:password_hash::"},
        {"name": "CRAYON_ORIGIN_SECRET", "valueFrom": origin},
    ]


@pytest.mark.parametrize(("deploying", "image"), [(False, "@image:dash"), (True, ":2.0")])
def test_a_deploy_pins_the_new_image_and_a_site_run_keeps_the_running_one(
    deploying: bool, image: str
) -> None:
    deploy = {"deploy_image_tag": "2.0", "deploy_services": ["dash"]} if deploying else {}
    (container,) = _wanted(E.app_service(), E.dash_service(), **deploy)["services"]["dash"][
        "task_definition"
    ]["containers"]
    assert container["image"].endswith(image)
    assert _wanted(E.app_service(), **deploy)["services"]["app"]["plan"]["deploying"] is False


def test_no_services_is_an_error_that_says_so() -> None:
    with pytest.raises(ValueError, match="declare at least one service"):
        _filter().aws_ecs_wanted([], E.names(), SETTINGS, {})
