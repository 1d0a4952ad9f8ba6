"""The deploy wait's verdicts (crayon.aws.ecs_service_wait), case by case.

moto runs no tasks, so the Molecule scenario only sees the success path; these cases cover
the fail-fast paths a real ECS deployment goes through.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from tests.support import collection

TD = "crayon-production-app:7"


def _module() -> ModuleType:
    return collection.module("ecs_service_wait")


def _service(*deployments: dict[str, Any], td: str = TD, running: int = 1) -> dict[str, Any]:
    return {
        "taskDefinition": f"arn:aws:ecs:eu-west-1:1:task-definition/{td}",
        "runningCount": running,
        "desiredCount": 1,
        "deployments": list(deployments),
    }


PRIMARY = {"status": "PRIMARY", "rolloutState": "COMPLETED"}


def test_done_when_the_only_deployment_completed() -> None:
    verdict, _ = _module().assess(_service(PRIMARY), TD, 0, 2)
    assert verdict == "done"


def test_waits_while_the_old_deployment_drains() -> None:
    old = {"status": "ACTIVE", "rolloutState": "COMPLETED"}
    new = {"status": "PRIMARY", "rolloutState": "IN_PROGRESS"}
    verdict, _ = _module().assess(_service(new, old, running=0), TD, 0, 2)
    assert verdict == "wait"


def test_fails_fast_when_the_circuit_breaker_gives_up() -> None:
    failed = {"status": "PRIMARY", "rolloutState": "FAILED", "rolloutStateReason": "tasks failed"}
    verdict, why = _module().assess(_service(failed), TD, 0, 2)
    assert verdict == "failed" and "tasks failed" in why


def test_fails_when_rolled_back_to_another_revision() -> None:
    verdict, why = _module().assess(_service(PRIMARY, td="crayon-production-app:6"), TD, 0, 2)
    assert verdict == "failed" and "instead of" in why


def test_fails_when_new_tasks_keep_stopping() -> None:
    new = {"status": "PRIMARY", "rolloutState": "IN_PROGRESS"}
    verdict, why = _module().assess(_service(new, running=0), TD, 2, 2)
    assert verdict == "failed" and "stopped" in why
