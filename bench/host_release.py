"""Release time and throughput on a systemd host limited like a t3.micro and like a Fargate task.

    .venv/bin/python bench/host_release.py          # t3.micro then fargate, ~8-12 min here
    .venv/bin/python bench/host_release.py --sizes fargate --seconds 30 --clients 8

One stand-in host of tests/host (the same image from scripts/podman-systemd-image.sh and the
same harness, tests/host/hostkit.py: the real playbook, playbooks/host.yml with
inventories/local-host, and a moto server of its own on loopback as S3 and Secrets Manager) is
started with podman `--cpus/--memory` of the first size (t3.micro: 1 CPU, 1 GB; fargate:
0.25 CPU, 512 MB) and later resized with `podman update` to the next ones, the app restarted
under each. For each size the limits are first read back from the container's cgroup (v1 or
v2); a size whose limits are not in force is reported and skipped (exit 2), never printed as
if it were limited. Then:

1. (once) version 1 is deployed with the whole role, and `crayon demo ensure` fills /demo;
2. release (at the first size; at every size with --release-every-size): under a steady load
   (--release-clients readers, a fresh connection per request, 20 ms apart, over GET /healthz,
   /readyz, /, /demo, plus one uploader posting an analysis every --upload-pause s), the next
   version is shipped twice: first the baseline, the whole role (`playbooks/host.yml --tags
   app_host_release`: settings, credentials, env file, units, tool, release, services), then
   the fast path (`playbooks/release.yml`: one transfer of the pyz and one `crayon-release
   deploy` on the host), and both times are printed with their ratio, with where the time went
   (ansible-playbook in all, its tasks, the release tool's own steps on the host). A watcher
   polls /readyz: the release time runs from the start of ansible-playbook to the first 200
   from a process that was not serving at its start (told from the container's cgroup), and
   the process then serving must be the new build (its shiv folder in /proc/PID/maps). A
   failed request (not 200/201, a reset, a timeout), a failed playbook or a new version that
   never serves fails the bench (exit 1) with the units' journal;
3. throughput: --clients readers without pause over the same GET mix plus --upload-clients
   uploaders (POST /api/analyses, a 256x256 PNG; durable acknowledgement, as the inventory
   sets it), after --warmup s, for --seconds: requests/s, p50 and p99 per request kind and in
   all, the CPU the container used (its cgroup) and how often it was throttled, the app's
   peak RSS and the container's memory, and the CPU this load generator used.

The host's load average and CPU count are printed beside the figures: the machine is shared,
and ansible, moto and this load generator share its CPUs with the container, so throughput is
a floor for the size, not a ceiling, and release times include the machine's contention.
"""

from __future__ import annotations

import argparse
import http.client
import os
import platform
import re
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.host import hostkit  # noqa: E402
from tests.support.playbook import PlaybookRun  # noqa: E402

SIZES: dict[str, tuple[str, str]] = {
    "t3.micro": ("1", "1g"),
    "fargate": ("0.25", "512m"),
}
READ_PATHS = ("/healthz", "/readyz", "/", "/demo")
UPLOAD = "POST /api/analyses"
APP_UNIT = "crayon.service"
APP_PYTHON = "/usr/bin/python3.11"
APP_PYZ = "/opt/crayon/current/crayon.pyz"
# How crayon-release runs the build as the app user (roles/app_host/files/crayon_release.py).
RUN_AS_APP = (
    "systemd-run",
    "--quiet",
    "--wait",
    "--pipe",
    "--collect",
    "--property=User=crayon",
    "--property=Group=crayon",
    "--property=EnvironmentFile=/etc/crayon/crayon.env",
    "--property=WorkingDirectory=/var/lib/crayon",
    "--",
)


