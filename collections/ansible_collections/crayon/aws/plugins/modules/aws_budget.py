#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module: an AWS Budgets cost budget with its notifications (no collection has one)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: aws_budget
short_description: Manage an AWS Budgets budget and its notifications
description:
  - Creates, updates or deletes one AWS Budgets budget (cost, usage...) and the notifications
    attached to it, each with its e-mail or SNS subscribers.
  - Describes first and changes only what differs, so a second run reports no change.
  - Supports check mode.
  - Neither amazon.aws nor community.aws ships a budgets module; this one is built on the
    collection's AnsibleAWSModule helper, so it takes the usual AWS connection options.
version_added: "0.1.0"
author: Crayon deployment kit
options:
  name:
    description: Budget name (unique per account).
    type: str
    required: true
  state:
    description: Whether the budget should exist.
    type: str
    choices: [present, absent]
    default: present
  account_id:
    description: Account that owns the budget; looked up with STS when omitted.
    type: str
  limit_amount:
    description: Budget limit (for example C(40) for 40 USD a month). Required when present.
    type: float
  limit_unit:
    description: Unit of the limit.
    type: str
    default: USD
  time_unit:
    description: Budget period.
    type: str
    choices: [DAILY, MONTHLY, QUARTERLY, ANNUALLY]
    default: MONTHLY
  budget_type:
    description: What the budget measures.
    type: str
    choices:
      - COST
      - USAGE
      - RI_UTILIZATION
      - RI_COVERAGE
      - SAVINGS_PLANS_UTILIZATION
      - SAVINGS_PLANS_COVERAGE
    default: COST
  notifications:
    description:
      - Notifications wanted on the budget. Notifications on the budget that are not listed
        are removed when I(purge_notifications=true).
    type: list
    elements: dict
    default: []
    suboptions:
      threshold:
        description: Threshold (percent of the limit when I(threshold_type=PERCENTAGE)).
        type: float
        required: true
      threshold_type:
        description: Percentage of the limit or an absolute value.
        type: str
        choices: [PERCENTAGE, ABSOLUTE_VALUE]
        default: PERCENTAGE
      comparison_operator:
        description: How spend is compared with the threshold.
        type: str
        choices: [GREATER_THAN, LESS_THAN, EQUAL_TO]
        default: GREATER_THAN
      notification_type:
        description: Actual spend or forecasted spend.
        type: str
        choices: [ACTUAL, FORECASTED]
        default: ACTUAL
      subscribers:
        description: Who is told (at most 10 e-mail addresses and one SNS topic).
        type: list
        elements: dict
        required: true
        suboptions:
          type:
            description: Subscription type.
            type: str
            choices: [EMAIL, SNS]
            required: true
          address:
            description: E-mail address or SNS topic ARN.
            type: str
            required: true
  purge_notifications:
    description: Remove notifications that are not listed in I(notifications).
    type: bool
    default: true
  cost_filters:
    description:
      - >-
        What the budget counts, as AWS Budgets C(CostFilters), for example
        C({TagKeyValue: ["user:Service$backend"]}) for the cost of what is tagged Service=backend
        (the tag must be activated as a cost allocation tag). Empty counts the whole account.
    type: dict
    default: {}
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - When the endpoint cannot list a notification's subscribers (the moto emulator does not
    implement DescribeSubscribersForNotification), subscribers are not compared and a warning
    says so.
  - Changing the limit of an existing budget calls UpdateBudget, which moto does not implement.
"""

EXAMPLES = r"""
- name: Monthly cost budget of 40 USD, e-mail at 80 % and 100 %
  crayon.aws.aws_budget:
    name: crayon-production-monthly
    limit_amount: 40
    notifications:
      - threshold: 80
        subscribers: [{type: EMAIL, address: ops@example.org}]
      - threshold: 100
        subscribers: [{type: EMAIL, address: ops@example.org}]
"""

RETURN = r"""
budget:
  description: The budget as AWS describes it after the run (empty when absent).
  returned: always
  type: dict
notifications:
  description: The notifications on the budget after the run.
  returned: always
  type: list
actions:
  description: The API calls made (or that would be made in check mode).
  returned: always
  type: list
