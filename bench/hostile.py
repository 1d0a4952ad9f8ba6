"""The app under attack: a real `crayon serve` on 127.0.0.1 and a hostile mix for N seconds.

Starts `crayon serve` (local settings, a fresh data folder with a small trained model) as a
subprocess, measures its idle memory, then runs at the same time for `--seconds` (60):

- 40 concurrent wrong logins, each from a "new" address: rotating X-Forwarded-For values,
  half of them IPv6 spellings of a few addresses (`2001:db8::1`, `2001:DB8::1`,
  `2001:0db8::0001`, `::ffff:` forms, other hosts of one /64);
- 2 concurrent uploads of a 25-megapixel drawing, repeated;
- 1,000 slow connections that send half a request's headers and then nothing, each opened
  again as soon as the server closes it (1,000 held for the whole run);
- 100 open server-sent-events streams (`/api/events`, logged in);
- a `/healthz` probe every 0.5 s on a fresh connection, from a separate process (like a load
  balancer, it does not share the attackers' event loop), and one ordinary upload a third of
  the way in.

It prints the server's peak RSS (process and children, sampled every 0.2 s from /proc, and
the kernel's VmHWM), /healthz latency p50/p99/max, the outcome of each attack (status counts,
connections closed) and whether the ordinary upload completed, beside the issue's targets
(peak RSS < 400 MiB, every probe < 1 s, the upload completes). It asserts nothing.

`--proxy-hops 1` (the default) runs the app as if behind one trusted proxy (CloudFront): the
forged X-Forwarded-For entries are then believed, i.e. the attacker really has 40 addresses,
the hardest case for the password-check bound. `--proxy-hops 0` is the plain local default,
where X-Forwarded-For is ignored and every attempt counts against 127.0.0.1.

    .venv/bin/python bench/hostile.py [--seconds 60] [--proxy-hops 1]
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import io
import itertools
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing import get_context
from multiprocessing.queues import Queue
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import migrate
from app.analysis.training import save_model, train_generated
from app.settings import Settings
from app.storage.local import LocalStorage

PASSWORD = "bench-admin-password-1"  # noqa: S105 (a throw-away local server)
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
TARGET_RSS_MIB = 400
TARGET_PROBE_S = 1.0
MIB = 1024 * 1024


# -- the server ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare(data_dir: Path) -> None:
    settings = Settings(data_dir=data_dir, admin_password=PASSWORD)
    migrate.upgrade(settings.database_path)
    # A stored model, so the app does not train its built-in one in the background.
    save_model(
        LocalStorage(settings.local_storage_dir),
        train_generated(n_per_group=16, seed=0, long_side=384),
    )


def start_server(data_dir: Path, hops: int) -> tuple[subprocess.Popen[bytes], str, Path]:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CRAYON_")},
        "CRAYON_ENV": "local",
        "CRAYON_DATA_DIR": str(data_dir),
        "CRAYON_PORT": str(port),
        "CRAYON_ADMIN_PASSWORD": PASSWORD,
        "CRAYON_TRUSTED_PROXY_HOPS": str(hops),
        "CRAYON_FORWARDED_ALLOW_IPS": "127.0.0.1",
        "CRAYON_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
    }
    log = data_dir.parent / "server.log"
    crayon = Path(sys.executable).parent / "crayon"
    process = subprocess.Popen(
        [str(crayon), "serve"],
        env=env,
        cwd=data_dir.parent,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"crayon serve exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return process, url, log
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("crayon serve did not answer /healthz within 60 s")


def _descendants(pid: int) -> list[int]:
    found = [pid]
    for p in found:
        try:
            tasks = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{p}/task/{task}/children") as handle:
                    found.extend(int(c) for c in handle.read().split())
            except OSError:
                pass
    return found


def _status_kib(pid: int, field_name: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int, thread: int | None = None) -> float:
    """User + system CPU time of the process (all its threads), from /proc/<pid>/stat; of one
    thread with `thread` (the event loop's is the process's main thread: thread == pid)."""
    path = f"/proc/{pid}/stat" if thread is None else f"/proc/{pid}/task/{thread}/stat"
    try:
        with open(path) as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int) -> int:
    return sum(_status_kib(p, "VmRSS") for p in _descendants(pid)) * 1024


# -- the attacks -----------------------------------------------------------------------------


@dataclass
class Tally:
    statuses: Counter[str] = field(default_factory=Counter)

    def add(self, key: str | int) -> None:
        self.statuses[str(key)] += 1

    def line(self) -> str:
        return ", ".join(f"{k}: {v}" for k, v in sorted(self.statuses.items())) or "none"


def forged_addresses() -> itertools.cycle[str]:
    spellings = []
    for i in range(1, 200):
        spellings.append(f"198.51.{i // 250}.{i % 250 + 1}")
        spellings.append(f"2001:db8:{i:x}::1")
    spellings += [
        "2001:db8::1",
        "2001:DB8::1",
        "2001:0db8:0000::0001",
        "2001:db8::2",
        "2001:db8::ffff:1",
        "::ffff:192.0.2.1",
        "::FFFF:c000:201",
        "192.0.2.1",
    ]
    return itertools.cycle(spellings)


async def wrong_logins(
    url: str, stop: float, tally: Tally, addresses: itertools.cycle[str]
) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        try:
            page = await http.get("/login")
        except httpx.HTTPError:
            tally.add("closed")
            return
        match = _TOKEN.search(page.text)
        token = match.group(1) if match else ""
        n = 0
        while time.monotonic() < stop:
            n += 1
            try:
                r = await http.post(
                    "/login",
                    data={"password": f"wrong-{n}", "csrf_token": token},
                    headers={"X-Forwarded-For": next(addresses)},
                )
                tally.add(r.status_code)
                if r.status_code in (429, 503):
                    # A real attacker would not wait; a short pause keeps this one from
                    # spinning the shared CPU on refusals alone.
                    await asyncio.sleep(0.05)
            except httpx.HTTPError:
                tally.add("closed")
                await asyncio.sleep(0.1)


def big_drawing(megapixels: float = 25.0) -> bytes:
    from PIL import Image, ImageDraw

    side = int((megapixels * 1e6) ** 0.5)
    image = Image.new("RGB", (side, side), "white")
    draw = ImageDraw.Draw(image)
    for i in range(0, side, max(1, side // 40)):
        draw.line((i, 0, side - i, side), fill=(i % 255, 40, 120), width=9)
        draw.ellipse((i, i, i + side // 10, i + side // 12), outline="red", width=7)
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=False)
    return buf.getvalue()


async def uploads(url: str, stop: float, tally: Tally, body: bytes) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=120) as http:
        while time.monotonic() < stop:
            try:
                r = await http.post(
                    "/api/analyses",
                    data={"age_group": "6-8"},
                    files={"file": ("big.png", body, "image/png")},
                )
                tally.add(r.status_code)
            except httpx.HTTPError:
                tally.add("closed")
                await asyncio.sleep(0.5)


async def slow_connections(
    port: int, count: int, stop: float, tally: Tally, held: list[float]
) -> None:
    """`count` connections held open for the whole run: each sends half a request head and
    then nothing; when the server closes one, it is opened again at once (an attacker keeps
    its 1,000 sockets). Tallies who closed them; `held` gets how long each one lasted."""

    async def one(i: int) -> None:
        while time.monotonic() < stop:
            opened_at = time.monotonic()
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                tally.add("refused")
                await asyncio.sleep(0.5)
                continue
            try:
                writer.write(f"GET /?slow={i} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ".encode())
                await writer.drain()
                data = await asyncio.wait_for(reader.read(256), stop - time.monotonic())
            except TimeoutError:
                tally.add("open at the end")
                return
            except OSError:
                data = b""
            finally:
                writer.close()
            held.append(time.monotonic() - opened_at)
            if data.startswith(b"HTTP/1.1 "):
                tally.add(f"answered {data[9:12].decode(errors='replace')}, closed by the server")
            else:
                tally.add("closed by the server")

    await asyncio.gather(*(one(i) for i in range(count)), return_exceptions=True)


async def sse_streams(
    url: str, cookies: httpx.Cookies, count: int, stop: float, tally: Tally
) -> None:
    live: set[int] = set()

    async def one(i: int, http: httpx.AsyncClient) -> None:
        try:
            async with http.stream("GET", "/api/events") as response:
                tally.add(f"HTTP {response.status_code}")
                live.add(i)
                async for line in response.aiter_lines():
                    if line.startswith("event: bye"):
                        tally.add("bye")
            tally.add("ended by the server")
        except httpx.HTTPError:
            tally.add("closed")
        finally:
            live.discard(i)

    limits = httpx.Limits(max_connections=count + 5)
    async with httpx.AsyncClient(
        base_url=url, cookies=cookies, timeout=httpx.Timeout(30, read=None), limits=limits
    ) as http:
        tasks = [asyncio.create_task(one(i, http)) for i in range(count)]
        await asyncio.sleep(max(0.0, stop - time.monotonic()))
        tally.statuses["open at the end"] = len(live)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def probe_process(url: str, stop: float, results: Queue[list[tuple[float, str]]]) -> None:
    """The load balancer's view: a /healthz probe every 0.5 s, each on a fresh connection, from
    a process of its own, so the attackers' event loop in this one cannot delay it (a real
    probe does not queue behind the attacker). Puts a list of (seconds, outcome) on `results`.
    CLOCK_MONOTONIC is system-wide on Linux, so `stop` means the same instant here."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    measured: list[tuple[float, str]] = []
    while time.monotonic() < stop:
        started = time.perf_counter()
        # http.client, not httpx: a new httpx client builds an SSL context (tens of ms of CPU)
        # that would be counted as the server's latency.
        conn = http.client.HTTPConnection(host, int(port), timeout=5)
        try:
            conn.request("GET", "/healthz")
            response = conn.getresponse()
            response.read()
            outcome = "ok" if response.status == 200 else str(response.status)
        except (OSError, http.client.HTTPException) as exc:
            outcome = type(exc).__name__
        finally:
            conn.close()
        took = time.perf_counter() - started
        measured.append((took, outcome))
        time.sleep(max(0.0, 0.5 - took))
    results.put(measured)


