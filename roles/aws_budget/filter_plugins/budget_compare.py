"""aws_budget_differs: whether the aws_budget module would change the budget read up front.

The role calls its module (a Python process, botocore, about 1.5 s) only when this says
something differs; the rules are the module's own (crayon.aws.aws_budget): limit, unit,
period and type; notifications keyed by type, comparison, threshold and threshold type, extra
ones purged; subscribers compared only where the endpoint could list them.
"""

from __future__ import annotations

from typing import Any

Key = tuple[str, str, float, str]


def _key(n: dict[str, Any]) -> Key:
    return (n["type"], n["comparison"], float(n["threshold"]), n["threshold_type"])


def aws_budget_differs(
    current: dict[str, Any] | None,
    limit: float,
    time_unit: str,
    budget_type: str,
    notifications: list[dict[str, Any]],
    unit: str = "USD",
) -> bool:
    if not current:
        return True
    if [current["limit"], current["unit"], current["time_unit"], current["type"]] != [
        float(limit),
        unit,
        time_unit,
        budget_type,
    ]:
        return True
    wanted: dict[Key, list[list[str]]] = {
        _key(
            {
                "type": n["notification_type"],
                "comparison": n.get("comparison_operator", "GREATER_THAN"),
                "threshold": n["threshold"],
                "threshold_type": n.get("threshold_type", "PERCENTAGE"),
            }
        ): sorted([s["type"], s["address"]] for s in n["subscribers"])
        for n in notifications
    }
    have = {_key(n): n["subscribers"] for n in current["notifications"]}
    if set(have) != set(wanted):
        return True
    return any(have[k] is not None and have[k] != wanted[k] for k in wanted)


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"aws_budget_differs": aws_budget_differs}
