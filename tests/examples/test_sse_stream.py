"""A real stream through the app server: the example backend under uvicorn on 127.0.0.1, read
by an HTTP client as bytes arrive. Checks that events arrive one by one and on time, heartbeats
fill idle time, Last-Event-ID resumes exactly, and the bounds and input checks answer 4xx/503."""

from __future__ import annotations

import contextlib
import itertools
import json
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.examples.backend_server import Backend, Item, read_sse

JSON = {"content-type": "application/json"}
INTERVAL = 0.4  # seconds between the workflow's steps
HEARTBEAT = 0.15  # seconds of silence before a heartbeat comment
RING = 6
# How late an event may reach the client after it was produced, on 2 shared cores.
LATE = 0.3

BackendFactory = Callable[..., Backend]


@pytest.fixture
def backend_factory(tmp_path: Path) -> Iterator[BackendFactory]:
    started: list[Backend] = []

    def make(**settings: str) -> Backend:
        backend = Backend(tmp_path / f"backend-{len(started)}.log", **settings).start()
        started.append(backend)
        return backend

    yield make
    for backend in started:
        backend.stop()


@pytest.fixture(scope="module")
def paced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    """Steps every INTERVAL s, heartbeats after HEARTBEAT s of silence, a ring of RING events."""
    backend = Backend(
        tmp_path_factory.mktemp("paced") / "backend.log",
        BACKEND_STEP_INTERVAL_S=str(INTERVAL),
        BACKEND_HEARTBEAT_S=str(HEARTBEAT),
        BACKEND_RING_SIZE=str(RING),
        BACKEND_RETRY_MS="2500",
    ).start()
    yield backend
    backend.stop()


def events_of(items: list[Item]) -> list[Item]:
    return [i for i in items if i.kind == "event"]


def read_until_done(response: httpx.Response) -> list[Item]:
    items: list[Item] = []
    for item in read_sse(response):
        items.append(item)
        if item.kind == "event" and item.event == "done":
            break
    return items


def test_events_arrive_one_by_one_on_time(paced: Backend) -> None:
    steps = 5
    with httpx.Client(timeout=10) as client:
        run = paced.start_run(client, steps=steps)
        with client.stream("GET", f"{paced.url}/api/runs/{run}/events") as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            assert response.headers["cache-control"] == "no-cache, no-transform"
            assert response.headers["x-accel-buffering"] == "no"
            items = read_until_done(response)

    assert items[0].kind == "retry" and items[0].text == "2500"
    events = events_of(items)
    assert [e.id for e in events] == list(range(1, steps + 3))  # status, steps, done
    assert [e.event for e in events] == ["status"] + ["step"] * steps + ["done"]
    step_events = [e for e in events if e.event == "step"]
    assert [e.payload["step"] for e in step_events] == list(range(1, steps + 1))
    for event in events:
        late = event.at - event.payload["ts"]
        assert -0.05 < late < LATE, f"event {event.id} reached the client {late:.3f} s late"
    gaps = [b.at - a.at for a, b in itertools.pairwise(step_events)]
    for gap in gaps:
        assert INTERVAL - 0.2 < gap < INTERVAL + 0.2, f"steps arrived {gaps} s apart"
    # Not buffered to the end: the first step was in hand well before the last was produced.
    assert step_events[0].at < step_events[-1].payload["ts"] - (steps - 2) * INTERVAL


def test_heartbeats_fill_idle_time(paced: Backend) -> None:
    with httpx.Client(timeout=10) as client:
        run = paced.start_run(client, steps=4)
        with client.stream("GET", f"{paced.url}/api/runs/{run}/events") as response:
            items = read_until_done(response)
    steps = [i for i, item in enumerate(items) if item.kind == "event" and item.event == "step"]
    for before, after in itertools.pairwise(steps):
        beats = [i for i in items[before + 1 : after] if i.text.startswith("heartbeat")]
        # INTERVAL of silence holds two HEARTBEAT periods: at least one comment arrives.
        assert beats, f"no heartbeat between steps: {[(i.kind, i.text) for i in items]}"
        for beat in beats:
            quiet = beat.at - items[before].at
            assert quiet > HEARTBEAT - 0.05, f"heartbeat after only {quiet:.3f} s of silence"


