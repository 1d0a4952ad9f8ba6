"""The live stream `/api/events` against a real `crayon serve` (uvicorn) process."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.pages.support import Server, drawing_png, login


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Server]:
    srv = Server(
        tmp_path / "data",
        {"CRAYON_HEARTBEAT_SECONDS": "1", "CRAYON_SSE_HEARTBEAT_SECONDS": "1"},
    ).start()
    try:
        yield srv
    finally:
        srv.stop()


class Events:
    """Read an SSE response line by line in a thread; collect events and comments."""

    def __init__(self, response: httpx.Response) -> None:
        self.events: list[tuple[str, dict]] = []
        self.comments: list[str] = []
        self.closed = threading.Event()
        self._response = response
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        name, data = "message", ""
        try:
            for line in self._response.iter_lines():
                if line.startswith(":"):
                    self.comments.append(line)
                elif line.startswith("event:"):
                    name = line[6:].strip()
                elif line.startswith("data:"):
                    data += line[5:].strip()
                elif line == "" and data:
                    self.events.append((name, json.loads(data)))
                    name, data = "message", ""
        except httpx.HTTPError:
            pass
        finally:
            self.closed.set()

    def wait_for(self, predicate, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.05)
        return False


def test_stream_sends_figures_heartbeats_and_a_change_after_an_upload(live: Server) -> None:
    with httpx.Client(base_url=live.url, timeout=30) as http:
        assert http.get("/api/events").status_code == 401  # protected
        login(http)
        _stream_and_upload(live, http)
    # the server noticed the disconnect: the stream's request finished and was logged
    assert _wait(lambda: live.log.read_text().count('"path":"/api/events"') >= 2)
    assert httpx.get(live.url + "/healthz").status_code == 200


def _stream_and_upload(live: Server, http: httpx.Client) -> None:
    with http.stream("GET", "/api/events?window=24h") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        # The admin's stream: private, never stored (app/web/middleware.py PrivateCache).
        assert response.headers["cache-control"] == "private, no-store"
        assert response.headers["x-accel-buffering"] == "no"
        events = Events(response)
        assert events.wait_for(lambda: any(n == "metrics" for n, _ in events.events))
        first = next(d for n, d in events.events if n == "metrics")
        assert first["total_analyses"] == 0
        # quiet: only heartbeat comments keep the connection alive
        assert events.wait_for(lambda: len(events.comments) >= 1, timeout=5)
        assert events.comments[0].startswith(": heartbeat")

        with httpx.Client(base_url=live.url, timeout=30) as other:
            r = other.post(
                "/api/analyses",
                data={"age_group": "6-8"},
                files={"file": ("d.png", drawing_png(), "image/png")},
            )
            assert r.status_code == 201
        assert events.wait_for(
            lambda: any(d.get("total_analyses") == 1 for n, d in events.events if n == "metrics"),
            timeout=5,
        ), events.events[-1:]
        response.close()


def test_stream_ends_cleanly_when_the_server_stops(live: Server) -> None:
    assert live.process is not None
    with httpx.Client(base_url=live.url, timeout=30) as http:
        login(http)
        with http.stream("GET", "/api/events") as response:
            events = Events(response)
            assert events.wait_for(lambda: bool(events.events))
            started = time.monotonic()
            live.process.send_signal(signal.SIGTERM)
            assert events.closed.wait(8), "the stream did not end on shutdown"
            assert any(n == "bye" for n, _ in events.events)
    code = live.process.wait(timeout=10)
    elapsed = time.monotonic() - started
    # uvicorn re-raises the captured SIGTERM after its graceful shutdown: -15 is a clean stop
    assert code in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in live.log.read_text()
    assert elapsed < 5, f"shutdown took {elapsed:.1f} s (graceful timeout is 10 s)"
    assert "timeout graceful shutdown exceeded" not in live.log.read_text()


def test_stream_ends_when_its_session_is_logged_out(live: Server) -> None:
    with httpx.Client(base_url=live.url, timeout=30) as http:
        login(http)
        with http.stream("GET", "/api/events") as response:
            events = Events(response)
            assert events.wait_for(lambda: bool(events.events))
            r = http.post("/logout", follow_redirects=False)
            assert r.status_code == 303
            assert events.closed.wait(5), "the stream kept sending after logout"
            assert events.events[-1] == ("bye", {"reason": "session ended"})
        # the browser's automatic reconnect meets the gate
        assert http.get("/api/events").status_code == 401


def _wait(predicate, timeout: float = 5.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False
