"""Benchmark of server-sent events through the example backend's app server (uvicorn).

    .venv/bin/python bench/sse_stream.py [--streams 50] [--steps 20] [--interval 0.1]

The backend (examples/fullstack/backend) runs under uvicorn on 127.0.0.1. For 1 stream (the
baseline) and then --streams concurrent streams, each client starts a run and reads its events
as they arrive. Printed, per case:
- time to first event: from sending the GET to reading the stream's first event (p50, p99);
- delivery latency: for every step, the time from the producer stamping it (time.time() in the
  event) to the client reading it (p50, p99, max);
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

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.examples.backend_server import Backend  # noqa: E402


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def one_stream(client: httpx.AsyncClient, url: str, steps: int) -> tuple[float, list[float]]:
    reply = await client.post(url + "/api/runs", json={"prompt": "bench", "steps": steps})
    reply.raise_for_status()
    events = url + reply.json()["events"]
    sent = time.perf_counter()
    first: float | None = None
    latencies: list[float] = []
    kind = ""
    async with client.stream("GET", events) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            now = time.time()
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                if first is None:
                    first = time.perf_counter() - sent
                if kind == "step":
                    latencies.append(now - json.loads(line[6:])["ts"])
                if kind == "done":
                    break
    assert first is not None and len(latencies) == steps
    return first, latencies


async def case(url: str, streams: int, steps: int) -> tuple[list[float], list[float]]:
    limits = httpx.Limits(max_connections=streams + 5, max_keepalive_connections=streams + 5)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        results = await asyncio.gather(*(one_stream(client, url, steps) for _ in range(streams)))
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
            base_first, base_lat = asyncio.run(case(backend.url, 1, args.steps))
            report("1 stream", base_first, base_lat)
            first, lat = asyncio.run(case(backend.url, args.streams, args.steps))
            report(f"{args.streams} streams", first, lat)
            print(
                f"p99 delivery latency, {args.streams} streams / 1 stream: "
                f"{pct(lat, 0.99) / pct(base_lat, 0.99):.1f}x"
            )
        finally:
            backend.stop()


if __name__ == "__main__":
    main()
