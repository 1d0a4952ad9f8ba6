"""Open event streams share one computation per change (app/metrics/live.py `Shared`): 100
dashboard streams used to run the same queries 100 times on every change."""

from __future__ import annotations

import asyncio

import pytest

from app.metrics.live import Shared


async def test_callers_of_one_version_share_one_computation() -> None:
    shared: Shared[int] = Shared()
    calls = 0
    release = asyncio.Event()

    async def compute() -> int:
        nonlocal calls
        calls += 1
        await release.wait()
        return calls

    waiters = [asyncio.create_task(shared.get("24h", 7, compute)) for _ in range(100)]
    await asyncio.sleep(0.01)
    release.set()
    assert await asyncio.gather(*waiters) == [1] * 100
    assert calls == 1
    assert await shared.get("24h", 7, compute) == 1 and calls == 1  # still that version
    assert await shared.get("24h", 8, compute) == 2  # a change: computed again
    assert await shared.get("7d", 8, compute) == 3  # another key: its own


async def test_a_failure_is_not_kept_and_a_leaving_caller_does_not_cancel_the_rest() -> None:
    shared: Shared[str] = Shared()
    attempts = 0

    async def flaky() -> str:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise RuntimeError("database busy")
        await asyncio.sleep(0.05)
        return "figures"

    with pytest.raises(RuntimeError):
        await shared.get("k", 1, flaky)
    leaving = asyncio.create_task(shared.get("k", 1, flaky))  # same version: tried again
    staying = asyncio.create_task(shared.get("k", 1, flaky))
    await asyncio.sleep(0.01)
    leaving.cancel()  # a stream closed by its client
    assert await staying == "figures"
    assert attempts == 2
