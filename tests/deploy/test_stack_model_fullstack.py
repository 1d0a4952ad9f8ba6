"""Model fields and checks added for seed 004's example (issue 11): a database its backend
cannot reach, Service tags for cost by service, network ACLs, CPU scaling beside request
scaling. Pure Python; tests/deploy/test_preflight_fullstack.py runs the same checks in
preflight against the example's inventories."""

from __future__ import annotations

from typing import Any

import pytest

from tests.deploy.test_stack_model import API, STACK, WEB, model, refused

DB_STACK: dict[str, Any] = {**STACK, "kms": True, "database": {"backend": "api"}}


def test_database_on_a_host_target_is_without_the_backend_security_group() -> None:
    msg = refused(stack={**DB_STACK, "target": "ec2"}, services=[API])
    assert msg.startswith("stack: database.backend names service 'api'")
    assert "without the backend's security group" in msg and "set stack.target: ecs" in msg


@pytest.mark.parametrize("role", ["aws_network", "aws_ecs", "aws_kms"])
def test_database_with_its_path_switched_off_is_refused(role: str) -> None:
    msg = refused(stack={**DB_STACK, "roles": {role: False}})
    assert f"stack: roles.{role} is false, but database.backend 'api' needs" in msg
    assert f"remove roles.{role}: false, or remove stack.database" in msg


def test_database_reached_by_its_ecs_backend_passes() -> None:
    built = model(stack=DB_STACK)
    assert built["database"]["backend"] == "api" and built["roles"]["aws_database"]


def test_service_tags_and_budget_names_per_service() -> None:
    built = model()
    names = built["names"]
    assert names["shared_tags"] == {**names["tags"], "Service": "shared"}
    assert "Service" not in names["tags"]
    assert names["services"]["api"]["tags"] == {**names["tags"], "Service": "api"}
    assert names["services"]["web"]["budget"] == "shop-prod-web-monthly"
    assert names["shared_budget"] == "shop-prod-shared-monthly"


def test_network_acls_are_off_unless_asked() -> None:
    assert "nacls" not in model()["network"]  # off
    on = model(stack={**STACK, "network": {"nacls": True}})
    assert on["network"]["nacls"] is True
    assert "network.nacls is 'maybe'" in refused(stack={**STACK, "network": {"nacls": "maybe"}})


def test_cpu_target_beside_request_scaling() -> None:
    api = {**API, "count": {"min": 1, "max": 4}, "scaling": {"metric": "requests", "target": 300,
           "cpu_target": 60}}  # fmt: skip
    built = model(services=[WEB, api])
    assert built["services"][1]["scaling"]["cpu_target"] == 60
    assert "cpu_target" not in built["services"][0]["scaling"]  # none: no second policy
    cpu = {**api, "scaling": {"metric": "cpu", "cpu_target": 60}}
    msg = refused(services=[WEB, cpu])
    assert "service 'api': scaling.cpu_target is 60 but scaling.metric is 'cpu'" in msg
