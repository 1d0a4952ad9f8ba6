"""playbooks/cost.yml: the monthly estimate adds up, follows the inventory, and calls no AWS API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped,unused-ignore]

from tests.support.moto_server import free_port

pytestmark = pytest.mark.slow  # real ansible-playbook runs

ROOT = Path(__file__).resolve().parents[2]
PRICES = yaml.safe_load((ROOT / "cost" / "prices.yml").read_text())
HOURS = PRICES["hours_per_month"]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    # A closed loopback port and fake keys: any AWS call would fail the run.
    dead = f"http://127.0.0.1:{free_port()}"
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_URL=dead,
        AWS_ENDPOINT_URL=dead,
        AWS_EC2_METADATA_DISABLED="true",
        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
    )
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def run_cost(
    tmp_path: Path, inventory: str = "production", **extra: Any
) -> tuple[dict[str, Any], str]:
    report = tmp_path / f"cost-{len(list(tmp_path.iterdir()))}.json"
    extra_vars = {"cost_report_file": str(report), **extra}
    proc = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "playbooks/cost.yml",
            "-i",
            f"inventories/{inventory}",
            "-e",
            json.dumps(extra_vars),
        ],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    return json.loads(report.read_text()), output


def _declared(inventory: str = "production") -> dict[str, Any]:
    """The inventory's stack and services, to change one field and pass back with -e."""
    data = yaml.safe_load((ROOT / f"inventories/{inventory}/group_vars/all/main.yml").read_text())
    return {"stack": data["stack"], "services": data["services"]}


def _item(estimate: dict[str, Any], name: str) -> float:
    matches = [i["usd"] for i in estimate["items"] if i["name"] == name]
    assert len(matches) == 1, [i["name"] for i in estimate["items"]]
    return float(matches[0])


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    return run_cost(tmp_path_factory.mktemp("cost"))


def test_total_is_the_sum_of_the_items(baseline: tuple[dict[str, Any], str]) -> None:
    estimate, output = baseline
    assert estimate["total"] == pytest.approx(sum(i["usd"] for i in estimate["items"]), abs=1e-6)
    assert f"{estimate['total']:.2f}" in output
    assert estimate["as_of"] == PRICES["as_of"]
    assert {a["name"] for a in estimate["alternatives"]} >= {
        "Fargate",
        "Fargate Spot",
        "EC2 t3.micro",
        "Lambda",
    }
    assert any(a["name"].startswith("Lightsail") for a in estimate["alternatives"])
    assert "Assumptions:" in output
    # The production inventory is ECS on-demand: the Fargate alternative is the stack itself.
    fargate = next(a for a in estimate["alternatives"] if a["name"] == "Fargate")
    assert fargate["usd"] == pytest.approx(estimate["total"])
    lam = next(a for a in estimate["alternatives"] if a["name"] == "Lambda")
    assert lam["viable"] is False
    assert estimate["cheapest_viable"] != "Lambda"


def test_fargate_item_follows_the_task_size(baseline: tuple[dict[str, Any], str]) -> None:
    estimate, _ = baseline
    od = PRICES["fargate"]["x86_64"]
    want = (0.25 * od["vcpu_hour"] + 0.5 * od["gb_hour"]) * HOURS
    assert _item(estimate, "Fargate (on-demand)") == pytest.approx(want, abs=1e-5)
    assert _item(estimate, "Application Load Balancer") == pytest.approx(
        PRICES["alb"]["hour"] * HOURS
    )
    assert not any(i["name"] == "NAT gateway" for i in estimate["items"])


def test_nat_gateway_raises_the_total_by_its_price(
    tmp_path: Path, baseline: tuple[dict[str, Any], str]
) -> None:
    base, _ = baseline
    declared = _declared()
    declared["stack"]["network"] = {"nat_gateway": True, "private_tasks": False}
    with_nat, _ = run_cost(tmp_path, cost_nat_gb_month=5, **declared)
    nat = PRICES["nat_gateway"]
    ip_hour = PRICES["public_ipv4"]["hour"]
    # NAT hours + GB processed + its Elastic IP; the task no longer needs its own public IP.
    nat_item = nat["hour"] * HOURS + 5 * nat["gb_processed"] + ip_hour * HOURS
    assert _item(with_nat, "NAT gateway") == pytest.approx(nat_item, abs=1e-5)
    assert with_nat["total"] - base["total"] == pytest.approx(nat_item - ip_hour * HOURS, abs=1e-5)
    assert with_nat["total"] == pytest.approx(sum(i["usd"] for i in with_nat["items"]), abs=1e-6)


def test_stateless_service_uses_spot_and_more_tasks(tmp_path: Path) -> None:
    declared = _declared()
    declared["services"][0].update(
        stateful=False,
        count={"desired": 3, "min": 3, "max": 3},
        capacity=[
            {"provider": "FARGATE", "base": 1, "weight": 1},
            {"provider": "FARGATE_SPOT", "base": 0, "weight": 4},
        ],
    )
    estimate, _ = run_cost(tmp_path, **declared)
    od, sp = PRICES["fargate"]["x86_64"], PRICES["fargate"]["spot_x86_64"]
    per_od = (0.25 * od["vcpu_hour"] + 0.5 * od["gb_hour"]) * HOURS
    per_sp = (0.25 * sp["vcpu_hour"] + 0.5 * sp["gb_hour"]) * HOURS
    # Strategy FARGATE base 1 weight 1, FARGATE_SPOT weight 4: 1 + (2 split 1:4).
    assert _item(estimate, "Fargate (on-demand)") == pytest.approx((1 + 2 / 5) * per_od, abs=1e-5)
    assert _item(estimate, "Fargate Spot") == pytest.approx(2 * 4 / 5 * per_sp, abs=1e-5)


