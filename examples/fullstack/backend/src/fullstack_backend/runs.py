"""Runs of the simulated workflow, and the bounded ring of events each keeps for resumes.

A run is produced by a background task, independent of any client: a client that drops and
reconnects with Last-Event-ID picks up where it left off, as long as the events are still in the
run's ring. The ring lives in this process's memory, so with several tasks behind a load
balancer a resume must reach the same task (target-group stickiness) or it gets a 404.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import AsyncGenerator, Iterator
from dataclasses import dataclass, field

log = logging.getLogger("fullstack_backend.runs")

# The nodes of the stand-in graph, in order (a LangGraph workflow would name its own).
NODES = ("brief", "research", "concept", "script", "storyboard", "review")
_WORDS = (
    "bold", "calm", "bright", "quiet", "playful", "warm", "crisp", "lively", "gentle", "vivid",
    "clear", "honest", "sunny", "brisk", "fresh", "steady",
)  # fmt: skip


@dataclass(frozen=True)
class Event:
    id: int
    event: str
    data: str  # JSON text; one line, so one `data:` field


def steps(prompt: str, count: int) -> Iterator[tuple[str, dict[str, object]]]:
    """The workflow's steps, a pure function of the prompt: the same input streams the same."""
    digest = hashlib.sha256(prompt.encode()).digest()
    for index in range(count):
        node = NODES[index % len(NODES)]
        word = _WORDS[digest[index % len(digest)] % len(_WORDS)]
        yield "step", {"step": index + 1, "of": count, "node": node, "text": f"{node}: {word}"}


class RunLimitError(RuntimeError):
    """Every kept run is still producing: nothing can be dropped to make room."""


@dataclass
class Run:
    id: str
    prompt: str
    count: int
    mode: str
    ring: deque[Event]
    last_id: int = 0
    finished: bool = False
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    task: asyncio.Task[None] | None = None

    @property
    def oldest_id(self) -> int:
        return self.ring[0].id if self.ring else self.last_id + 1

    async def publish(self, event: str, payload: dict[str, object]) -> None:
        async with self.changed:
            self.last_id += 1
            payload = {**payload, "ts": time.time()}
            self.ring.append(Event(self.last_id, event, json.dumps(payload)))
            self.changed.notify_all()

    async def finish(self) -> None:
        async with self.changed:
            self.finished = True
            self.changed.notify_all()

    def after(self, last_seen: int) -> list[Event]:
        return [e for e in self.ring if e.id > last_seen]

    async def wait_after(self, last_seen: int, wait_s: float) -> bool:
        """Wait up to `wait_s` s for an event newer than `last_seen` or the run's end."""
        async with self.changed:
            if self.last_id > last_seen or self.finished:
                return True
            try:
                await asyncio.wait_for(self.changed.wait(), wait_s)
            except TimeoutError:
                return False
            return True


class RunStore:
    """At most `max_runs` runs; the oldest finished run makes room for a new one."""

    def __init__(self, *, max_runs: int, ring_size: int, step_interval_s: float) -> None:
        self.max_runs = max_runs
        self.ring_size = ring_size
        self.step_interval_s = step_interval_s
        self._runs: OrderedDict[str, Run] = OrderedDict()

    def get(self, run_id: str) -> Run | None:
        return self._runs.get(run_id)

    def __len__(self) -> int:
        return len(self._runs)

    def start(self, prompt: str, count: int, mode: str) -> Run:
        if len(self._runs) >= self.max_runs:
            finished = next((r for r in self._runs.values() if r.finished), None)
            if finished is None:
                raise RunLimitError(f"{self.max_runs} runs are in progress")
            del self._runs[finished.id]
        run = Run(uuid.uuid4().hex, prompt, count, mode, deque(maxlen=self.ring_size))
        self._runs[run.id] = run
        run.task = asyncio.create_task(self._produce(run), name=f"run-{run.id}")
        return run

    async def _produce(self, run: Run) -> None:
        log.info("run started", extra={"run": run.id, "steps": run.count, "mode": run.mode})
        try:
            await run.publish("status", {"state": "started", "mode": run.mode})
            for event, payload in steps(run.prompt, run.count):
                await asyncio.sleep(self.step_interval_s)
                await run.publish(event, payload)
            await run.publish("done", {"state": "done", "steps": run.count})
        finally:
            await run.finish()
            log.info("run finished", extra={"run": run.id, "events": run.last_id})

    async def close(self) -> None:
        tasks = [r.task for r in self._runs.values() if r.task and not r.task.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def aiter_events(
    run: Run, last_seen: int, heartbeat_s: float
) -> AsyncGenerator[Event | None]:
    """The run's events after `last_seen`, then new ones as they come; None means `heartbeat_s`
    passed without one (the caller sends a heartbeat). Ends after the run's last event."""
    while True:
        pending = run.after(last_seen)
        for event in pending:
            yield event
            last_seen = event.id
        if run.finished and last_seen >= run.last_id:
            return
        if not await run.wait_after(last_seen, heartbeat_s):
            yield None