async def probes(url: str, stop: float, latencies: list[float], failures: Tally) -> None:
    results: Queue[list[tuple[float, str]]] = get_context("spawn").Queue()
    process = get_context("spawn").Process(target=probe_process, args=(url, stop, results))
    process.start()
    try:
        measured = await asyncio.to_thread(results.get, True, stop - time.monotonic() + 30)
    finally:
        await asyncio.to_thread(process.join, 10)
    for took, outcome in measured:
        latencies.append(took)
        if outcome != "ok":
            failures.add(outcome)


async def ordinary_upload(url: str, delay: float) -> tuple[str, float]:
    from PIL import Image, ImageDraw

    await asyncio.sleep(delay)
    image = Image.new("RGB", (640, 480), "white")
    ImageDraw.Draw(image).rectangle((100, 100, 400, 300), outline="black", width=5)
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        try:
            r = await http.post(
                "/api/analyses",
                data={"age_group": "6-8"},
                files={"file": ("d.png", buf.getvalue(), "image/png")},
            )
            outcome = f"HTTP {r.status_code}"
        except httpx.HTTPError as exc:
            outcome = f"failed ({type(exc).__name__})"
    return outcome, time.perf_counter() - started


async def sample_rss(pid: int, stop_event: asyncio.Event, peaks: list[int]) -> None:
    while not stop_event.is_set():
        peaks.append(rss_bytes(pid))
        await asyncio.sleep(0.2)