class Lines:
    """Figure lines, printed as they are added (so a crash loses none) and kept for the end."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, *lines: str) -> None:
        for line in lines:
            say(line)
            self.items.append(line)


class BenchFailure(Exception):
    """A figure could not be measured honestly; the message says why."""


def stamp() -> str:
    now = time.time()
    return time.strftime("%H:%M:%S", time.localtime(now)) + f".{int(now % 1 * 10)}"


def say(text: str = "") -> None:
    print(text, flush=True)


def machine() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


def parse_bytes(size: str) -> int:
    units = {"k": 1024, "m": 1024**2, "g": 1024**3}
    unit = size[-1].lower()
    return int(float(size[:-1]) * units[unit]) if unit in units else int(size)


# --- the container's cgroup, read from this machine's side --------------------------------


@dataclass
class Cgroup:
    """The cgroup podman made for one container (v1 "hybrid" or v2), read from the host."""

    version: int
    path: str

    @classmethod
    def of(cls, container: str, env: dict[str, str]) -> Cgroup:
        out = subprocess.run(
            ["podman", "inspect", "-f", "{{.State.CgroupPath}}", container],
            capture_output=True,
            text=True,
            env=os.environ | env,
            check=False,
        )
        path = out.stdout.strip()
        if out.returncode != 0 or not path.startswith("/"):
            raise BenchFailure(f"podman gave no cgroup path for {container}: {out.stderr.strip()}")
        version = 2 if Path("/sys/fs/cgroup/cgroup.controllers").exists() else 1
        return cls(version, path)

    def _dir(self, controller: str) -> Path:
        if self.version == 2:
            return Path("/sys/fs/cgroup" + self.path)
        return Path(f"/sys/fs/cgroup/{controller}{self.path}")

    def _read(self, controller: str, name: str) -> str:
        return (self._dir(controller) / name).read_text().strip()

    def _stat(self) -> dict[str, int]:
        lines = self._read("cpu", "cpu.stat").splitlines()
        return {k: int(v) for k, v in (line.split() for line in lines)}

    def cpu_limit(self) -> float | None:
        """CPUs the container may use per period; None when unlimited."""
        if self.version == 2:
            max_quota, max_period = self._read("cpu", "cpu.max").split()
            return None if max_quota == "max" else int(max_quota) / int(max_period)
        quota = int(self._read("cpu", "cpu.cfs_quota_us"))
        period = int(self._read("cpu", "cpu.cfs_period_us"))
        return None if quota < 0 else quota / period

    def memory_limit(self) -> int | None:
        raw = self._read("memory", "memory.max" if self.version == 2 else "memory.limit_in_bytes")
        if raw == "max" or int(raw) >= 2**62:
            return None
        return int(raw)

    def cpu_seconds(self) -> float:
        if self.version == 2:
            return self._stat()["usage_usec"] / 1e6
        return int(self._read("cpuacct", "cpuacct.usage")) / 1e9

    def throttling(self) -> tuple[int, int]:
        """(periods, periods throttled) so far."""
        stat = self._stat()
        return stat.get("nr_periods", 0), stat.get("nr_throttled", 0)

    def memory_now(self) -> int | None:
        """Bytes charged to the container now, page cache included."""
        name = "memory.current" if self.version == 2 else "memory.usage_in_bytes"
        try:
            return int(self._read("memory", name))
        except (OSError, ValueError):
            return None

    def pids(self) -> list[int]:
        """Every process in the container's cgroup, sub-groups included (the inner systemd's)."""
        found: list[int] = []
        for procs in self._dir("pids" if self.version == 1 else "").rglob("cgroup.procs"):
            try:
                found += [int(p) for p in procs.read_text().split()]
            except OSError:
                continue
        return found

    def check_limits(self, cpus: str, memory: str) -> str | None:
        """Why the requested limits are not in force, or None when they are."""
        try:
            cpu = self.cpu_limit()
            mem = self.memory_limit()
        except (OSError, ValueError, KeyError) as exc:
            return f"cannot read the container's cgroup v{self.version} {self.path}: {exc}"
        problems = []
        if cpu is None or abs(cpu - float(cpus)) > 0.01 * float(cpus):
            problems.append(f"CPU quota is {cpu} CPUs, asked {cpus}")
        if mem != parse_bytes(memory):
            problems.append(f"memory limit is {mem} bytes, asked {memory}")
        return "; ".join(problems) or None

    def describe(self) -> str:
        return (
            f"cgroup v{self.version} {self.path}: "
            f"cpu {self.cpu_limit()} CPUs, memory {(self.memory_limit() or 0) / 2**20:.0f} MiB"
        )


def app_processes(cgroup: Cgroup) -> list[int]:
    """Host PIDs of `crayon.pyz serve` processes inside the container's cgroup."""
    found = []
    for pid in cgroup.pids():
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(a.endswith(b"crayon.pyz") for a in argv) and b"serve" in argv:
            found.append(pid)
    return found