"""

from typing import Any  # noqa: E402

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict  # noqa: E402
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry  # noqa: E402
from ansible_collections.crayon.aws.plugins.module_utils.common import (  # noqa: E402
    AWS_ERRORS,
    AnsibleAWSModule,
    BotoCoreError,
    ClientError,
    is_missing,
)


def _notification_key(n: dict[str, Any]) -> tuple[str, str, float, str]:
    return (
        n["NotificationType"],
        n["ComparisonOperator"],
        float(n["Threshold"]),
        n.get("ThresholdType", "PERCENTAGE"),
    )


def _wanted_notifications(params: list[dict[str, Any]]) -> dict[tuple[str, str, float, str], Any]:
    wanted: dict[tuple[str, str, float, str], Any] = {}
    for item in params:
        notification = {
            "NotificationType": item["notification_type"],
            "ComparisonOperator": item["comparison_operator"],
            "Threshold": float(item["threshold"]),
            "ThresholdType": item["threshold_type"],
        }
        subscribers = [
            {"SubscriptionType": s["type"], "Address": s["address"]} for s in item["subscribers"]
        ]
        wanted[_notification_key(notification)] = (notification, subscribers)
    return wanted


def _subscriber_set(subscribers: list[dict[str, str]]) -> set[tuple[str, str]]:
    return {(s["SubscriptionType"], s["Address"]) for s in subscribers}


class BudgetManager:
    def __init__(self, module: AnsibleAWSModule) -> None:
        self.module = module
        self.client = module.client("budgets", retry_decorator=AWSRetry.jittered_backoff())
        self.name: str = module.params["name"]
        self.account_id: str = module.params["account_id"] or self._account_id()
        self.changed = False
        self.actions: list[str] = []

    def _account_id(self) -> str:
        try:
            sts = self.module.client("sts")
            return str(sts.get_caller_identity()["Account"])
        except AWS_ERRORS as e:
            self.module.fail_json_aws(e, msg="Could not find the account id (give account_id)")

    def _call(self, action: str, **kwargs: Any) -> Any:
        self.changed = True
        self.actions.append(action)
        if self.module.check_mode:
            return None
        try:
            return getattr(self.client, action)(AccountId=self.account_id, aws_retry=True, **kwargs)
        except AWS_ERRORS as e:
            self.module.fail_json_aws(e, msg=f"{action} failed for budget {self.name}")

    def describe(self) -> dict[str, Any] | None:
        try:
            resp = self.client.describe_budget(
                AccountId=self.account_id, BudgetName=self.name, aws_retry=True
            )
        except ClientError as e:
            if is_missing(e, "NotFoundException", "NotFound"):
                return None
            self.module.fail_json_aws(e, msg=f"Could not describe budget {self.name}")
        except BotoCoreError as e:
            self.module.fail_json_aws(e, msg=f"Could not describe budget {self.name}")
        return dict(resp["Budget"])

    def notifications(self) -> list[dict[str, Any]]:
        try:
            resp = self.client.describe_notifications_for_budget(
                AccountId=self.account_id, BudgetName=self.name, aws_retry=True
            )
        except ClientError as e:
            if is_missing(e, "NotFoundException", "NotFound"):
                return []
            self.module.fail_json_aws(e, msg=f"Could not list notifications of {self.name}")
        except BotoCoreError as e:
            self.module.fail_json_aws(e, msg=f"Could not list notifications of {self.name}")
        return list(resp.get("Notifications", []))

    def subscribers(self, notification: dict[str, Any]) -> list[dict[str, str]] | None:
        """Subscribers of one notification, or None when the endpoint cannot list them."""
        try:
            resp = self.client.describe_subscribers_for_notification(
                AccountId=self.account_id, BudgetName=self.name, Notification=notification
            )
        except AWS_ERRORS:
            return None
        return [
            {"SubscriptionType": s["SubscriptionType"], "Address": s["Address"]}
            for s in resp.get("Subscribers", [])
        ]

    def wanted_budget(self) -> dict[str, Any]:
        p = self.module.params
        return {
            "BudgetName": self.name,
            "BudgetLimit": {"Amount": f"{float(p['limit_amount']):g}", "Unit": p["limit_unit"]},
            "TimeUnit": p["time_unit"],
            "BudgetType": p["budget_type"],
            **({"CostFilters": self.cost_filters()} if p["cost_filters"] else {}),
        }

    def cost_filters(self) -> dict[str, list[str]]:
        return {
            str(k): sorted(str(v) for v in vs)
            for k, vs in self.module.params["cost_filters"].items()
        }

    def ensure_present(self) -> None:
        p = self.module.params
        wanted = self.wanted_budget()
        wanted_notes = _wanted_notifications(p["notifications"])
        current = self.describe()
        if current is None:
            self._call(
                "create_budget",
                Budget=wanted,
                NotificationsWithSubscribers=[
                    {"Notification": n, "Subscribers": s} for n, s in wanted_notes.values()
                ],
            )
            return
        limit = current.get("BudgetLimit", {})
        if (
            float(limit.get("Amount", "nan")) != float(p["limit_amount"])
            or limit.get("Unit") != p["limit_unit"]
            or current.get("TimeUnit") != p["time_unit"]
            or current.get("BudgetType") != p["budget_type"]
            or {k: sorted(v) for k, v in (current.get("CostFilters") or {}).items()}
            != self.cost_filters()
        ):
            new_budget = dict(wanted)
            if "CostTypes" in current:
                new_budget["CostTypes"] = current["CostTypes"]
            self._call("update_budget", NewBudget=new_budget)

        existing = {_notification_key(n): n for n in self.notifications()}
        unreadable = False
        for key, (notification, subscribers) in wanted_notes.items():
            if key not in existing:
                self._call(
                    "create_notification",
                    BudgetName=self.name,
                    Notification=notification,
                    Subscribers=subscribers,
                )
                continue
            have = self.subscribers(existing[key])
            if have is None:
                unreadable = True
                continue
            if _subscriber_set(have) != _subscriber_set(subscribers):
                self._call("delete_notification", BudgetName=self.name, Notification=existing[key])
                self._call(
                    "create_notification",
                    BudgetName=self.name,
                    Notification=notification,
                    Subscribers=subscribers,
                )
        if p["purge_notifications"]:
            for key, notification in existing.items():
                if key not in wanted_notes:
                    self._call(
                        "delete_notification", BudgetName=self.name, Notification=notification
                    )
        if unreadable:
            self.module.warn(
                "The endpoint does not answer DescribeSubscribersForNotification: "
                "subscribers of existing notifications were not compared."
            )

    def ensure_absent(self) -> None:
        if self.describe() is not None:
            self._call("delete_budget", BudgetName=self.name)


def main() -> None:
    subscriber = dict(
        type=dict(type="str", required=True, choices=["EMAIL", "SNS"]),
        address=dict(type="str", required=True),
    )
    notification = dict(
        threshold=dict(type="float", required=True),
        threshold_type=dict(
            type="str", default="PERCENTAGE", choices=["PERCENTAGE", "ABSOLUTE_VALUE"]
        ),
        comparison_operator=dict(
            type="str", default="GREATER_THAN", choices=["GREATER_THAN", "LESS_THAN", "EQUAL_TO"]
        ),
        notification_type=dict(type="str", default="ACTUAL", choices=["ACTUAL", "FORECASTED"]),
        subscribers=dict(type="list", elements="dict", required=True, options=subscriber),
    )
    argument_spec = dict(
        name=dict(type="str", required=True),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        account_id=dict(type="str"),
        limit_amount=dict(type="float"),
        limit_unit=dict(type="str", default="USD"),
        time_unit=dict(
            type="str", default="MONTHLY", choices=["DAILY", "MONTHLY", "QUARTERLY", "ANNUALLY"]
        ),
        budget_type=dict(
            type="str",
            default="COST",
            choices=[
                "COST",
                "USAGE",
                "RI_UTILIZATION",
                "RI_COVERAGE",
                "SAVINGS_PLANS_UTILIZATION",
                "SAVINGS_PLANS_COVERAGE",
            ],
        ),
        notifications=dict(type="list", elements="dict", default=[], options=notification),
        purge_notifications=dict(type="bool", default=True),
        cost_filters=dict(type="dict", default={}),
    )
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        required_if=[("state", "present", ["limit_amount"])],
    )
    if module.params["limit_amount"] is not None and module.params["limit_amount"] <= 0:
        module.fail_json(msg="limit_amount must be a positive amount of money")

    manager = BudgetManager(module)
    if module.params["state"] == "present":
        manager.ensure_present()
    else:
        manager.ensure_absent()

    budget = manager.describe()
    notifications = manager.notifications() if budget else []
    module.exit_json(
        changed=manager.changed,
        actions=manager.actions,
        budget=camel_dict_to_snake_dict(budget or {}),
        notifications=[camel_dict_to_snake_dict(n) for n in notifications],
    )


if __name__ == "__main__":
    main()
