"""Cost by service (seed 004 req. 7.6/10.4): cost.yml prices every service of a stack, the
managed database and the stack's key as their own lines, and sums the lines by the Service
tag the resources carry. No AWS call (the endpoints point at a closed loopback port)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from plugins.filter.crayon_cost import crayon_cost_by_service, crayon_cost_estimate
from tests.deploy.test_cost import HOURS, PRICES, run_cost

pytestmark = pytest.mark.slow  # real ansible-playbook runs


def _by_service(estimate: dict[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in estimate["items"]:
        out[item["service"]] = out.get(item["service"], 0.0) + item["usd"]
    return out


def _item(estimate: dict[str, Any], name: str) -> dict[str, Any]:
    found = [i for i in estimate["items"] if i["name"] == name]
    assert len(found) == 1, [i["name"] for i in estimate["items"]]
    return found[0]


@pytest.fixture(scope="module")
def fullstack(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[dict[str, Any], str]]:
    tmp = tmp_path_factory.mktemp("cost-fullstack")
    return {env: run_cost(tmp, f"examples/fullstack/{env}") for env in ("dev", "prod")}


def test_database_and_key_are_lines_of_their_own(fullstack: dict[str, Any]) -> None:
    prod, output = fullstack["prod"]
    rds = PRICES["rds"]
    instance = _item(prod, "RDS db.t4g.small Multi-AZ")
    assert instance["usd"] == pytest.approx(2 * rds["instance_hour"]["db.t4g.small"] * HOURS)
    assert instance["service"] == "backend"  # the database is tagged with its backend
    assert _item(prod, "RDS storage (gp3)")["usd"] == pytest.approx(2 * 50 * rds["gp3_gb_month"])
    replica = _item(prod, "RDS read replica db.t4g.small")
    assert replica["usd"] == pytest.approx(
        rds["instance_hour"]["db.t4g.small"] * HOURS + 50 * rds["gp3_gb_month"]
    )
    assert _item(prod, "Database backups")["service"] == "backend"
    key = _item(prod, "KMS key")
    assert (key["usd"], key["service"]) == (PRICES["kms"]["key_month"], "shared")
    assert _item(prod, "KMS requests")["service"] == "shared"
    for line in ("RDS db.t4g.small Multi-AZ", "KMS key", "Service=backend", "Service=shared"):
        assert line in output


def test_dev_and_prod_differ_where_the_inventories_do(fullstack: dict[str, Any]) -> None:
    dev, prod = fullstack["dev"][0], fullstack["prod"][0]
    names = {i["name"] for i in dev["items"]}
    assert "RDS db.t4g.micro" in names and "RDS read replica db.t4g.micro" not in names
    assert _item(dev, "RDS storage (gp3)")["usd"] == pytest.approx(
        20 * PRICES["rds"]["gp3_gb_month"]
    )
    assert dev["total"] < prod["total"]
    # Three budgets: the stack's, backend's and shared's (two are free).
    assert "3 budget" in _item(prod, "AWS Budgets")["detail"]


def test_service_lines_add_up_to_the_total(fullstack: dict[str, Any]) -> None:
    for estimate, _ in fullstack.values():
        sums = _by_service(estimate)
        assert set(sums) == {"backend", "shared"}
        assert sum(sums.values()) == pytest.approx(estimate["total"], abs=1e-4)
        printed = {line.split()[0]: float(line.split()[1]) for line in estimate["service_lines"]}
        assert printed == {f"Service={k}": pytest.approx(v, abs=0.01) for k, v in sums.items()}


@pytest.mark.parametrize(
    ("inventory", "service", "total"),
    [("production", "app", 44.30), ("examples/streamlit-dashboard", "dashboard", 71.91)],
)
def test_existing_stacks_keep_their_total(
    tmp_path: Path, inventory: str, service: str, total: float
) -> None:
    estimate, output = run_cost(tmp_path, inventory)
    # The totals docs/cost.md and docs/stack-model.md give, from before cost by service.
    assert round(estimate["total"], 2) == total
    assert set(_by_service(estimate)) == {service, "shared"}
    assert f"Service={service}" in output


def test_every_service_of_a_stack_is_priced() -> None:
    """A stack of two services: the second one's tasks are in the total (cost.yml priced only
    the first before), in each alternative mode too."""
    base = run_inputs()
    one = crayon_cost_estimate(base, PRICES)
    two_inputs = {
        **base,
        "ecs": {
            **base["ecs"],
            "others": [
                {"name": "worker", "cpu": 1024, "memory": 2048, "arch": "X86_64", "tasks": 3,
                 "spot_tasks": 1}
            ],
        },
    }  # fmt: skip
    two = crayon_cost_estimate(two_inputs, PRICES)
    od = PRICES["fargate"]["x86_64"]
    sp = PRICES["fargate"]["spot_x86_64"]
    worker_od = 2 * (1 * od["vcpu_hour"] + 2 * od["gb_hour"]) * HOURS
    worker_sp = 1 * (1 * sp["vcpu_hour"] + 2 * sp["gb_hour"]) * HOURS
    ipv4 = 3 * PRICES["public_ipv4"]["hour"] * HOURS  # one public address per task
    assert two["total"] == pytest.approx(one["total"] + worker_od + worker_sp + ipv4, abs=1e-4)
    lines = crayon_cost_by_service(two["items"])
    assert any(line.startswith("Service=worker") for line in lines)
    spot_alt = {a["name"]: a["usd"] for a in two["alternatives"]}["Fargate Spot"]
    worker_all_spot = 3 * (1 * sp["vcpu_hour"] + 2 * sp["gb_hour"]) * HOURS
    base_spot = {a["name"]: a["usd"] for a in one["alternatives"]}["Fargate Spot"]
    assert spot_alt == pytest.approx(base_spot + worker_all_spot + ipv4, abs=1e-4)


def test_an_unpriced_instance_class_is_refused_in_words() -> None:
    inputs = {**run_inputs(), "database": _db(instance_class="db.x9.huge")}
    with pytest.raises(ValueError, match=r"db\.x9\.huge.*has no price.*cost/prices\.yml"):
        crayon_cost_estimate(inputs, PRICES)


def _db(**over: Any) -> dict[str, Any]:
    return {
        "engine": "postgres", "instance_class": "db.t4g.micro", "storage_gb": 20,
        "multi_az": False, "read_replica": False, "backup_retention_days": 7,
        "service": "api", "changed_gb_day": 0.5, "average_acu": 0.5, "io_millions": 5, **over,
    }  # fmt: skip


def run_inputs() -> dict[str, Any]:
    """The inputs cost/inputs.yml builds, in their plain shape (one ECS service, no bucket)."""
    usage = {
        "requests_month": 100000, "gb_out_month": 5, "origin_request_fraction": 0.6,
        "alb_lcu_average": 0.05, "nat_gb_month": 5, "ecr_gb": 0.5, "s3_standard_gb": 0,
        "s3_ia_gb": 0, "s3_glacier_gb": 0, "app_puts_month": 0, "app_gets_month": 0,
        "litestream": {"sync_interval": "1s", "writes_active_fraction": 0,
                       "compaction_intervals": ["30s"], "snapshot_interval": "24h"},
        "secrets": 0, "secret_api_calls_month": 0, "logs_gb_month": 0.5,
        "log_retention_days": 30, "log_compression": 0.15, "app_custom_metrics": 0,
        "container_insights_metrics": 25, "container_insights_logs_gb": 0.35, "dashboards": 1,
        "alert_emails_month": 50, "budgets": 1, "route53_zone": False,
    }  # fmt: skip
    return {
        "target": "ecs", "apply_free_tier": True, "nat_gateway": False,
        "ecs": {"name": "api", "others": [], "cpu": 256, "memory": 512, "arch": "X86_64",
                "tasks": 1, "spot_tasks": 0},
        "ec2": {"instance_type": "t3.micro", "ebs_gb": 8},
        "lightsail": {"bundle": "micro_1gb"},
        "lambda": {"memory_mb": 1024, "avg_duration_ms": 300},
        "usage": usage,
    }  # fmt: skip