def process_age(pid: int) -> float:
    """Seconds since the process started (0 when it is gone)."""
    try:
        start_ticks = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0
    return max(0.0, uptime - start_ticks / os.sysconf("SC_CLK_TCK"))


def peak_rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def serving_build(cgroup: Cgroup, tag: str) -> tuple[bool, str]:
    """Whether the one app process maps files from the shiv folder of the build tagged `tag`."""
    pids = app_processes(cgroup)
    if len(pids) != 1:
        return False, f"expected one app process in the container, found {pids}"
    try:
        maps = Path(f"/proc/{pids[0]}/maps").read_text()
    except OSError as exc:
        return False, f"cannot read the app's maps: {exc}"
    return f"-{tag}/site-packages/" in maps, f"pid {pids[0]}"


# --- load -------------------------------------------------------------------------------------


def fail_reason(status: int, expected: int) -> str | None:
    return None if status == expected else f"HTTP {status}"


class MixLoad:
    """Bounded closed-loop load: `readers` threads cycling over GET `paths` (fresh connection
    per request, as hostkit.LoadGenerator) and `uploaders` threads posting analyses, until
    stop() or `max_seconds`. Results per request kind as hostkit.LoadResult."""

    def __init__(
        self,
        url: str,
        *,
        readers: int,
        uploaders: int,
        pause: float = 0.0,
        upload_pause: float = 0.0,
        paths: tuple[str, ...] = READ_PATHS,
        max_seconds: float = 300.0,
        timeout: float = 60.0,
    ) -> None:
        self.url, self.paths, self.timeout = url, paths, timeout
        self.readers, self.uploaders = readers, uploaders
        self.pause, self.upload_pause, self.max_seconds = pause, upload_pause, max_seconds
        self.pngs = [hostkit.drawing_png(seed) for seed in range(8)]
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._records: dict[str, list[tuple[float, str | None]]] = {}
        self._started = 0.0

    def _record(self, kind: str, latency: float, problem: str | None) -> None:
        with self._lock:
            self._records.setdefault(kind, []).append((latency, problem))

    def _loop(self, kinds: list[tuple[str, Callable[[], str | None]]], pause: float) -> None:
        deadline = self._started + self.max_seconds
        i = 0
        while not self._stop.is_set() and time.monotonic() < deadline:
            kind, send = kinds[i % len(kinds)]
            i += 1
            began = time.monotonic()
            try:
                problem = send()
            except OSError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            if problem:
                problem = f"{stamp()} {kind}: {problem}"
            self._record(kind, time.monotonic() - began, problem)
            if pause:
                self._stop.wait(pause)

    def _get(self, path: str) -> Callable[[], str | None]:
        return lambda: fail_reason(hostkit.get(self.url, path, timeout=self.timeout)[0], 200)

    def _post(self, n: int) -> Callable[[], str | None]:
        png = self.pngs[n % len(self.pngs)]
        return lambda: fail_reason(
            hostkit.post_analysis(self.url, png, timeout=self.timeout)[0], 201
        )

    def start(self) -> MixLoad:
        self._started = time.monotonic()
        gets = [(f"GET {p}", self._get(p)) for p in self.paths]
        for n in range(self.readers):
            rotated = gets[n % len(gets) :] + gets[: n % len(gets)]
            self._spawn(rotated, self.pause)
        for n in range(self.uploaders):
            self._spawn([(UPLOAD, self._post(n))], self.upload_pause)
        return self

    def _spawn(self, kinds: list[tuple[str, Callable[[], str | None]]], pause: float) -> None:
        thread = threading.Thread(target=self._loop, args=(kinds, pause), daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self) -> dict[str, hostkit.LoadResult]:
        self._stop.set()
        for thread in self._threads:
            thread.join(self.timeout + 5)
        seconds = time.monotonic() - self._started
        results = {}
        everything: list[tuple[float, str | None]] = []
        for kind, records in sorted(self._records.items()):
            everything += records
            results[kind] = _result(records, seconds)
        results["all"] = _result(everything, seconds)
        return results


