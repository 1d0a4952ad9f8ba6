"""preflight's budget check (roles/preflight/tasks/budget.yml): the budget is never below the
stack's own estimate (playbooks/cost.yml's model) unless the inventory says why, and preflight
says so when it is. Also the arithmetic of the crayon_budget_check filter."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from yaml import safe_load  # type: ignore[import-untyped,unused-ignore]

from plugins.filter.crayon_cost import crayon_budget_check
from tests.support.playbook import ROOT
from tests.support.preflight import BASE, ENV, HTTPS_ORIGIN, PLAY
from tests.support.preflight import run_on_production as run_playbook

COST = ROOT / "playbooks/cost.yml"
GOOD = {**BASE, **HTTPS_ORIGIN}


def _estimate(tmp_path: Path, **extra: Any) -> float:
    """The total playbooks/cost.yml prints for the same inventory values."""
    report = tmp_path / "cost.json"
    run = run_playbook(
        COST,
        ENV,
        {**GOOD, **extra, "cost_hosts": "localhost", "cost_report_file": str(report)},
    )
    assert run.returncode == 0, run.output[-3000:]
    return float(json.loads(report.read_text())["total"])


def _flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.slow
def test_default_budget_is_not_below_the_default_estimate(tmp_path: Path) -> None:
    # The finding: $44 estimate against a $40 budget. The defaults must agree.
    run = run_playbook(PLAY, ENV, GOOD)
    assert run.returncode == 0, run.output[-3000:]
    assert "below the estimate for this stack" not in run.output
    limit = safe_load((ROOT / "roles/aws_budget/defaults/main.yml").read_text())[
        "aws_budget_limit_usd"
    ]
    assert float(limit) >= _estimate(tmp_path)


@pytest.mark.slow
def test_a_budget_below_the_estimate_stops_naming_both_figures(tmp_path: Path) -> None:
    estimate = _estimate(tmp_path)
    run = run_playbook(PLAY, ENV, {**GOOD, "aws_budget_limit_usd": 40})
    assert run.returncode != 0
    out = _flat(run.output)
    assert "aws_budget_limit_usd=40.00 USD MONTHLY" in out, out[-3000:]
    assert f"estimate for this stack of {estimate:.2f} USD" in out, out[-3000:]
    m = re.search(r"Set aws_budget_limit_usd to at least (\d+)", out)
    assert m and estimate <= float(m.group(1)) < estimate + 5, out[-3000:]
    assert "budget_below_estimate" in out


# Crayon's service at 1 vCPU / 2 GB instead of 0.25 / 0.5.
BIGGER = {"name": "app", "port": 8000, "health": {"path": "/healthz"}, "cpu": 1024, "memory": 2048}


@pytest.mark.slow
def test_the_estimate_follows_the_stack_shape() -> None:
    # A bigger task costs more: a budget that covers the default stack no longer covers it.
    run = run_playbook(PLAY, ENV, {**GOOD, "services": [BIGGER], "aws_budget_limit_usd": 50})
    assert run.returncode != 0
    assert "is below the estimate for this stack" in _flat(run.output)
    # The same budget on the host target, which costs far less, passes.
    host = run_playbook(
        PLAY,
        ENV,
        {
            **GOOD,
            "deploy_target": "ec2",
            "aws_budget_limit_usd": 40,
            "origin_http_opt_in": "The EC2 host has no load balancer to hold a certificate.",
        },
    )
    assert host.returncode == 0, host.output[-3000:]


@pytest.mark.slow
def test_opting_in_in_words_passes_and_says_so() -> None:
    reason = "Seed 000 asks for a $40 alert; we accept it firing monthly."
    run = run_playbook(
        PLAY, ENV, {**GOOD, "aws_budget_limit_usd": 40, "budget_below_estimate": reason}
    )
    assert run.returncode == 0, run.output[-3000:]
    out = _flat(run.output)
    assert "is below the estimate for this stack" in out
    assert reason in out
    short = run_playbook(
        PLAY, ENV, {**GOOD, "aws_budget_limit_usd": 40, "budget_below_estimate": "ok"}
    )
    assert short.returncode != 0


@pytest.mark.slow
def test_destroy_is_never_blocked_by_the_budget() -> None:
    run = run_playbook(
        PLAY, ENV, {**GOOD, "aws_budget_limit_usd": 1, "preflight_budget_check": False}
    )
    assert run.returncode == 0, run.output[-3000:]
    destroy = (ROOT / "playbooks/destroy.yml").read_text()
    assert "preflight_budget_check: false" in destroy


@pytest.mark.parametrize(
    ("estimate", "limit", "unit", "below", "suggested"),
    [
        (44.30, 40, "MONTHLY", True, 45.0),
        (44.30, 50, "MONTHLY", False, 45.0),
        (45.0, 45, "MONTHLY", False, 45.0),
        (44.30, 130, "QUARTERLY", True, 135.0),
        (44.30, 1.50, "DAILY", False, 2.0),
        (8.87, 5, "monthly", True, 9.0),
        (44.30, 540, "ANNUALLY", False, 535.0),
    ],
)
def test_budget_check_arithmetic(
    estimate: float, limit: float, unit: str, below: bool, suggested: float
) -> None:
    got = crayon_budget_check(estimate, limit, unit)
    assert got["below"] is below
    assert got["suggested"] == suggested
    assert got["limit"] == float(limit)


@pytest.mark.parametrize(
    ("limit", "unit", "words"),
    [(0, "MONTHLY", "positive amount"), (40, "WEEKLY", "time unit must be one of")],
)
def test_budget_check_refuses_bad_values(limit: float, unit: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        crayon_budget_check(44.3, limit, unit)
