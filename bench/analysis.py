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
   different 1-megapixel drawings; its peak RSS (``resource.getrusage``). A second worker does
   the same for one 25-megapixel upload, the largest the app accepts.

Budget (issue 3): analysis under 300 ms at a quarter core; app memory under 200 MB.
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
        ctype = "image/jpeg" if path.suffix == ".jpg" else "image/png"
        decoded = decode_upload(path.read_bytes(), ctype)
        result = analyse(decoded, "9-12", model)
        assert decoded.png and result.heatmap_png
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"files": len(files), "peak_rss_mb": peak_kb / 1024, "vm_hwm_mb": _vm_hwm_mb()}


# -- orchestration ----------------------------------------------------------------------------
def prepare(folder: Path) -> dict[str, Any]:
    from PIL import Image

    from app.analysis.generator import generate_drawing
    from app.analysis.training import train_generated

    started, cpu = time.perf_counter(), time.process_time()
    model = train_generated()
    trained = {
        "train_wall_s": time.perf_counter() - started,
        "train_cpu_s": time.process_time() - cpu,
        "n_samples": model.n_samples,
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
    return trained


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
    args = parser.parse_args()

    if args.worker:
        kind, folder = args.worker
        if kind == "prepare":
            print(json.dumps(prepare(Path(folder))))
        elif kind == "latency":
            print(json.dumps(worker_latency(Path(folder), args.iterations)))
        else:
            print(json.dumps(worker_memory(Path(folder), args.pattern)))
        return 0

    # The parent stays small (no numpy, no Pillow): getrusage's peak RSS of a child process
    # starts from the parent's peak, because Linux carries it over fork and exec.
    folder = Path(tempfile.mkdtemp(prefix="analysis-bench-"))
    try:
        trained = run_worker(["--worker", "prepare", str(folder)])
        print(
            f"built-in model: {trained['n_samples']} generated drawings trained in "
            f"{trained['train_wall_s']:.1f} s wall, {trained['train_cpu_s']:.1f} s CPU"
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
    ok &= mem["peak_rss_mb"] < BUDGET_MB
    print(
        f"\nBudget: < {BUDGET_MS:.0f} ms at 0.25 CPU (p95), < {BUDGET_MB:.0f} MB: "
        f"{'within budget' if ok else 'OVER BUDGET'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