def test_last_event_id_resumes_exactly_the_missed_events(paced: Backend) -> None:
    steps = 7
    with httpx.Client(timeout=10) as client:
        run = paced.start_run(client, steps=steps)
        url = f"{paced.url}/api/runs/{run}/events"
        first: list[Item] = []
        with client.stream("GET", url) as response:
            for item in read_sse(response):
                if item.kind == "event":
                    first.append(item)
                    if item.id == 3:
                        break
        time.sleep(2 * INTERVAL)  # events 4 and 5 are produced while no one listens
        with client.stream("GET", url, headers={"Last-Event-ID": "3"}) as response:
            assert response.status_code == 200
            rest = events_of(read_until_done(response))
        # A client that already has everything is told to stop reconnecting (204).
        done = client.get(url, headers={"Last-Event-ID": str(rest[-1].id)})
        assert done.status_code == 204

    ids = [e.id for e in first + rest]
    assert ids == list(range(1, steps + 3)), ids
    assert rest[0].id == 4 and rest[0].at - rest[0].payload["ts"] > INTERVAL / 2  # replayed
    assert all(e.event != "gap" for e in rest)


def test_resume_beyond_the_ring_says_so(backend_factory: BackendFactory) -> None:
    backend = backend_factory(BACKEND_STEP_INTERVAL_S="0.01", BACKEND_RING_SIZE="4")
    with httpx.Client(timeout=10) as client:
        run = backend.start_run(client, steps=10)  # 12 events: status, 10 steps, done
        url = f"{backend.url}/api/runs/{run}/events"
        with client.stream("GET", url) as response:
            read_until_done(response)
        with client.stream("GET", url, headers={"Last-Event-ID": "2"}) as response:
            events = events_of(read_until_done(response))
    assert events[0].event == "gap"
    assert events[0].payload == {"missed_from": 3, "resume_from": 9}
    assert events[0].id == 8  # the client's cursor moves to just before what is kept
    assert [e.id for e in events[1:]] == [9, 10, 11, 12]
    # EventSource polyfills that cannot set headers send the id in the query string.
    with httpx.Client(timeout=10) as client, client.stream("GET", url + "?lastEventId=10") as r:
        assert [e.id for e in events_of(read_until_done(r))] == [11, 12]


@pytest.mark.parametrize(
    ("header", "status"),
    [("abc", 400), ("-1", 400), ("999", 400)],
)
def test_bad_last_event_id_is_a_400(paced: Backend, header: str, status: int) -> None:
    with httpx.Client(timeout=10) as client:
        run = paced.start_run(client, steps=1)
        reply = client.get(f"{paced.url}/api/runs/{run}/events", headers={"Last-Event-ID": header})
    assert reply.status_code == status
    assert "Last-Event-ID" in reply.json()["error"]


def test_streams_beyond_the_bound_get_503(backend_factory: BackendFactory) -> None:
    backend = backend_factory(
        BACKEND_STEP_INTERVAL_S="0.5", BACKEND_MAX_STREAMS="2", BACKEND_MAX_RUNS="3"
    )
    with httpx.Client(timeout=10) as client, contextlib.ExitStack() as stack:
        run = backend.start_run(client, steps=40)
        url = f"{backend.url}/api/runs/{run}/events"
        held = [stack.enter_context(client.stream("GET", url)) for _ in range(2)]
        assert [r.status_code for r in held] == [200, 200]
        third = client.get(url)
        assert third.status_code == 503
        assert "too many open streams" in third.json()["error"]
        # A closed stream gives its slot back.
        held[0].close()
        deadline = time.monotonic() + 5
        while client.get(backend.url + "/api/health").json()["streams"] > 1:
            assert time.monotonic() < deadline, "the closed stream's slot was not released"
            time.sleep(0.05)
        with client.stream("GET", url) as again:
            assert again.status_code == 200
        # Runs are bounded too: three in progress fill the store.
        backend.start_run(client, steps=40)
        backend.start_run(client, steps=40)
        fourth = client.post(backend.url + "/api/runs", json={"prompt": "x"})
        assert fourth.status_code == 503 and "runs are in progress" in fourth.json()["error"]


def test_finished_runs_make_room(backend_factory: BackendFactory) -> None:
    backend = backend_factory(BACKEND_STEP_INTERVAL_S="0", BACKEND_MAX_RUNS="2")
    with httpx.Client(timeout=10) as client:
        runs = []
        for _ in range(3):
            runs.append(backend.start_run(client, steps=1))
            time.sleep(0.1)  # let it finish
        assert client.get(f"{backend.url}/api/runs/{runs[0]}/events").status_code == 404
        assert client.get(f"{backend.url}/api/runs/{runs[2]}/events").status_code == 200