async def admin_cookies(url: str) -> httpx.Cookies:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        page = await http.get("/login")
        match = _TOKEN.search(page.text)
        assert match, "no login form"
        r = await http.post("/login", data={"password": PASSWORD, "csrf_token": match.group(1)})
        if r.status_code not in (200, 303):
            raise SystemExit(f"admin login failed: HTTP {r.status_code}")
        return http.cookies


async def attack(url: str, port: int, pid: int, args: argparse.Namespace) -> dict:
    seconds, slow, sse = args.seconds, args.slow, args.sse
    cookies = await admin_cookies(url)
    body = await asyncio.to_thread(big_drawing)
    stop_sampling = asyncio.Event()
    rss: list[int] = []
    sampler = asyncio.create_task(sample_rss(pid, stop_sampling, rss))
    tallies = {name: Tally() for name in ("logins", "uploads", "slow", "sse", "probe failures")}
    latencies: list[float] = []
    held: list[float] = []
    stop = time.monotonic() + seconds
    cpu_before, loop_before = cpu_seconds(pid), cpu_seconds(pid, pid)
    addresses = forged_addresses()
    tasks = [
        asyncio.create_task(slow_connections(port, slow, stop, tallies["slow"], held)),
        asyncio.create_task(sse_streams(url, cookies, sse, stop, tallies["sse"])),
        asyncio.create_task(probes(url, stop, latencies, tallies["probe failures"])),
        *[
            asyncio.create_task(wrong_logins(url, stop, tallies["logins"], addresses))
            for _ in range(args.logins)
        ],
        *[
            asyncio.create_task(uploads(url, stop, tallies["uploads"], body))
            for _ in range(args.uploads)
        ],
    ]
    upload = asyncio.create_task(ordinary_upload(url, seconds / 3))
    await asyncio.gather(*tasks, return_exceptions=True)
    cpu_used = cpu_seconds(pid) - cpu_before
    loop_used = cpu_seconds(pid, pid) - loop_before
    outcome = await upload
    stop_sampling.set()
    await sampler
    return {
        "rss": rss,
        "hwm": _status_kib(pid, "VmHWM") * 1024,
        "latencies": latencies,
        "tallies": tallies,
        "upload": outcome,
        "upload_bytes": len(body),
        "cpu": cpu_used,
        "held": held,
        "loop_cpu": loop_used,
    }


