"""Wake every server-sent-events stream when the figures may have changed."""

from __future__ import annotations

import asyncio


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
