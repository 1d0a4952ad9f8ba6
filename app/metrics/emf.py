"""CloudWatch embedded metric format (EMF): one JSON line on stdout per event.

CloudWatch Logs turns these lines into metrics without any API call (the awslogs driver on ECS
and the CloudWatch agent on a host both ship stdout). Namespace `Crayon`, dimension `Service`.
Metrics: `AnalysisCount` and `ProcessingMs` (one line per analysis), `Errors` (one line per 5xx
answer) and `ReplicationErrors` (call `emit_replication_error` when replication reports an
error; the replication component owns when to call it).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import IO, Any, Final

NAMESPACE: Final = "Crayon"
SERVICE: Final = "crayon"

_lock = threading.Lock()
_stream: IO[str] | None = None


def set_stream(stream: IO[str] | None) -> None:
    """Send the lines to `stream` instead of stdout (tests); None restores stdout."""
    global _stream
    _stream = stream


def line(metrics: dict[str, tuple[float, str]], **properties: Any) -> str:
    """One EMF document: `metrics` maps a name to (value, unit)."""
    doc: dict[str, Any] = {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [["Service"]],
                    "Metrics": [
                        {"Name": name, "Unit": unit} for name, (_, unit) in metrics.items()
                    ],
                }
            ],
        },
        "Service": SERVICE,
    }
    for name, (value, _) in metrics.items():
        doc[name] = value
    doc.update(properties)
    return json.dumps(doc, separators=(",", ":"), default=str)


def _write(text: str) -> None:
    stream = _stream or sys.stdout
    with _lock:
        stream.write(text + "\n")
        stream.flush()


def emit_analysis(processing_ms: float, verdict: str, age_group: str) -> None:
    _write(
        line(
            {
                "AnalysisCount": (1, "Count"),
                "ProcessingMs": (round(processing_ms, 2), "Milliseconds"),
            },
            verdict=verdict,
            age_group=age_group,
        )
    )


def emit_error(status: int, kind: str) -> None:
    _write(line({"Errors": (1, "Count")}, status=status, kind=kind))


def emit_replication_error(count: int = 1, detail: str = "") -> None:
    """Call when the replication status reports an error (e.g. from the Litestream monitor)."""
    _write(line({"ReplicationErrors": (count, "Count")}, detail=detail[:500]))
