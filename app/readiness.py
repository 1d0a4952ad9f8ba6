"""Readiness: a list of named checks, each answering ok or not with details for the admin.

The public `/readyz` says only ready / not ready and the first failing check's name; the
details (paths, bucket names, schema revisions, raw errors) are for the logged-in admin at
`/readyz/detail`. A check that costs a network call (storage: an S3 HEAD) is cached for
`CRAYON_READY_CACHE_SECONDS`, so load-balancer probes do not turn into S3 requests.
Other parts add their own condition with `Readiness.add(name, check)`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    detail: dict[str, Any] = field(default_factory=dict)


Check = Callable[[], Awaitable[CheckResult]]


class Cached:
    """A check whose result is reused for `ttl` seconds; concurrent callers share one run."""

    def __init__(self, check: Check, ttl: float) -> None:
        self.check = check
        self.ttl = ttl
        self._result: CheckResult | None = None
        self._at = 0.0
        self._lock = asyncio.Lock()
        self.runs = 0

    async def __call__(self) -> CheckResult:
        async with self._lock:
            now = time.monotonic()
            if self._result is None or now - self._at >= self.ttl:
                self.runs += 1
                self._result = await self.check()
                self._at = time.monotonic()
                self._result.detail["checked_s_ago"] = 0.0
            else:
                self._result.detail["checked_s_ago"] = round(now - self._at, 1)
            return self._result


@dataclass
class Readiness:
    checks: list[tuple[str, Check]] = field(default_factory=list)

    def add(self, name: str, check: Check) -> None:
        self.checks.append((name, check))

    async def run(self) -> tuple[str | None, dict[str, dict[str, Any]]]:
        """(the first failing check's name or None, every check's result)."""
        failing: str | None = None
        results: dict[str, dict[str, Any]] = {}
        for name, check in self.checks:
            try:
                result = await check()
            except Exception as exc:  # a check that breaks means not ready, with the reason
                result = CheckResult(False, {"error": str(exc)})
            results[name] = {"ok": result.ok, **result.detail}
            if not result.ok and failing is None:
                failing = name
        return failing, results
