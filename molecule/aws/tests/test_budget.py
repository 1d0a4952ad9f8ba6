"""The monthly cost budget and its notifications as AWS Budgets (moto) reports them.

moto implements budgets but not DescribeSubscribersForNotification, so the subscribers
(the alert topic and e-mail) cannot be read back here; the role's module warns about it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from conftest import ACCOUNT, NAME

Aws = Callable[[str], Any]


def test_monthly_cost_budget_of_50_usd(aws: Aws) -> None:
    budget = aws("budgets").describe_budget(AccountId=ACCOUNT, BudgetName=f"{NAME}-monthly")[
        "Budget"
    ]
    assert budget["BudgetType"] == "COST"
    assert budget["TimeUnit"] == "MONTHLY"
    # $50: not below the default stack's own estimate (about $44, playbooks/cost.yml).
    assert float(budget["BudgetLimit"]["Amount"]) == 50
    assert budget["BudgetLimit"]["Unit"] == "USD"


def test_notifications_at_90_and_100_percent(aws: Aws) -> None:
    notes = aws("budgets").describe_notifications_for_budget(
        AccountId=ACCOUNT, BudgetName=f"{NAME}-monthly"
    )["Notifications"]
    got = sorted(
        (n["NotificationType"], n["ComparisonOperator"], float(n["Threshold"]), n["ThresholdType"])
        for n in notes
    )
    assert got == [
        ("ACTUAL", "GREATER_THAN", 90.0, "PERCENTAGE"),
        ("ACTUAL", "GREATER_THAN", 100.0, "PERCENTAGE"),
        ("FORECASTED", "GREATER_THAN", 100.0, "PERCENTAGE"),
    ]