def _result(records: list[tuple[float, str | None]], seconds: float) -> hostkit.LoadResult:
    errors = [problem for _, problem in records if problem]
    return hostkit.LoadResult(
        sent=len(records),
        failed=len(errors),
        errors=errors[:20],
        latencies=[latency for latency, _ in records],
        seconds=seconds,
    )


class ReadyWatch:
    """Polls /readyz; notes when the new process (one that was not serving at the start)
    first answers 200.

    The public /readyz says only "ready", so the answering process is told from the
    container's cgroup: a 200 counts as the new build's when, just before the probe, the only
    app process was one that did not exist at the start (the old one had gone, so it cannot
    have answered). `serving_build` checks afterwards that this process maps the new build.
    """

    def __init__(self, url: str, cgroup: Cgroup, since: float, interval: float) -> None:
        self.url, self.cgroup, self.since, self.interval = url, cgroup, since, interval
        self.old_pids = set(app_processes(cgroup))
        self.ready_at: float | None = None
        self.ready_uptime = 0.0
        self.last_old_at: float | None = None
        self.probes = 0
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _probe(self) -> None:
        before = app_processes(self.cgroup)
        host, port = self.url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        try:
            conn.request("GET", "/readyz", headers={"Connection": "close"})
            response = conn.getresponse()
            body = response.read()
            now = time.monotonic()
        finally:
            conn.close()
        self.probes += 1
        if response.status != 200:
            self.failures.append(f"{stamp()} /readyz HTTP {response.status}: {body[:300]!r}")
            return
        if before and set(before) <= self.old_pids:
            self.last_old_at = now
        elif len(before) == 1 and self.ready_at is None:
            self.ready_at, self.ready_uptime = now, process_age(before[0])

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._probe()
            except (OSError, ValueError, KeyError) as exc:
                self.probes += 1
                self.failures.append(f"{stamp()} /readyz {type(exc).__name__}: {exc}")
            self._stop.wait(self.interval)

    def start(self) -> ReadyWatch:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(70)


# --- one size ---------------------------------------------------------------------------------


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def load_lines(results: dict[str, hostkit.LoadResult]) -> list[str]:
    lines = []
    for kind, r in results.items():
        lines.append(
            f"    {kind:<22} {r.sent:>6} sent {r.failed:>3} failed {r.rps:>7.1f} req/s  "
            f"p50 {fmt_ms(r.percentile(50)):>8}  p99 {fmt_ms(r.percentile(99)):>8}  "
            f"max {fmt_ms(max(r.latencies, default=0)):>8}"
        )
    return lines


def wait_uploads(url: str, timeout: float) -> float:
    """Seconds until an analysis is accepted (a fresh install prepares its model first)."""
    started = time.monotonic()
    png = hostkit.drawing_png(99)
    while True:
        status, body = hostkit.post_analysis(url, png)
        if status == 201:
            return time.monotonic() - started
        if status != 503 or time.monotonic() - started > timeout:
            raise BenchFailure(f"uploads refused: HTTP {status} {body}")
        time.sleep(1)


