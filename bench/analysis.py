"""Benchmark of the drawing analysis: time for a 1-megapixel drawing, and memory.

    .venv/bin/python bench/analysis.py [--iterations 40] [--no-container]

What it measures (each in a fresh worker process running this file with --worker):

1. One core: the worker is pinned with ``taskset -c 0``. For a 1-megapixel drawing (1200 x 848)
   as PNG and as JPEG it times ``decode_upload`` + ``analyse`` (= the "analysis", including the
   heat map PNG) and, separately, encoding the clean PNG that is stored; wall time and CPU time
   (``time.process_time``), median and 95th percentile.
2. A quarter of a core: the same worker in a podman container with ``--cpus 0.25`` (a real CFS
   quota of 25 ms per 100 ms), using the host's own /usr, Python and repository, read-only, no
   network. When podman cannot run, the estimate "CPU time x 4" is printed instead (and always
   printed beside it).
3. Memory: a worker that loads the stored model (JSON), then decodes, analyses and encodes 50
   different 1-megapixel drawings; its peak RSS (``resource.getrusage``). Further workers do
   the same for one 25-megapixel upload (PNG, JPEG) and a 4-megapixel RGBA WebP, the largest
   the app decodes whole: the per-analysis peak behind ``ANALYSIS_PEAK_MB`` (budget.py).
4. Issue 13, before vs after, each in a fresh worker, both measured in this run:
   - peak memory (VmHWM growth) of decoding a 5000 x 5000 RGBA PNG: plain Pillow
     (``Image.open().load()``, what the whole decode needed) vs ``decode_upload`` (stripes);
   - CPU time of a 9.6 MB PNG of 800,000 empty chunks: plain Pillow vs ``decode_upload``
     (refused for its chunk count);
   - resident memory after analysing three 25-megapixel uploads, without vs with
     ``release_memory`` (malloc_trim), and what the call costs;
   - ``crayon serve`` for real: resident memory at rest, after two large analyses, and its
     peak (the ``BASELINE_MB`` behind the number of analyses run at once).

Budgets: analysis under 300 ms at a quarter core (issue 3); app memory under 200 MB; a 25 MP
decode adds less than 64 MB (issue 13).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BUDGET_MS = 300.0
BUDGET_MB = 200.0
DECODE_BUDGET_MB = 64.0
MEMORY_DRAWINGS = 50


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# -- workers ----------------------------------------------------------------------------------
def worker_latency(folder: Path, iterations: int) -> dict[str, Any]:
    from app.analysis import ReferenceModel, analyse, decode_upload

    model = ReferenceModel.from_json((folder / "model.json").read_bytes())
    out: dict[str, Any] = {}
    for name, ctype in (("drawing.png", "image/png"), ("drawing.jpg", "image/jpeg")):
        data = (folder / name).read_bytes()
        rows: dict[str, list[float]] = {k: [] for k in ("wall", "cpu", "store_wall", "store_cpu")}
        for i in range(iterations + 3):
            w0, c0 = time.perf_counter(), time.process_time()
            decoded = decode_upload(data, ctype)
            result = analyse(decoded, "6-8", model)
            w1, c1 = time.perf_counter(), time.process_time()
            stored = decoded.png
            w2, c2 = time.perf_counter(), time.process_time()
            assert result.heatmap_png and stored
            if i >= 3:  # warm-up done
                rows["wall"].append((w1 - w0) * 1000)
                rows["cpu"].append((c1 - c0) * 1000)
                rows["store_wall"].append((w2 - w1) * 1000)
                rows["store_cpu"].append((c2 - c1) * 1000)
        out[name] = {
            k: {"median": statistics.median(v), "p95": _pct(v, 0.95)} for k, v in rows.items()
        }
        out[name]["size"] = list(decoded.image.size)
    out["affinity"] = sorted(os.sched_getaffinity(0))
    return out


def _vm_hwm_mb() -> float:
    """Peak resident set of this process's own address space (VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def worker_memory(folder: Path, pattern: str) -> dict[str, Any]:
    from app.analysis import ReferenceModel, analyse, decode_upload

    model = ReferenceModel.from_json((folder / "model.json").read_bytes())
    files = sorted(folder.glob(pattern))
    for path in files:
        ctype = None  # the magic bytes decide (PNG, JPEG or WebP)
        decoded = decode_upload(path.read_bytes(), ctype)
        result = analyse(decoded, "9-12", model)
        assert decoded.png and result.heatmap_png
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"files": len(files), "peak_rss_mb": peak_kb / 1024, "vm_hwm_mb": _vm_hwm_mb()}