def test_litestream_put_cost_follows_the_sync_interval(tmp_path: Path) -> None:
    worst, _ = run_cost(
        tmp_path,
        cost_litestream_writes_active_fraction=1.0,
        cost_litestream_sync_interval="1s",
    )
    calm, _ = run_cost(
        tmp_path,
        cost_litestream_writes_active_fraction=1.0,
        cost_litestream_sync_interval="10s",
    )
    put = PRICES["s3"]["put_per_1k"] / 1000
    seconds = HOURS * 3600
    # Constant writes: one PUT per sync interval, plus one per compaction window, plus snapshots.
    fixed = seconds / 30 + seconds / 300 + seconds / 3600 + seconds / 86400
    assert _item(worst, "Litestream S3 PUTs") == pytest.approx((seconds + fixed) * put, rel=1e-6)
    assert _item(calm, "Litestream S3 PUTs") == pytest.approx(
        (seconds / 10 + fixed) * put, rel=1e-6
    )
    assert worst["total"] > calm["total"]


def test_host_target_drops_the_load_balancer(tmp_path: Path) -> None:
    estimate, output = run_cost(tmp_path, inventory="dev", deploy_target="ec2")
    names = {i["name"] for i in estimate["items"]}
    assert "EC2 t3.micro" in names
    assert "Application Load Balancer" not in names
    assert "stack.target=ec2" in output
    ec2 = next(a for a in estimate["alternatives"] if a["name"] == "EC2 t3.micro")
    assert ec2["usd"] == pytest.approx(estimate["total"])


def test_bad_input_is_refused_in_words(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "playbooks/cost.yml",
            "-i",
            "inventories/production",
            "-e",
            json.dumps({"cost_litestream_writes_active_fraction": 2}),
        ],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode != 0
    assert "writes-active" in proc.stdout + proc.stderr


def test_audit_items_follow_the_switches(
    tmp_path: Path, baseline: tuple[dict[str, Any], str]
) -> None:
    base, _ = baseline
    s3_gb = PRICES["s3"]["standard_gb_month"]
    # Default: the trail only; its first copy of management events is free, S3 storage is not.
    assert _item(base, "CloudTrail (trail + S3)") == pytest.approx(0.1 * 365 / 30 * s3_gb, abs=1e-5)
    assert "VPC Flow Logs" not in {i["name"] for i in base["items"]}
    on, _ = run_cost(
        tmp_path,
        aws_audit_flow_logs=True,
        cost_audit_flow_logs_gb_month=2,
        aws_ecs_alb_access_logs=True,
        cost_audit_alb_logs_gb_month=0.5,
        aws_audit_retention_days=90,
    )
    audit = PRICES["audit"]
    flow = (
        2 * audit["flow_logs_cwl_ingest_gb"]
        + 2 * 30 / 30 * PRICES["cloudwatch"]["logs_storage_gb_month"]
    )
    assert _item(on, "VPC Flow Logs") == pytest.approx(flow, abs=1e-5)
    assert _item(on, "ALB access logs (S3)") == pytest.approx(0.5 * 3 * s3_gb, abs=1e-5)
    to_s3, _ = run_cost(
        tmp_path,
        aws_audit_flow_logs=True,
        aws_audit_flow_logs_destination="s3",
        cost_audit_flow_logs_gb_month=2,
    )
    assert _item(to_s3, "VPC Flow Logs") == pytest.approx(
        2 * audit["flow_logs_s3_delivery_gb"] + 2 * 365 / 30 * s3_gb, abs=1e-5
    )
    off, _ = run_cost(tmp_path, aws_audit_cloudtrail=False)
    assert "CloudTrail (trail + S3)" not in {i["name"] for i in off["items"]}
    assert on["total"] == pytest.approx(sum(i["usd"] for i in on["items"]), abs=1e-6)


def test_seed_002_ceiling_says_what_it_would_take(tmp_path: Path) -> None:
    """The dashboard example: 2 tasks on the FARGATE base are over $60; cost.yml prices the
    count range (2 and 10 tasks with the Spot mix) and names the changes that would meet it."""
    estimate, output = run_cost(tmp_path, inventory="examples/streamlit-dashboard")
    low, high = estimate["scenarios"]
    assert (low["tasks"], high["tasks"]) == (2, 10)
    assert low["spot_tasks"] == 0  # the FARGATE base of 2 takes both
    assert high["spot_tasks"] == pytest.approx(8 * 3 / 4)  # the other 8 split 1:3
    ceiling = estimate["ceiling"]
    assert (ceiling["usd"], ceiling["tasks"]) == (60, 2)
    configured = ceiling["variants"][0]
    assert configured["usd"] == pytest.approx(low["usd"])
    under = [v["label"] for v in ceiling["variants"] if v["usd"] < 60]
    if configured["usd"] >= 60:
        assert "NOT MET as configured" in " ".join(output.split())
        assert under and all(label in " ".join(output.split()) for label in under)
    else:
        assert "MET as configured" in output
