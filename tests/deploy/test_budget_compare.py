"""aws_budget_differs decides whether the aws_budget module runs at all when preflight has
read the budget (roles/aws_budget/filter_plugins/budget_compare.py): it must see every
difference the module would act on, and none it would not."""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest

from tests.support.playbook import ROOT

_spec = importlib.util.spec_from_file_location(
    "budget_compare", ROOT / "roles" / "aws_budget" / "filter_plugins" / "budget_compare.py"
)
assert _spec and _spec.loader
budget_compare = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(budget_compare)
differs = budget_compare.aws_budget_differs

SUBS = [{"type": "EMAIL", "address": "ops@example.org"}]
WANTED = [
    {"threshold": 80.0, "notification_type": "ACTUAL", "subscribers": SUBS},
    {"threshold": 100.0, "notification_type": "ACTUAL", "subscribers": SUBS},
]


def _current(**change: Any) -> dict[str, Any]:
    note = {
        "type": "ACTUAL",
        "comparison": "GREATER_THAN",
        "threshold_type": "PERCENTAGE",
        "subscribers": [["EMAIL", "ops@example.org"]],
    }
    current = {
        "limit": 40.0,
        "unit": "USD",
        "time_unit": "MONTHLY",
        "type": "COST",
        "notifications": [{**note, "threshold": 100.0}, {**note, "threshold": 80.0}],
    }
    current.update(change)
    return current


def test_same_budget_needs_no_call() -> None:
    assert not differs(_current(), 40, "MONTHLY", "COST", WANTED)


def test_unlisted_subscribers_are_not_compared() -> None:
    # moto (and any endpoint without DescribeSubscribersForNotification): the module warns
    # and leaves them alone, so must the comparison.
    notes = [{**n, "subscribers": None} for n in _current()["notifications"]]
    assert not differs(_current(notifications=notes), 40, "MONTHLY", "COST", WANTED)


@pytest.mark.parametrize(
    "current,limit,period",
    [
        (None, 40, "MONTHLY"),
        (_current(), 45, "MONTHLY"),
        (_current(), 40, "DAILY"),
        (_current(unit="EUR"), 40, "MONTHLY"),
        (_current(notifications=_current()["notifications"][:1]), 40, "MONTHLY"),
        (
            _current(
                notifications=[
                    {**n, "subscribers": [["EMAIL", "old@example.org"]]}
                    for n in _current()["notifications"]
                ]
            ),
            40,
            "MONTHLY",
        ),
    ],
    ids=["missing", "limit", "period", "unit", "notification-gone", "subscriber"],
)
def test_each_difference_is_seen(current: dict[str, Any] | None, limit: int, period: str) -> None:
    assert differs(current, limit, period, "COST", WANTED)


def test_extra_notification_is_purged() -> None:
    extra = {
        "type": "FORECASTED",
        "comparison": "GREATER_THAN",
        "threshold": 100.0,
        "threshold_type": "PERCENTAGE",
        "subscribers": None,
    }
    current = _current(notifications=[*_current()["notifications"], extra])
    assert differs(current, 40, "MONTHLY", "COST", WANTED)