# -- orchestration ----------------------------------------------------------------------------
def prepare(folder: Path) -> dict[str, Any]:
    from PIL import Image

    from app.analysis.builtin import load_builtin_model
    from app.analysis.generator import generate_drawing
    from app.analysis.training import train_generated

    started, cpu = time.perf_counter(), time.process_time()
    model = load_builtin_model() or train_generated()
    trained = {
        "load_wall_s": time.perf_counter() - started,
        "load_cpu_s": time.process_time() - cpu,
        "n_samples": model.n_samples,
        "version": model.version,
    }
    (folder / "model.json").write_bytes(model.to_json())
    drawing = generate_drawing(101, "6-8", long_side=1200).image  # 1200 x 848 = 1.02 MP
    (folder / "drawing.png").write_bytes(_encode(drawing, "PNG"))
    (folder / "drawing.jpg").write_bytes(_encode(drawing, "JPEG", quality=90))
    mem = folder / "memory"
    mem.mkdir()
    for i in range(MEMORY_DRAWINGS):
        img = generate_drawing(200 + i, "9-12", long_side=1200).image
        (mem / f"{i:03d}.png").write_bytes(_encode(img, "PNG"))
    big = folder / "big"
    big.mkdir()
    # Pixels repeated 4 x 4, so that the PNG stays under the 10 MB upload limit.
    huge = generate_drawing(7, "9-12", long_side=1250).image.crop((0, 0, 1250, 1250))
    huge = huge.resize((5000, 5000), Image.Resampling.NEAREST)
    (big / "25mp.png").write_bytes(_encode(huge, "PNG", compress_level=9))
    (big / "25mp.jpg").write_bytes(_encode(huge, "JPEG", quality=90))
    issue = folder / "issue13"
    issue.mkdir()
    rgba = _rgba_strokes((5000, 5000))
    (issue / "rgba-25mp.png").write_bytes(_encode(rgba, "PNG"))
    (issue / "rgba-4mp.webp").write_bytes(_encode(rgba.resize((2048, 2048)), "WEBP"))
    (issue / "chunks.png").write_bytes(_chunk_bomb(800_000))
    return trained


