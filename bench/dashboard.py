"""Dashboard figures with 1,000,000 recorded requests: rollups against the naive raw query.

Creates a fresh database (Alembic head), bulk-inserts N requests spread over the last 30 days
into the raw log (fast: one transaction, executemany, generated in chunks), builds the rollups
from them the way the app's recorder does, then times:

- `usage_metrics` (every figure the dashboard, /api/metrics and the live stream show, from the
  rollups) for each window;
- `naive_request_metrics` (the request figures computed straight from the raw log);
- `GET /dashboard` and `GET /api/metrics` end to end through the app (in process), wall time
  and the process's CPU time per request (all threads: app, SQLite, test client). On a shared
  machine wall time >> CPU time means the request waited for a core, not that it did more work.

The app's reference model is trained before the requests are timed (a fresh install trains it
in a background thread at start-up, ~10 s of full CPU: timing the dashboard during that
measured the training, not the dashboard); `--while-training` times them during it anyway.

    .venv/bin/python bench/dashboard.py [--requests 1000000] [--repeat 15] [--while-training]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import migrate
from app.db import Database
from app.metrics.queries import naive_request_metrics, usage_metrics

KINDS = ["page"] * 50 + ["api"] * 15 + ["static"] * 15 + ["files"] * 10 + ["health"] * 10
COUNTRIES = ["US", "DE", "FR", "GB", "IN", "BR", "JP", "unknown", "NL", "CA", "ES", "IT"]


def rows(n: int, now: float, seed: int = 1) -> Iterator[tuple[float, str, int, float, str, str]]:
    rng = random.Random(seed)
    span = 30 * 86400
    for _ in range(n):
        ts = now - rng.random() * span
        status = 500 if rng.random() < 0.004 else (404 if rng.random() < 0.03 else 200)
        yield (
            ts,
            rng.choice(KINDS),
            status,
            rng.random() * 40,
            f"{rng.getrandbits(20):016x}",
            rng.choice(COUNTRIES),
        )


def fill(path: Path, n: int, now: float) -> float:
    started = time.perf_counter()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    with conn:
        conn.executemany(
            "INSERT INTO request_log (ts, kind, status, duration_ms, session_hash, country) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            rows(n, now),
        )
        conn.execute(
            "INSERT INTO metrics_hourly (hour, kind, requests, errors, duration_ms_sum) "
            "SELECT CAST(ts / 3600 AS INTEGER), kind, COUNT(*), SUM(status >= 500), "
            "SUM(duration_ms) FROM request_log GROUP BY 1, 2"
        )
        conn.execute(
            "INSERT INTO metrics_countries_daily (day, country, requests) "
            "SELECT CAST(ts / 86400 AS INTEGER), country, COUNT(*) FROM request_log "
            "WHERE kind != 'health' GROUP BY 1, 2"
        )
        conn.execute(
            "INSERT OR IGNORE INTO metrics_sessions_daily (day, session_hash) "
            "SELECT DISTINCT CAST(ts / 86400 AS INTEGER), session_hash FROM request_log "
            "WHERE kind != 'health'"
        )
        conn.execute(
            "INSERT INTO metrics_session_counts (day, sessions) "
            "SELECT day, COUNT(*) FROM metrics_sessions_daily GROUP BY day"
        )
        hour_now = int(now // 3600)
        conn.executemany(
            "INSERT INTO analysis_hourly (hour, analyses, anomalous, processing_ms_sum) "
            "VALUES (?, ?, ?, ?)",
            [(h, 20, 3, 20 * 120.0) for h in range(hour_now - 720, hour_now + 1)],
        )
        conn.executemany(
            "INSERT INTO heartbeats (ts, interval_s) VALUES (?, 60)",
            [(int(now // 60) * 60 - 60 * k,) for k in range(30 * 1440) if k % 997 != 0],
        )
    conn.execute("ANALYZE")
    conn.close()
    return time.perf_counter() - started


async def timed(fn: Callable[[], Awaitable[object]], repeat: int) -> list[float]:
    await fn()  # warm the page cache
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        await fn()
        out.append((time.perf_counter() - started) * 1000)
    return out


def summary(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95


async def bench(path: Path, repeat: int, now: float) -> dict[str, tuple[float, float]]:
    db = Database(path)
    await db.open()
    results: dict[str, tuple[float, float]] = {}
    try:
        for window in ("24h", "7d", "30d"):
            results[f"rollups usage_metrics {window}"] = summary(
                await timed(lambda w=window: usage_metrics(db, window=w, now=now), repeat)
            )
        for window in ("24h", "30d"):
            results[f"naive raw-log query {window}"] = summary(
                await timed(
                    lambda w=window: naive_request_metrics(db, window=w, now=now),
                    max(3, repeat // 3),
                )
            )
    finally:
        await db.close()
    return results


def bench_http(
    data_dir: Path, repeat: int, *, while_training: bool = False
) -> dict[str, tuple[float, float]]:
    from starlette.testclient import TestClient

    from app.analysis.training import ensure_model
    from app.main import create_app
    from app.settings import Settings
    from app.storage.factory import build_storage

    password = "bench-admin-password-1"  # noqa: S105 - a throw-away local password
    settings = Settings(data_dir=data_dir, admin_password=password)
    if not while_training:
        started = time.perf_counter()
        ensure_model(build_storage(settings))
        print(f"reference model trained ahead in {time.perf_counter() - started:.1f} s")
    out: dict[str, tuple[float, float]] = {}
    token = re.compile(r'name="csrf_token" value="([^"]+)"')
    with TestClient(create_app(settings)) as client:
        form = token.search(client.get("/login").text)
        assert form is not None
        login = client.post(
            "/login",
            data={"password": password, "csrf_token": form.group(1)},
            follow_redirects=False,
        )
        assert login.status_code == 303, login.text
        for path in ("/api/metrics?window=30d", "/dashboard?window=30d"):
            client.get(path)
            samples, cpu = [], []
            for _ in range(repeat):
                cpu_started = time.process_time()
                started = time.perf_counter()
                assert client.get(path).status_code == 200
                samples.append((time.perf_counter() - started) * 1000)
                cpu.append((time.process_time() - cpu_started) * 1000)
            out[f"GET {path} (in process)"] = summary(samples)
            out[f"  CPU time of GET {path}"] = summary(cpu)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument(
        "--while-training",
        action="store_true",
        help="time the requests while the app trains its model (the old, skewed setting)",
    )
    args = parser.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="crayon-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        path = data_dir / "crayon.db"
        migrate.upgrade(path)
        now = time.time()
        fill_s = fill(path, args.requests, now)
        size_mb = path.stat().st_size / 1_048_576
        print(
            f"inserted {args.requests:,} requests (+ rollups) in {fill_s:.1f} s; "
            f"db {size_mb:.0f} MB"
        )
        results = asyncio.run(bench(path, args.repeat, now))
        results.update(bench_http(data_dir, args.repeat, while_training=args.while_training))
    load_after = os.getloadavg()
    print(
        f"load average (1, 5, 15 min) on {os.cpu_count()} cores: "
        f"before {', '.join(f'{x:.1f}' for x in load_before)}; "
        f"after {', '.join(f'{x:.1f}' for x in load_after)}"
    )
    print(f"{'query':48} {'median ms':>10} {'p95 ms':>10}")
    for name, (median, p95) in results.items():
        print(f"{name:48} {median:10.2f} {p95:10.2f}")
    fast = results["rollups usage_metrics 30d"]
    naive = results["naive raw-log query 30d"]
    page = results["GET /dashboard?window=30d (in process)"]
    page_cpu = results["  CPU time of GET /dashboard?window=30d"]
    print(
        f"naive / rollups (30d, median): {naive[0] / fast[0]:.0f}x; "
        f"naive 30d / whole dashboard request (median): {naive[0] / page[0]:.0f}x"
    )
    print(
        f"dashboard p95 {page[1]:.1f} ms against the 100 ms target: "
        f"{'met' if page[1] < 100 else 'MISSED'} (median {page[0]:.1f} ms; "
        f"CPU per request median {page_cpu[0]:.1f} ms, p95 {page_cpu[1]:.1f} ms)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
