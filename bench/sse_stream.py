"""Benchmark of server-sent events through the example backend's app server (uvicorn).

    .venv/bin/python bench/sse_stream.py [--streams 50] [--steps 20] [--interval 0.1]

The backend (examples/fullstack/backend) runs under uvicorn on 127.0.0.1. For 1 stream (the
baseline) and then --streams concurrent streams, each client starts a run and reads its events
as they arrive, over raw sockets (an HTTP library's own cost would swamp the
server's at 50 streams in one client process). Printed, per case:
- time to first event: from sending the GET to reading the stream's first event (p50, p99);
- delivery latency: for every step produced while the stream is open, the time from the
  producer stamping it (time.time() in the event) to the client reading it (p50, p99, max);
and the ratio of the concurrent case's p99 latency to the baseline's. Loopback only: a real
path (CloudFront, ALB) adds its own round trips; these figures are the app server's share.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.examples.backend_server import Backend  # noqa: E402


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def one_stream(port: int, steps: int) -> tuple[float, list[float]]:
    """Start a run, then read its stream over a raw socket (a cheap client, so the figures are
    the server's): seconds from sending the GET to the first event, and the delivery latency of
    every step produced after the stream was open (earlier ones are replays, not latency)."""
    body = json.dumps({"prompt": "bench", "steps": steps}).encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"POST /api/runs HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(next(x for x in head.split(b"\r\n") if x.lower().startswith(b"content-length"))
                 .split(b":")[1])  # fmt: skip
    run = json.loads(await reader.readexactly(length))
    sent = time.perf_counter()
    writer.write(f"GET {run['events']} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    opened = time.time()
    first: float | None = None
    latencies: list[float] = []
    seen = 0
    try:
        while True:
            size = int((await reader.readline()).strip(), 16)  # chunked transfer encoding
            chunk = await reader.readexactly(size + 2)
            now = time.time()
            for frame in chunk.decode().split("\n\n"):
                fields = dict(line.split(": ", 1) for line in frame.splitlines() if ": " in line)
                if "data" not in fields:
                    continue
                if first is None:
                    first = time.perf_counter() - sent
                stamp = json.loads(fields["data"])["ts"]
                if fields.get("event") == "step":
                    seen += 1
                    if stamp > opened:
                        latencies.append(now - stamp)
                if fields.get("event") == "done":
                    assert first is not None and seen == steps
                    return first, latencies
    finally:
        writer.close()


async def case(port: int, streams: int, steps: int) -> tuple[list[float], list[float]]:
    results = await asyncio.gather(*(one_stream(port, steps) for _ in range(streams)))
    firsts = [r[0] for r in results]
    latencies = [x for r in results for x in r[1]]
    return firsts, latencies


def report(label: str, firsts: list[float], latencies: list[float]) -> None:
    ms = 1000
    print(
        f"{label:>12}: time to first event p50 {statistics.median(firsts) * ms:6.1f} ms, "
        f"p99 {pct(firsts, 0.99) * ms:6.1f} ms | delivery latency p50 "
        f"{statistics.median(latencies) * ms:6.2f} ms, p99 {pct(latencies, 0.99) * ms:6.2f} ms, "
        f"max {max(latencies) * ms:6.2f} ms ({len(latencies)} events)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=50)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between steps")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        backend = Backend(
            Path(tmp) / "backend.log",
            BACKEND_STEP_INTERVAL_S=str(args.interval),
            BACKEND_MAX_STREAMS=str(args.streams + 10),
            BACKEND_MAX_RUNS=str(args.streams * 2 + 10),
            BACKEND_LOG_LEVEL="warning",
        ).start()
        try:
            print(
                f"uvicorn on {backend.url}; {args.steps} steps per run, one every {args.interval} s"
            )
            # The first stream of a fresh process pays one-off costs (~100 ms of lazy imports).
            asyncio.run(case(backend.port, 1, 1))
            base_first, base_lat = asyncio.run(case(backend.port, 1, args.steps))
            report("1 stream", base_first, base_lat)
            first, lat = asyncio.run(case(backend.port, args.streams, args.steps))
            report(f"{args.streams} streams", first, lat)
            print(
                f"p99 delivery latency, {args.streams} streams / 1 stream: "
                f"{pct(lat, 0.99) / pct(base_lat, 0.99):.1f}x"
            )
        finally:
            backend.stop()


if __name__ == "__main__":
    main()