def report(baseline: int, result: dict, args: argparse.Namespace) -> None:
    peak = max(result["rss"] or [0])
    lat = sorted(result["latencies"])
    p50 = statistics.median(lat) if lat else float("nan")
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else float("nan")
    worst = lat[-1] if lat else float("nan")
    slow_probes = sum(1 for x in lat if x > TARGET_PROBE_S)
    probes_ok = slow_probes == 0 and not result["tallies"]["probe failures"].statuses
    outcome, took = result["upload"]
    ok = "yes" if outcome == "HTTP 201" else "no"
    mode = (
        f"behind {args.proxy_hops} trusted proxy hop(s): forged X-Forwarded-For believed"
        if args.proxy_hops
        else "no trusted proxy: X-Forwarded-For ignored"
    )
    print(f"crayon serve under a hostile mix for {args.seconds:.0f} s ({mode})")
    print(
        f"  memory   idle RSS {baseline / MIB:.0f} MiB; peak RSS (process+children, sampled) "
        f"{peak / MIB:.0f} MiB = {peak / max(baseline, 1):.2f}x idle; kernel VmHWM "
        f"{result['hwm'] / MIB:.0f} MiB   [target: peak < {TARGET_RSS_MIB} MiB: "
        f"{'met' if peak < TARGET_RSS_MIB * MIB else 'NOT met'}]"
    )
    print(
        f"  cpu      the server used {result['cpu']:.1f} s of CPU in {args.seconds:.0f} s "
        f"({result['cpu'] / args.seconds:.2f} cores; its event-loop thread "
        f"{result['loop_cpu']:.1f} s); machine load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    print(
        f"  /healthz {len(lat)} probes: p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
        f"max {worst * 1000:.0f} ms; {slow_probes} over 1 s; failures: "
        f"{result['tallies']['probe failures'].line()}   [target: every probe < 1 s: "
        f"{'met' if probes_ok else 'NOT met'}]"
    )
    print(
        f"  logins   {args.logins} workers, rotating X-Forwarded-For / IPv6 spellings: "
        f"{result['tallies']['logins'].line()}"
    )
    print(
        f"  uploads  {args.uploads} workers, {result['upload_bytes'] / MIB:.1f} MB 25-MP PNG: "
        f"{result['tallies']['uploads'].line()}"
    )
    held = sorted(result["held"])
    lasted = (
        f"; a closed one lasted p50 {statistics.median(held):.1f} s, max {held[-1]:.1f} s"
        if held
        else ""
    )
    print(
        f"  slow     {args.slow} half-sent requests held open (reopened when closed): "
        f"{result['tallies']['slow'].line()}{lasted}"
    )
    print(f"  sse      {args.sse} streams: {result['tallies']['sse'].line()}")
    print(
        f"  ordinary upload at t={args.seconds / 3:.0f} s: {outcome} in {took:.1f} s; "
        f"completed: {ok}   [target: completes]"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--proxy-hops", type=int, default=1, choices=(0, 1))
    parser.add_argument("--slow", type=int, default=1000, help="slow connections (1000)")
    parser.add_argument("--sse", type=int, default=100, help="open event streams (100)")
    parser.add_argument("--uploads", type=int, default=2, help="25-MP upload workers (2)")
    parser.add_argument("--logins", type=int, default=40, help="wrong-login workers (40)")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder and log")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="crayon-hostile-"))
    data_dir = tmp / "data"
    prepare(data_dir)
    process, url, log = start_server(data_dir, args.proxy_hops)
    try:
        time.sleep(2)
        httpx.get(url + "/", timeout=10)  # warm the templates
        baseline = rss_bytes(process.pid)
        port = int(url.rsplit(":", 1)[1])
        result = asyncio.run(attack(url, port, process.pid, args))
        alive = process.poll() is None
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
    report(baseline, result, args)
    print(
        f"  server   {'still running at the end' if alive else 'DIED during the run'}; "
        f"log: {log if args.keep else '(removed; --keep to keep it)'}"
    )
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