def _rgba_strokes(size: tuple[int, int]) -> Any:
    """Transparent paper with red strokes: a tiny file that decodes to a huge buffer."""
    from PIL import Image, ImageDraw

    image = Image.new("RGBA", size, (255, 255, 255, 0))
    draw = ImageDraw.Draw(image)
    w, h = size
    for i in range(40):
        draw.line((i * w // 40, 0, w - i * w // 50, h), fill=(200, 30, 30, 255), width=9)
    return image


def _chunk_bomb(count: int) -> bytes:
    """A 64 x 64 PNG with ``count`` empty ancillary chunks after its header."""
    import struct
    import zlib

    from PIL import Image

    small = _encode(Image.new("RGB", (64, 64), "white"), "PNG")
    empty = struct.pack(">I", 0) + b"bOMb" + struct.pack(">I", zlib.crc32(b"bOMb"))
    return small[:33] + empty * count + small[33:]


def worker_issue13(folder: Path, kind: str, method: str) -> dict[str, Any]:
    """One before/after figure of issue 13, in this fresh process (see the module doc)."""
    import gc

    from PIL import Image

    from app.analysis import ReferenceModel, UploadRejected, analyse, decode_upload
    from app.analysis.budget import release_memory

    issue = folder / "issue13"
    if kind == "decode-peak":
        data = (issue / "rgba-25mp.png").read_bytes()
        before = _vm_hwm_mb()
        if method == "plain":
            with Image.open(io.BytesIO(data)) as im:
                im.load()
        else:
            decode_upload(data, "image/png")
        return {"peak_mb": _vm_hwm_mb() - before}
    if kind == "bomb":
        data = (issue / "chunks.png").read_bytes()
        cpu = time.process_time()
        outcome = "decoded"
        try:
            if method == "plain":
                with Image.open(io.BytesIO(data)) as im:
                    im.load()
            else:
                decode_upload(data, "image/png")
        except UploadRejected as exc:
            outcome = f"refused {exc.status}: {exc.message}"
        return {"cpu_s": time.process_time() - cpu, "outcome": outcome, "bytes": len(data)}
    # resting: three 25-megapixel analyses, then the resident size, with or without trimming
    model = ReferenceModel.from_json((folder / "model.json").read_bytes())
    start = _vm_rss_mb()
    trim_ms = 0.0
    for path in (issue / "rgba-25mp.png", folder / "big" / "25mp.png", folder / "big" / "25mp.jpg"):
        decoded = decode_upload(path.read_bytes(), None)
        result = analyse(decoded, "9-12", model)
        assert decoded.png and result.heatmap_png
        del decoded, result
        if method == "trim":
            t = time.perf_counter()
            release_memory()
            trim_ms = max(trim_ms, (time.perf_counter() - t) * 1000)
    gc.collect()
    return {"start_mb": start, "rest_mb": _vm_rss_mb(), "peak_mb": _vm_hwm_mb(), "trim_ms": trim_ms}


def _vm_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure_server(folder: Path) -> dict[str, Any]:
    """`crayon serve` on a fresh data dir: ready at once? RSS at rest, after 2 big uploads, peak."""
    import socket
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    crayon = str(Path(sys.executable).parent / "crayon")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CRAYON_")},
        "PYTHONPATH": str(ROOT),
        "CRAYON_ENV": "local",
        "CRAYON_DATA_DIR": str(folder / "server-data"),
        "CRAYON_PORT": str(port),
        "CRAYON_ADMIN_PASSWORD": "bench-admin-password-1",
    }
    subprocess.run([crayon, "migrate"], env=env, check=True, capture_output=True, timeout=120)
    log = (folder / "server.log").open("wb")
    server = subprocess.Popen([crayon, "serve"], env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        first_ready = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=2):
                    pass
            except OSError:
                time.sleep(0.1)
                continue
            try:
                with urllib.request.urlopen(base + "/readyz", timeout=5) as r:
                    first_ready = r.status
            except urllib.error.HTTPError as exc:
                first_ready = exc.code
            break
        time.sleep(1.0)
        status = Path(f"/proc/{server.pid}/status")
        rest = _status_mb(status, "VmRSS")
        for name in ("issue13/rgba-25mp.png", "big/25mp.jpg"):
            body, ctype = _multipart((folder / name).read_bytes(), name)
            req = urllib.request.Request(
                base + "/api/analyses", data=body, headers={"Content-Type": ctype}
            )
            with urllib.request.urlopen(req, timeout=120) as r:
                assert r.status == 201, r.status
        time.sleep(0.5)
        return {
            "first_readyz": first_ready,
            "rest_mb": rest,
            "after_mb": _status_mb(status, "VmRSS"),
            "peak_mb": _status_mb(status, "VmHWM"),
        }
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def _status_mb(status: Path, field: str) -> float:
    for line in status.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _multipart(data: bytes, name: str) -> tuple[bytes, str]:
    boundary = "----crayonbench0123456789"
    ctype = "image/jpeg" if name.endswith(".jpg") else "image/png"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="age_group"\r\n\r\n6-8\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{Path(name).name}"'
        f"\r\nContent-Type: {ctype}\r\n\r\n"
    ).encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), (
        f"multipart/form-data; boundary={boundary}"
    )


def _encode(image: Any, fmt: str, **params: Any) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **params)
    return buf.getvalue()