PATHS = {
    "fast": "fast path, playbooks/release.yml (one transfer + crayon-release deploy)",
    "role": "whole role, playbooks/host.yml --tags app_host_release",
}


def ship(
    host: hostkit.Host, how: str, version: str, build: Path, args: argparse.Namespace
) -> tuple[int, str, float]:
    if how == "fast":
        return host.release(version, build, "-e", f"app_host_ready_timeout={args.ready_timeout}")
    return host.deploy(
        version, build, "--tags", "app_host_release", ready_timeout=args.ready_timeout
    )


def release(
    host: hostkit.Host,
    cgroup: Cgroup,
    version: str,
    build: Path,
    args: argparse.Namespace,
    how: str = "fast",
) -> tuple[list[str], str, float | None]:
    """Ship `build` the `how` way (PATHS) under load: (figure lines, outcome, seconds from
    command start to the new version answering /readyz), the outcome "clean", "failed"
    (requests failed, the new build serves) or "broken" (it does not)."""
    load = MixLoad(
        host.url,
        readers=args.release_clients,
        uploaders=1 if args.upload_pause else 0,
        pause=0.02,
        upload_pause=args.upload_pause,
        max_seconds=1200,
    ).start()
    time.sleep(2)
    at_start = machine()
    since = time.monotonic()
    watch = ReadyWatch(host.url, cgroup, since, args.poll).start()
    since_wall = time.time()
    say(f"    {PATHS[how]} starts at {stamp()}")
    rc, out, playbook = ship(host, how, version, build, args)
    if args.log_dir:
        (args.log_dir / f"{host.name}-{version}.log").write_text(out)
    run = PlaybookRun(rc, out, {})
    handlers = [
        line[len("RUNNING HANDLER [") : line.rfind("]")]
        for line in out.splitlines()
        if line.startswith("RUNNING HANDLER [")
    ]
    grace = time.monotonic() + 30
    while watch.ready_at is None and time.monotonic() < grace:
        time.sleep(0.2)
    time.sleep(2)
    watch.stop()
    during = load.stop()
    is_new, which = serving_build(cgroup, build.parent.name)
    lines = [f"  release of {version}, {PATHS[how]}, under load ({at_start} at its start):"]
    if watch.ready_at is not None:
        lines.append(
            f"    RELEASE TIME ({how}), command start -> new version answers /readyz 200: "
            f"{watch.ready_at - since:.1f} s (the playbook ran {playbook:.1f} s in all)"
        )
        if watch.last_old_at is not None:
            lines.append(
                f"    last answer of the old process -> first of the new: "
                f"{watch.ready_at - watch.last_old_at:.1f} s (the new process was "
                f"{watch.ready_uptime:.1f} s old when first ready)"
            )
    lines.append(f"    tasks changed: {run.changed_tasks()}; handlers run: {handlers}")
    lines.append(f"    where the time went: {time_split(out, playbook)}")
    lines += load_lines(during)
    lines.append(
        f"    REQUESTS DURING RELEASE: {during['all'].sent} sent, {during['all'].failed} failed "
        f"(+ {watch.probes} readiness probes, {len(watch.failures)} failed)"
    )
    failures = []
    if rc != 0:
        failures.append(f"the release playbook failed (exit {rc}):\n{out[-3000:]}")
    if watch.ready_at is None:
        failures.append("the new version never answered /readyz 200")
    if not is_new:
        failures.append(f"the process serving is not the new build ({which})")
    if during["all"].failed or watch.failures:
        failures.append(
            f"{during['all'].failed} requests and {len(watch.failures)} probes failed "
            f"during the release: {during['all'].errors[:5]} {watch.failures[:5]}"
        )
    lines += [f"  RELEASE FAILED: {f}" for f in failures]
    serving = rc == 0 and watch.ready_at is not None and is_new
    if failures:
        lines.append("  journal of the units since the playbook started (access logs left out):")
        lines += [f"    {line}" for line in unit_journal(host, since_wall)]
    outcome = "clean" if not failures else "failed" if serving else "broken"
    return lines, outcome, (watch.ready_at - since) if watch.ready_at is not None else None


