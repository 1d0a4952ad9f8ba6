"""Wake every server-sent-events stream when the figures may have changed, and let them share
what they compute for one change."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class Changes:
    """A version counter; `wait_newer(v, wait_s)` returns on a change or after wait_s."""

    def __init__(self) -> None:
        self.version = 0
        self._event = asyncio.Event()

    def bump(self) -> None:
        self.version += 1
        event, self._event = self._event, asyncio.Event()
        event.set()

    async def wait_newer(self, seen: int, wait_s: float) -> bool:
        if self.version != seen:
            return True
        try:
            await asyncio.wait_for(self._event.wait(), wait_s)
        except TimeoutError:
            return False
        return True


class Shared(Generic[T]):
    """One computation per (key, version), shared by everyone who asks for it meanwhile.

    A change wakes every open stream at once; without this each of them ran the same queries
    (100 dashboard streams: 100 identical computations per change, on the event loop's time).
    A failed computation is not kept: the next caller tries again."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[Hashable, asyncio.Task[T]]] = {}

    async def get(self, key: str, version: Hashable, compute: Callable[[], Awaitable[T]]) -> T:
        entry = self._entries.get(key)
        if entry is None or entry[0] != version or _failed(entry[1]):
            if len(self._entries) >= 256:  # keys are windows and sessions: drop finished ones
                self._entries = {k: e for k, e in self._entries.items() if not e[1].done()}
            entry = (version, asyncio.ensure_future(compute()))
            self._entries[key] = entry
        # Shielded: one caller going away (a closed stream) does not cancel it for the rest.
        return await asyncio.shield(entry[1])


def _failed(task: asyncio.Task[T]) -> bool:
    return task.done() and (task.cancelled() or task.exception() is not None)
