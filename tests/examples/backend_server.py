"""The example backend (examples/fullstack/backend) under a real uvicorn on 127.0.0.1, and a
small SSE reader that stamps each line's arrival: what the streaming tests and bench/sse_stream.py
use to see when events reach a client."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support.moto_server import free_port

ROOT = Path(__file__).resolve().parents[2]
BACKEND = ROOT / "examples" / "fullstack" / "backend"
BACKEND_SRC = BACKEND / "src"


class Backend:
    """`python -m fullstack_backend` (uvicorn) as a subprocess; settings through BACKEND_* env."""

    def __init__(self, log_path: Path, **settings: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("BACKEND_", "GEMINI_"))},
            "PYTHONPATH": os.pathsep.join([str(BACKEND_SRC), str(ROOT)]),
            "BACKEND_HOST": "127.0.0.1",
            "BACKEND_PORT": str(self.port),
            **settings,
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, wait: bool = True) -> Backend:
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "fullstack_backend"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"backend exited {self.proc.returncode}: {self.logs()[-2000:]}")
            try:
                if httpx.get(self.url + "/api/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"backend not ready in {timeout} s: {self.logs()[-2000:]}")

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, timeout: float = 15) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None

    def start_run(self, client: httpx.Client, prompt: str = "a bakery", steps: int = 5) -> str:
        reply = client.post(self.url + "/api/runs", json={"prompt": prompt, "steps": steps})
        assert reply.status_code == 201, reply.text
        return str(reply.json()["id"])


@dataclass
class Item:
    """One thing read from a stream: an event (on its blank line), a comment, or a retry field."""

    kind: str  # "event", "comment" or "retry"
    at: float  # time.time() when the line that completed it was read
    id: int | None = None
    event: str = "message"
    data: str = ""
    text: str = ""
    fields: dict[str, Any] = field(default_factory=dict)

    @property
    def payload(self) -> dict[str, Any]:
        return dict(json.loads(self.data)) if self.data else {}


def read_sse(response: httpx.Response) -> Iterator[Item]:
    """Parse an SSE body line by line as it arrives (no buffering beyond one line)."""
    current: dict[str, str] = {}
    data: list[str] = []
    for line in response.iter_lines():
        now = time.time()
        if line == "":
            if current or data:
                raw_id = current.get("id")
                yield Item(
                    "event",
                    now,
                    id=int(raw_id) if raw_id is not None else None,
                    event=current.get("event", "message"),
                    data="\n".join(data),
                )
            current, data = {}, []
        elif line.startswith(":"):
            yield Item("comment", now, text=line[1:].strip())
        else:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "data":
                data.append(value)
            elif name == "retry":
                yield Item("retry", now, text=value)
            else:
                current[name] = value