def time_split(out: str, playbook: float) -> str:
    """ansible-playbook in all, the play's tasks (the summary callback's `Took`), and the
    release tool's own steps on the host (its message), from the playbook's output."""
    took = re.search(r"^Took ([0-9.]+) s\.", out, re.M)
    host = re.search(r"after ([0-9.]+) s on the host \(([^)]*)\)", " ".join(out.split()))
    parts = [f"ansible-playbook {playbook:.1f} s"]
    if took:
        parts.append(f"its tasks {took.group(1)} s (the rest: start-up and exit)")
    if host:
        parts.append(f"crayon-release on the host {host.group(1)} s ({host.group(2)})")
    return "; ".join(parts)


def unit_journal(host: hostkit.Host, since_wall: float, keep: int = 40) -> list[str]:
    """The app's, its socket's and Litestream's journal since then, without access logs."""
    out = host.exec(
        *("journalctl", "-o", "short-precise", "--no-pager", f"--since=@{int(since_wall)}"),
        *("-u", "litestream.service", "-u", APP_UNIT, "-u", "crayon.socket"),
        check=False,
    )
    quiet = ('"logger":"crayon.access"', '"_aws":')
    return [line for line in out.stdout.splitlines() if not any(q in line for q in quiet)][-keep:]


def resize(host: hostkit.Host, env: dict[str, str], cpus: str, memory: str) -> str | None:
    """Apply new limits to the running host (podman update); why not, or None."""
    out = subprocess.run(
        [
            "podman",
            "update",
            "--cpus",
            cpus,
            "--memory",
            memory,
            "--memory-swap",
            memory,
            host.name,
        ],
        capture_output=True,
        text=True,
        env=os.environ | env,
        check=False,
    )
    return None if out.returncode == 0 else f"podman update failed: {out.stderr.strip()}"