@pytest.mark.parametrize(
    ("body", "headers", "status", "says"),
    [
        (b"{not json", {"content-type": "application/json"}, 400, "not valid JSON"),
        (b'{"prompt": "x"}', {"content-type": "text/plain"}, 415, "Content-Type"),
        (b"[1, 2]", {"content-type": "application/json"}, 422, "JSON object"),
        (b"{}", {"content-type": "application/json"}, 422, "prompt"),
        (b'{"prompt": "x", "steps": true}', {"content-type": "application/json"}, 422, "steps"),
        (b'{"prompt": "x", "steps": 101}', {"content-type": "application/json"}, 422, "steps"),
        (b'{"prompt": "x", "admin": 1}', {"content-type": "application/json"}, 422, "admin"),
        (b'{"prompt": "a\\u0000b"}', {"content-type": "application/json"}, 422, "control"),
        (
            b'{"prompt": "' + b"x" * 20_000 + b'"}',
            {"content-type": "application/json"},
            413,
            "bytes",
        ),
    ],
)
def test_malformed_input_gets_a_clear_4xx(
    paced: Backend, body: bytes, headers: dict[str, str], status: int, says: str
) -> None:
    reply = httpx.post(paced.url + "/api/runs", content=body, headers=headers, timeout=10)
    assert reply.status_code == status, reply.text
    assert says in reply.text, reply.text


def test_oversized_chunked_body_is_cut_off(paced: Backend) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(40):
            yield b"x" * 1000  # no Content-Length: the limit is counted as bytes arrive

    reply = httpx.post(
        paced.url + "/api/runs",
        content=chunks(),
        headers={"content-type": "application/json"},
        timeout=10,
    )
    assert reply.status_code == 413, reply.text


def test_unknown_run_is_a_404(paced: Backend) -> None:
    reply = httpx.get(paced.url + "/api/runs/" + "0" * 32 + "/events", timeout=10)
    assert reply.status_code == 404
    assert "no such run" in reply.json()["error"]


def test_sigterm_ends_open_streams_with_a_shutdown_event(backend_factory: BackendFactory) -> None:
    backend = backend_factory(BACKEND_STEP_INTERVAL_S="0.2", BACKEND_HEARTBEAT_S="5")
    assert backend.proc is not None
    with httpx.Client(timeout=10) as client:
        run = backend.start_run(client, steps=100)
        with client.stream("GET", f"{backend.url}/api/runs/{run}/events") as response:
            items: list[Item] = []
            for item in read_sse(response):
                items.append(item)
                if item.kind == "event" and item.id == 2:
                    backend.proc.send_signal(signal.SIGTERM)
                    sent = time.monotonic()
            ended = time.monotonic() - sent
    last = events_of(items)[-1]
    assert last.event == "shutdown", [(i.kind, i.event) for i in items]
    assert last.payload["reconnect"] is True
    assert ended < 2, f"the stream took {ended:.1f} s to end after SIGTERM"
    # uvicorn re-raises the signal once it has shut down cleanly, so the parent sees SIGTERM.
    assert backend.proc.wait(10) in (0, -signal.SIGTERM), backend.logs()[-2000:]
    assert "Finished server process" in backend.logs()


def test_logs_are_json_lines(paced: Backend) -> None:
    with httpx.Client(timeout=10) as client:
        paced.start_run(client, steps=1)
    lines = [line for line in paced.logs().splitlines() if line.strip()]
    assert lines
    for line in lines:
        entry = json.loads(line)
        assert {"ts", "level", "msg"} <= set(entry), line
    assert any(json.loads(x).get("msg") == "run started" for x in lines)


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("BACKEND_HEARTBEAT_S", "soon", "BACKEND_HEARTBEAT_S='soon' is not a number"),
        ("BACKEND_HEARTBEAT_S", "90", "out of range"),  # above the ALB's 60 s idle timeout
        ("BACKEND_MAX_STREAMS", "2.5", "not a whole number"),
    ],
)
def test_bad_settings_stop_the_start_with_their_name(
    tmp_path: Path, name: str, value: str, says: str
) -> None:
    backend = Backend(tmp_path / "b.log", **{name: value}).start(wait=False)
    assert backend.proc is not None
    assert backend.proc.wait(20) == 2
    assert says in backend.logs()
