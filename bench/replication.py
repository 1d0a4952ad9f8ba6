"""Benchmark of the database's replication (Litestream to a moto S3 on loopback).

    .venv/bin/python bench/replication.py [--lag-samples 20] [--trials 3] [--rate 5]

What it prints:
1. Commit-to-restorable lag: a row is committed to a database that Litestream replicates with
   the config `crayon serve --replicate` writes (sync-interval 1 s); the time until an LTX file
   holding that transaction is listed in the bucket (so `litestream restore` would return it).
   Commits are spaced 1.5-2.5 s apart at random phases; median, p90, max.
2. Host loss at a steady write rate: the real app (`crayon serve`, Litestream its parent)
   takes uploads (POST /api/analyses) at --rate per second for 6 s; then Litestream and the
   app are killed with SIGKILL at the same instant, the local database is deleted, and the app
   is started again (it restores by itself). Acknowledged analyses missing afterwards are
   counted, without and with CRAYON_DURABLE_WRITES=1.
3. The upload latency of those runs (client-side, trials interleaved; median and p90) and
   the ratio durable / non-durable: the cost of durable acknowledgements.
4. Restore time of a 50 MB database: `litestream restore` alone, and `crayon db restore`
   (restore + PRAGMA integrity_check), median of 3.

Loopback and an in-memory moto: real S3 adds tens of milliseconds per request, so every figure
here is a lower bound for AWS.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402

from app.replication import config, litestream  # noqa: E402
from app.settings import Settings  # noqa: E402
from tests.replication.harness import (  # noqa: E402
    BUCKET,
    ReplicatedApp,
    analysis_ids,
    make_bucket,
)
from tests.support.moto_server import MotoServer, require_loopback  # noqa: E402


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def standalone(
    work: Path, moto: MotoServer, prefix: str
) -> tuple[Settings, config.LitestreamPaths]:
    settings = Settings(
        data_dir=work,
        replica_url=f"s3://{BUCKET}/{prefix}",
        aws_endpoint_url=moto.url,
        litestream_socket=str(work / "ls.sock"),
    )
    paths = config.paths_for(settings)
    config.write(settings, paths)
    return settings, paths


def run_litestream(paths: config.LitestreamPaths, moto: MotoServer) -> subprocess.Popen[bytes]:
    env = litestream.environment({**os.environ, **moto.env()})
    proc = subprocess.Popen(
        [litestream.binary(), "replicate", "-config", str(paths.config)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            litestream.control(paths.socket, "GET", "/info")
            return proc
        except litestream.ControlError:
            time.sleep(0.05)
    raise RuntimeError("litestream did not start")


def remote_max_txid(s3: object, prefix: str) -> int:
    best = 0
    pages = s3.get_paginator("list_objects_v2").paginate(  # type: ignore[attr-defined]
        Bucket=BUCKET, Prefix=f"{prefix}/0000/"
    )
    for page in pages:
        for obj in page.get("Contents", []):
            name = obj["Key"].rsplit("/", 1)[-1]
            if name.endswith(".ltx"):
                best = max(best, int(name[:-4].split("-")[-1], 16))
    return best


def bench_lag(moto: MotoServer, samples: int) -> list[float]:
    work = Path(tempfile.mkdtemp(prefix="crayon-bench-lag-"))
    try:
        _, paths = standalone(work, moto, "lag")
        conn = sqlite3.connect(paths.database, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, at REAL)")
        proc = run_litestream(paths, moto)
        s3 = boto3.client("s3", endpoint_url=moto.url, region_name="us-east-1")
        lags = []
        try:
            time.sleep(2)
            for _ in range(samples):
                time.sleep(random.uniform(1.5, 2.5))
                before = remote_max_txid(s3, "lag")
                conn.execute("INSERT INTO t (at) VALUES (?)", (time.time(),))
                committed = time.monotonic()
                while remote_max_txid(s3, "lag") <= before:
                    if time.monotonic() - committed > 30:
                        raise RuntimeError("a commit did not reach the replica in 30 s")
                    time.sleep(0.01)
                lags.append(time.monotonic() - committed)
        finally:
            proc.terminate()
            proc.wait(10)
            conn.close()
        return lags
    finally:
        shutil.rmtree(work, ignore_errors=True)


def bench_host_loss(
    moto: MotoServer, durable: bool, rate: float, seconds: float, trial: int
) -> tuple[int, int, list[float]]:
    work = Path(tempfile.mkdtemp(prefix="crayon-bench-loss-"))
    try:
        app = ReplicatedApp(work / "data", moto, durable=durable, prefix=f"loss-{durable}-{trial}")
        app.prepare()
        app.start()
        acked: list[str] = []
        latencies: list[float] = []
        period = 1.0 / rate
        start = time.monotonic()
        n = 0
        while time.monotonic() - start < seconds:
            due = start + n * period
            time.sleep(max(0.0, due - time.monotonic()))
            t0 = time.monotonic()
            response = app.upload(n)
            latencies.append(time.monotonic() - t0)
            if response.status_code == 201:
                acked.append(response.json()["id"])
            n += 1
        app.kill9()
        app.lose_local_database()
        app.start()
        lost = len(set(acked) - analysis_ids(app.db_path))
        app.stop()
        return lost, len(acked), latencies
    finally:
        shutil.rmtree(work, ignore_errors=True)


def bench_restore(moto: MotoServer, megabytes: int = 50) -> tuple[float, list[float], list[float]]:
    work = Path(tempfile.mkdtemp(prefix="crayon-bench-restore-"))
    try:
        settings, paths = standalone(work, moto, "restore50")
        conn = sqlite3.connect(paths.database, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB)")
        conn.execute("BEGIN")
        for _ in range(megabytes * 16):
            conn.execute("INSERT INTO blobs (data) VALUES (?)", (os.urandom(64 * 1024),))
        conn.execute("COMMIT")
        conn.close()
        size = paths.database.stat().st_size
        proc = run_litestream(paths, moto)
        try:
            litestream.sync_wait(paths.socket, paths.database, 120)
        finally:
            proc.terminate()
            proc.wait(20)
        env = litestream.environment({**os.environ, **moto.env()})
        raw: list[float] = []
        full: list[float] = []
        for i in range(3):
            out = work / f"raw-{i}.db"
            t0 = time.monotonic()
            subprocess.run(
                [
                    litestream.binary(),
                    "restore",
                    "-config",
                    str(paths.config),
                    "-o",
                    str(out),
                    str(paths.database),
                ],
                env=env,
                check=True,
                capture_output=True,
            )
            raw.append(time.monotonic() - t0)
            out.unlink()
            target = work / f"crayon-{i}.db"
            t0 = time.monotonic()
            done = subprocess.run(
                [
                    str(Path(sys.executable).with_name("crayon")),
                    "db",
                    "restore",
                    "--output",
                    str(target),
                ],
                env={
                    **env,
                    "CRAYON_DATA_DIR": str(work),
                    "CRAYON_REPLICA_URL": settings.replica_url or "",
                    "CRAYON_LITESTREAM_SOCKET": str(paths.socket),
                },
                capture_output=True,
                text=True,
                check=False,
            )
            full.append(time.monotonic() - t0)
            if done.returncode != 0:
                raise RuntimeError(done.stderr)
            target.unlink()
        return size / 1e6, raw, full
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lag-samples", type=int, default=20)
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--rate", type=float, default=5.0, help="uploads per second")
    parser.add_argument("--seconds", type=float, default=6.0)
    args = parser.parse_args()

    with MotoServer() as moto:
        require_loopback(moto.url)
        os.environ.update(moto.env())
        os.environ.pop("AWS_CA_BUNDLE", None)
        make_bucket(moto)

        lags = bench_lag(moto, args.lag_samples)
        print(
            f"commit-to-restorable lag (sync-interval 1 s, n={len(lags)}): "
            f"median {statistics.median(lags):.2f} s, p90 {pct(lags, 0.9):.2f} s, "
            f"max {max(lags):.2f} s"
        )

        lat: dict[bool, list[float]] = {False: [], True: []}
        losses: dict[bool, list[str]] = {False: [], True: []}
        # Interleaved, so that load from elsewhere on the machine hits both modes alike.
        for trial in range(args.trials):
            for durable in (False, True):
                lost, acked, latencies = bench_host_loss(
                    moto, durable, args.rate, args.seconds, trial
                )
                losses[durable].append(f"{lost}/{acked}")
                lat[durable] += latencies
        for durable in (False, True):
            label = "durable acks" if durable else "no durable acks"
            print(
                f"host loss at {args.rate:g} uploads/s, {label}: acknowledged analyses lost "
                f"per trial: {', '.join(losses[durable])}"
            )
        for durable in (False, True):
            values = lat[durable]
            label = "durable" if durable else "non-durable"
            print(
                f"upload latency {label}: median {statistics.median(values) * 1000:.0f} ms, "
                f"p90 {pct(values, 0.9) * 1000:.0f} ms (n={len(values)})"
            )
        ratio = statistics.median(lat[True]) / statistics.median(lat[False])
        extra = (statistics.median(lat[True]) - statistics.median(lat[False])) * 1000
        print(f"durable-ack cost: median latency x{ratio:.2f} ({extra:+.0f} ms)")

        size, raw, full = bench_restore(moto)
        print(
            f"restore of a {size:.0f} MB database: litestream restore median "
            f"{statistics.median(raw):.2f} s (max {max(raw):.2f}); crayon db restore "
            f"(+ integrity_check) median {statistics.median(full):.2f} s (max {max(full):.2f})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