def run(args: argparse.Namespace, env: dict[str, str], pyz: Path, work: Path) -> tuple[Lines, int]:
    """One host, started at the first size and resized to the next ones; (lines, exit code)."""
    run_id = uuid.uuid4().hex[:6]
    first_cpus, first_memory = SIZES[args.sizes[0]]
    moto = hostkit.start_moto(work / "moto.log")
    host = hostkit.Host(
        moto, env, cpus=first_cpus, memory=first_memory, name=f"bench-release-{run_id}"
    )
    lines = Lines()
    lines.add(f"host {host.name}: started with podman --cpus {first_cpus} --memory {first_memory}")
    code = 0
    builds: dict[int, Path] = {}

    def build(n: int) -> Path:
        if n not in builds:
            tag = f"b{run_id}v{n}"
            builds[n] = hostkit.variant(pyz, work / tag / "crayon.pyz", tag)
        return builds[n]

    try:
        host.start()
        cgroup = Cgroup.of(host.name, env)
        problem = cgroup.check_limits(first_cpus, first_memory)
        if problem:
            lines.add(f"LIMITS NOT IN FORCE, no figures: {problem}")
            return lines, 2
        say(f"[{args.sizes[0]}] first deploy (whole role) ... {machine()}")
        rc, out, first = host.deploy("bench-1", build(1), ready_timeout=args.ready_timeout)
        if rc != 0:
            raise BenchFailure(f"the first deploy failed (exit {rc}):\n{out[-3000:]}")
        hostkit.wait_ready(host.url)
        lines.add(f"first deploy (whole role, {args.sizes[0]} limits): {first:.1f} s")
        if not app_processes(cgroup):
            raise BenchFailure("the app process is not inside the container's limited cgroup")
        if args.demo:
            began = time.monotonic()
            demo = host.exec(*RUN_AS_APP, APP_PYTHON, APP_PYZ, "demo", "ensure", check=False)
            if demo.returncode != 0:
                raise BenchFailure(f"crayon demo ensure failed: {demo.stdout}{demo.stderr}")
            lines.add(f"crayon demo ensure (fills /demo): {time.monotonic() - began:.1f} s")
        if args.upload_clients or args.upload_pause:
            lines.add(f"uploads accepted after {wait_uploads(host.url, 300):.1f} s more")
        version = 1
        for i, size in enumerate(args.sizes):
            cpus, memory = SIZES[size]
            lines.add(f"== {size}: --cpus {cpus} --memory {memory}")
            problem = resize(host, env, cpus, memory) if i else None
            if i and problem is None:
                # The app starts again under the new limits, as it would on that size.
                began = time.monotonic()
                host.exec("systemctl", "restart", APP_UNIT)
                hostkit.wait_ready(host.url, timeout=120)
                lines.add(
                    f"  applied with podman update; app restarted under them, ready in "
                    f"{time.monotonic() - began:.1f} s"
                )
            problem = problem or cgroup.check_limits(cpus, memory)
            if problem:
                lines.add(f"  LIMITS NOT IN FORCE, no figures for this size: {problem}")
                code = max(code, 2)
                continue
            lines.add(f"  limits read back: {cgroup.describe()}")
            if i == 0 or args.release_every_size:
                took: dict[str, float | None] = {}
                # The baseline first (the whole role), then the fast path, on the same host
                # under the same load: the ratio compares like with like.
                for how in ("role", "fast"):
                    version += 1
                    say(f"[{size}] release under load, {PATHS[how]} ... {machine()}")
                    release_lines, outcome, took[how] = release(
                        host, cgroup, f"bench-{version}", build(version), args, how
                    )
                    lines.add(*release_lines)
                    if outcome != "clean":
                        code = 1
                    if outcome == "broken":
                        return lines, code
                role_s, fast_s = took["role"], took["fast"]
                if role_s and fast_s:
                    lines.add(
                        f"  RELEASE TIME: fast path {fast_s:.1f} s vs whole role {role_s:.1f} s "
                        f"(baseline): {role_s / fast_s:.1f}x faster; goal under 20 s: "
                        + ("met" if fast_s < 20 else "NOT met")
                    )
            say(f"[{size}] throughput ... {machine()}")
            warm = MixLoad(host.url, readers=args.clients, uploaders=args.upload_clients).start()
            time.sleep(args.warmup)
            warm.stop()
            steady = MixLoad(
                host.url,
                readers=args.clients,
                uploaders=args.upload_clients,
                max_seconds=args.seconds,
            )
            size_lines, clean = throughput(steady, args, cgroup)
            lines.add(*size_lines)
            code = max(code, 0 if clean else 1)
        return lines, code
    except BenchFailure as exc:
        lines.add(f"FAILED: {exc}")
        return lines, 1
    finally:
        host.destroy()
        moto.stop()


