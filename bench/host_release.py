"""Release and throughput on a systemd host shaped like a t3.micro and like a Fargate task.

For each size (podman --cpus/--memory on the stand-in host of molecule/host):
  * release time: start of the deploy playbook (playbooks/host.yml --tags app_host_release) to
    its end, which comes only after the new version answered /readyz 200 through the socket;
  * requests failed during that release, under a steady load (4 clients, fresh connection per
    request), and the longest any request waited;
  * the app's throughput and p50/p99 latency: 8 concurrent clients for 20 s on GET / (the
    rendered home page) and GET /readyz (a database query), on loopback.

    .venv/bin/python bench/host_release.py            # both sizes
    CRAYON_BENCH_SIZES=fargate .venv/bin/python bench/host_release.py

Runs on this machine only: the container uses the host network, AWS is a moto server on
loopback. The load generator shares the machine's CPUs with the container (2 cores here), so
throughput is a floor, not a ceiling.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.host import hostkit

SIZES = {
    "t3.micro": ("1", "1g"),
    "fargate": ("0.25", "512m"),
}


def main() -> int:
    reason = hostkit.tools_available()
    if reason:
        print(f"host_release: skipped: {reason}")
        return 0
    env = hostkit.ensure_image()
    pyz = hostkit.ensure_pyz()
    wanted = os.environ.get("CRAYON_BENCH_SIZES", ",".join(SIZES)).split(",")
    with tempfile.TemporaryDirectory(prefix="apphost-bench-") as tmp:
        work = Path(tmp)
        v1 = hostkit.variant(pyz, work / "v1" / "crayon.pyz", "bench1")
        v2 = hostkit.variant(pyz, work / "v2" / "crayon.pyz", "bench2")
        moto = hostkit.start_moto(work / "moto.log")
        try:
            for size in wanted:
                cpus, memory = SIZES[size]
                host = hostkit.Host(moto, env, cpus=cpus, memory=memory).start()
                try:
                    rc, out, first = host.deploy("bench-1", v1)
                    if rc != 0:
                        print(out[-3000:])
                        return 1
                    hostkit.wait_ready(host.url)
                    load = hostkit.LoadGenerator(host.url, workers=4, pause=0.02).start()
                    time.sleep(3)
                    rc, out, release = host.deploy("bench-2", v2, "--tags", "app_host_release")
                    time.sleep(3)
                    during = load.stop()
                    if rc != 0:
                        print(out[-3000:])
                        return 1
                    steady = hostkit.LoadGenerator(
                        host.url, paths=("/", "/readyz"), workers=8, pause=0, max_seconds=20
                    ).start()
                    time.sleep(20)
                    result = steady.stop()
                    print(f"== {size} (--cpus {cpus} --memory {memory})")
                    print(f"first deploy (whole role)        : {first:.1f} s")
                    print(f"release time (playbook start->new version ready): {release:.1f} s")
                    print(
                        f"requests during release          : {during.sent}, "
                        f"failed {during.failed}, "
                        f"longest wait {max(during.latencies, default=0):.2f} s"
                    )
                    print(
                        f"throughput GET / + /readyz, 8 clients, 20 s: {result.rps:.0f} req/s, "
                        f"p50 {result.percentile(50) * 1000:.0f} ms, "
                        f"p99 {result.percentile(99) * 1000:.0f} ms, failed {result.failed}"
                    )
                    sys.stdout.flush()
                finally:
                    host.destroy()
        finally:
            moto.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
