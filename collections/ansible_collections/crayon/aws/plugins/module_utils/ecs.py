"""ECS reads more than one crayon.aws module makes."""

from __future__ import annotations

from typing import Any


def task_definition_arns(ecs: Any, family: str, newest_first: bool = False) -> list[str]:
    """The ACTIVE revisions of exactly `family` (ECS matches the name as a prefix, so
    crayon-app would also list crayon-app-worker's), oldest first unless `newest_first`."""
    arns: list[str] = []
    pages = ecs.get_paginator("list_task_definitions").paginate(
        familyPrefix=family, status="ACTIVE", sort="DESC" if newest_first else "ASC"
    )
    for page in pages:
        arns += [
            a for a in page["taskDefinitionArns"] if a.split("/")[-1].rsplit(":", 1)[0] == family
        ]
    return arns