def run_worker(args: list[str], prefix: list[str] | None = None) -> dict[str, Any]:
    cmd = [*(prefix or []), sys.executable, str(Path(__file__).resolve()), *args]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:6])}... failed: {done.stderr.strip()[-800:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def podman_prefix(folder: Path) -> list[str] | None:
    """A podman command line giving a quarter of a core, or None when podman is unusable."""
    if shutil.which("podman") is None or os.geteuid() != 0:
        return None
    rootfs = folder / "rootfs"
    for sub in ("usr", "etc", "tmp", "proc", "sys", "dev"):
        (rootfs / sub).mkdir(parents=True, exist_ok=True)
    for link in ("bin", "lib", "lib64", "sbin"):
        if not (rootfs / link).exists():
            (rootfs / link).symlink_to(f"usr/{link}")
    mounts = [
        "-v",
        "/usr:/usr:ro",
        "-v",
        "/etc:/etc:ro",
        "-v",
        f"{ROOT}:{ROOT}:ro",
        "-v",
        f"{folder}:{folder}:ro",
    ]
    venv = Path(sys.prefix).resolve()  # the venv may be a symlink out of the repository
    if not venv.is_relative_to(ROOT):
        (rootfs / str(venv).lstrip("/")).mkdir(parents=True, exist_ok=True)
        mounts += ["-v", f"{venv}:{venv}:ro"]
    base = Path(sys.base_prefix).resolve()
    if not str(base).startswith("/usr"):
        (rootfs / str(base).lstrip("/")).mkdir(parents=True, exist_ok=True)
        mounts += ["-v", f"{base}:{base}:ro"]
    return [
        "podman",
        "run",
        "--rm",
        "--name",
        f"analysis-bench-{os.getpid()}",
        "--network",
        "none",
        "--cpus",
        "0.25",
        "--memory",
        "512m",
        "--ulimit",
        "nofile=20000:20000",
        "--ulimit",
        "nproc=32768:32768",
        *mounts,
        "--rootfs",
        str(rootfs),
    ]


def report(label: str, row: dict[str, Any], key: str) -> str:
    return f"{label:<44} {row[key]['median']:7.1f} ms median {row[key]['p95']:7.1f} ms p95"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--iterations", type=int, default=40)
    parser.add_argument("--no-container", action="store_true")
    parser.add_argument("--worker", nargs=2, metavar=("KIND", "FOLDER"), help=argparse.SUPPRESS)
    parser.add_argument("--pattern", default="memory/*.png", help=argparse.SUPPRESS)
    parser.add_argument("--method", default="bounded", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        kind, folder = args.worker
        if kind == "prepare":
            print(json.dumps(prepare(Path(folder))))
        elif kind == "latency":
            print(json.dumps(worker_latency(Path(folder), args.iterations)))
        elif kind in ("decode-peak", "bomb", "resting"):
            print(json.dumps(worker_issue13(Path(folder), kind, args.method)))
        else:
            print(json.dumps(worker_memory(Path(folder), args.pattern)))
        return 0

    # The parent stays small (no numpy, no Pillow): getrusage's peak RSS of a child process
    # starts from the parent's peak, because Linux carries it over fork and exec.
    folder = Path(tempfile.mkdtemp(prefix="analysis-bench-"))
    try:
        trained = run_worker(["--worker", "prepare", str(folder)])
        print(
            f"shipped model {trained['version']} ({trained['n_samples']} generated drawings) "
            f"loaded in {trained['load_wall_s'] * 1000:.0f} ms"
        )
        taskset = ["taskset", "-c", "0"] if shutil.which("taskset") else []
        n = str(args.iterations)
        one = run_worker(["--worker", "latency", str(folder), "--iterations", n], taskset)
        quarter = None
        reason = "--no-container given"
        if not args.no_container:
            prefix = podman_prefix(folder)
            reason = "podman unavailable or not root"
            if prefix is not None:
                try:
                    quarter = run_worker(
                        ["--worker", "latency", str(folder), "--iterations", n], prefix
                    )
                except (RuntimeError, subprocess.TimeoutExpired) as exc:
                    reason = f"podman run failed: {exc}"
        mem = run_worker(["--worker", "memory", str(folder)], taskset)
        big_png = run_worker(["--worker", "memory", str(folder), "--pattern", "big/*.png"])
        big_jpg = run_worker(["--worker", "memory", str(folder), "--pattern", "big/*.jpg"])
        big_webp = run_worker(["--worker", "memory", str(folder), "--pattern", "issue13/*.webp"])
        issue: dict[str, dict[str, Any]] = {}
        for kind in ("decode-peak", "bomb"):
            for method in ("plain", "bounded"):
                issue[f"{kind}-{method}"] = run_worker(
                    ["--worker", kind, str(folder), "--method", method]
                )
        for method in ("notrim", "trim"):
            issue[f"resting-{method}"] = run_worker(
                ["--worker", "resting", str(folder), "--method", method]
            )
        server = measure_server(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    print(
        f"\nAnalysis of a 1-megapixel drawing ({one['drawing.png']['size'][0]} x "
        f"{one['drawing.png']['size'][1]}), decode_upload + analyse incl. heat map; "
        f"{args.iterations} runs each"
    )
    ok = True
    for name in ("drawing.png", "drawing.jpg"):
        fmt = name.split(".")[1].upper()
        r = one[name]
        print(report(f"{fmt} one core (taskset -c 0), wall", r, "wall"))
        print(report(f"{fmt} one core, CPU time", r, "cpu"))
        est = {"median": r["cpu"]["median"] * 4, "p95": r["cpu"]["p95"] * 4}
        print(report(f"{fmt} quarter core, estimate CPU x 4", {"x": est}, "x"))
        if quarter is not None:
            print(report(f"{fmt} quarter core (podman --cpus 0.25), wall", quarter[name], "wall"))
            ok &= quarter[name]["wall"]["p95"] < BUDGET_MS
        ok &= est["p95"] < BUDGET_MS
        print(report(f"{fmt} + storing the clean PNG, CPU time", r, "store_cpu"))
    if quarter is None:
        print(f"(no container measurement: {reason})")
    print(
        f"\nPeak RSS (getrusage ru_maxrss / VmHWM), model + {mem['files']} drawings of 1 MP "
        f"analysed: {mem['peak_rss_mb']:.0f} / {mem['vm_hwm_mb']:.0f} MB"
    )
    print(
        f"Peak RSS, one 25-megapixel upload: PNG {big_png['peak_rss_mb']:.0f} MB, "
        f"JPEG {big_jpg['peak_rss_mb']:.0f} MB"
    )
    print(f"Peak RSS, one 4-megapixel RGBA WebP (decoded whole): {big_webp['peak_rss_mb']:.0f} MB")
    ok &= mem["peak_rss_mb"] < BUDGET_MB

    plain, bounded = issue["decode-peak-plain"], issue["decode-peak-bounded"]
    print(
        f"\nIssue 13. Decoding a 5000 x 5000 RGBA PNG, peak memory added (VmHWM): plain Pillow "
        f"{plain['peak_mb']:.0f} MB, decode_upload {bounded['peak_mb']:.0f} MB "
        f"({plain['peak_mb'] / max(bounded['peak_mb'], 1):.1f}x less)"
    )
    ok &= bounded["peak_mb"] < DECODE_BUDGET_MB
    plain, bounded = issue["bomb-plain"], issue["bomb-bounded"]
    print(
        f"PNG of 800,000 empty chunks ({plain['bytes'] / 1e6:.1f} MB), CPU time: plain Pillow "
        f"{plain['cpu_s']:.2f} s ({plain['outcome'][:40]}), decode_upload "
        f"{bounded['cpu_s'] * 1000:.1f} ms ({bounded['outcome'][:60]})"
    )
    notrim, trim = issue["resting-notrim"], issue["resting-trim"]
    print(
        f"RSS after three 25-megapixel analyses (peak {trim['peak_mb']:.0f} MB): "
        f"{notrim['rest_mb']:.0f} MB without malloc_trim, {trim['rest_mb']:.0f} MB with it "
        f"(worker started at {trim['start_mb']:.0f} MB; one call costs <= {trim['trim_ms']:.1f} ms)"
    )
    from app.analysis.budget import (
        ANALYSIS_PEAK_MB,
        BASELINE_MB,
        DEFAULT_BUDGET_MB,
        analysis_slots,
    )

    print(
        f"crayon serve on a fresh data dir: first /readyz {server['first_readyz']}; RSS at rest "
        f"{server['rest_mb']:.0f} MB, after a 25 MP PNG and JPEG {server['after_mb']:.0f} MB, "
        f"peak {server['peak_mb']:.0f} MB"
    )
    print(
        f"Analyses at once with the default {DEFAULT_BUDGET_MB} MB budget: "
        f"{analysis_slots(DEFAULT_BUDGET_MB)} = floor(({DEFAULT_BUDGET_MB} - baseline "
        f"{BASELINE_MB}) / per-analysis {ANALYSIS_PEAK_MB}); measured here: baseline "
        f"{server['rest_mb']:.0f} MB, per-analysis peak {server['peak_mb'] - server['rest_mb']:.0f}"
        " MB (server peak minus rest)"
    )
    ok &= server["first_readyz"] == 200
    print(
        f"\nBudget: < {BUDGET_MS:.0f} ms at 0.25 CPU (p95), < {BUDGET_MB:.0f} MB: "
        f"{'within budget' if ok else 'OVER BUDGET'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