def throughput(steady: MixLoad, args: argparse.Namespace, cgroup: Cgroup) -> tuple[list[str], bool]:
    """Closed-loop load for --seconds; (figure lines, whether no request failed)."""
    before_cpu, before_thr = cgroup.cpu_seconds(), cgroup.throttling()
    own_before = resource.getrusage(resource.RUSAGE_SELF)
    began_load = machine()
    began = time.monotonic()
    steady.start()
    time.sleep(args.seconds)
    results = steady.stop()
    wall = time.monotonic() - began
    own_after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cgroup.cpu_seconds() - before_cpu) / wall
    periods = cgroup.throttling()[0] - before_thr[0]
    throttled = cgroup.throttling()[1] - before_thr[1]
    own_cpu = own_after.ru_utime + own_after.ru_stime - own_before.ru_utime - own_before.ru_stime
    own = own_cpu / wall
    pids = app_processes(cgroup)
    rss = peak_rss_mib(pids[0]) if pids else None
    charged = cgroup.memory_now()
    lines = [
        f"  throughput: {args.clients} readers + {args.upload_clients} uploaders, no pause, "
        f"{args.seconds:.0f} s ({began_load} at its start, {machine()} at its end):"
    ]
    lines += load_lines(results)
    lines.append(
        f"    container CPU {cpu:.2f} of its {cgroup.cpu_limit()} "
        f"(throttled in {throttled} of {periods} periods); app peak RSS "
        f"{rss or 0:.0f} MiB, container memory at the end {(charged or 0) / 2**20:.0f} MiB "
        f"(page cache included); "
        f"this load generator used {own:.2f} CPU"
    )
    limit = cgroup.cpu_limit() or 0
    if limit and cpu < 0.8 * limit:
        lines.append(
            f"    the container used {cpu / limit:.0%} of its CPU quota: the bottleneck was this "
            f"shared machine (or the clients), not the size; these figures are a floor"
        )
    elif limit:
        lines.append(
            f"    the container used its CPU quota ({cpu / limit:.0%}): the size bounded this"
        )
    if results["all"].failed:
        lines.append(f"  FAILED requests under throughput load: {results['all'].errors[:5]}")
    return lines, not results["all"].failed


# --- main -------------------------------------------------------------------------------------


def build_pyz(out: Path) -> Path:
    """The current sources as a single-file build, made apart from dist/ (others use it)."""
    say("host_release: building the pyz (scripts/build-pyz.sh) ...")
    subprocess.run(
        ["bash", str(ROOT / "scripts" / "build-pyz.sh")],
        env=os.environ | {"CRAYON_PYZ_OUTPUT": str(out)},
        check=True,
        capture_output=True,
        timeout=900,
    )
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default=",".join(SIZES), help="comma list of: " + ", ".join(SIZES))
    p.add_argument("--seconds", type=float, default=20, help="throughput window (20)")
    p.add_argument("--warmup", type=float, default=3, help="unmeasured load before it (3)")
    p.add_argument("--clients", type=int, default=8, help="throughput readers (8)")
    p.add_argument("--upload-clients", type=int, default=1, help="throughput uploaders (1)")
    p.add_argument("--release-clients", type=int, default=4, help="readers during release (4)")
    p.add_argument(
        "--upload-pause", type=float, default=1.0, help="s between uploads in release, 0=none"
    )
    p.add_argument("--poll", type=float, default=0.25, help="s between /readyz probes (0.25)")
    p.add_argument(
        "--ready-timeout", type=int, default=30, help="app_host_ready_timeout of the deploys (30)"
    )
    p.add_argument(
        "--release-every-size",
        action="store_true",
        help="ship another release after each resize too (default: at the first size only)",
    )
    p.add_argument("--no-demo", dest="demo", action="store_false", help="skip demo ensure")
    p.add_argument("--log-dir", type=Path, help="write the release playbooks' output here")
    p.add_argument("--pyz", type=Path, help="use this build (default: build one)")
    args = p.parse_args(argv)
    args.sizes = [s for s in args.sizes.split(",") if s]
    unknown = set(args.sizes) - set(SIZES)
    if unknown:
        p.error(f"unknown sizes {sorted(unknown)}; known: {', '.join(SIZES)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so containers are removed
    started = time.monotonic()
    say(f"host_release: {platform.node()}, {machine()}")
    reason = hostkit.tools_available()
    if reason:
        say(f"host_release: CANNOT RUN here: {reason}")
        return 2
    env = hostkit.ensure_image()
    code = 0
    with tempfile.TemporaryDirectory(prefix="bench-release-") as tmp:
        work = Path(tmp)
        pyz = args.pyz or build_pyz(work / "build" / "crayon.pyz")
        lines, code = run(args, env, pyz, work)
    say("\n== figures (again, together)")
    for line in lines.items:
        say(line)
    say(f"host_release: done in {time.monotonic() - started:.0f} s, {machine()}, exit {code}")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
