"""Drive the local stack through the real front (scripts/ops.py), for the e2e test and bench.

Each step runs `python scripts/ops.py ...` as a person would (make calls the same thing), in
its own state folder and container name, so it never touches a developer's own `.local/`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import local_stack  # noqa: E402


def why_not() -> str | None:
    """Why the local stack cannot run here (no podman, not root, ...), or None."""
    return local_stack.why_not()


@dataclass
class Step:
    name: str
    seconds: float
    returncode: int
    output: str


@dataclass
class LocalStack:
    state: Path
    container: str = field(default_factory=lambda: f"crayon-e2e-{uuid.uuid4().hex[:8]}")
    steps: list[Step] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ANSIBLE_"))}
        base["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{base.get('PATH', '')}"
        base["CRAYON_LOCAL_STATE"] = str(self.state)
        base["CRAYON_LOCAL_CONTAINER"] = self.container
        return base

    def ops(self, name: str, *args: str, timeout: float = 1800) -> Step:
        started = time.monotonic()
        proc = subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "ops.py"), *args],
            cwd=ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        step = Step(name, time.monotonic() - started, proc.returncode, proc.stdout + proc.stderr)
        self.steps.append(step)
        return step

    @property
    def url(self) -> str:
        port = json.loads((self.state / "host.json").read_text())["port"]
        return f"http://127.0.0.1:{port}"

    def get(self, path: str, request_id: str | None = None) -> tuple[int, str]:
        req = urllib.request.Request(self.url + path)
        if request_id:
            req.add_header("X-Request-ID", request_id)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, resp.read().decode(errors="replace")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(errors="replace")

    def aws_kwargs(self) -> dict[str, str]:
        """boto3 client arguments for the stack's emulator (loopback, checked)."""
        from tests.support.moto_server import require_loopback

        url = json.loads((self.state / "moto.json").read_text())["url"]
        return {
            "endpoint_url": require_loopback(url),
            "region_name": "us-east-1",
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
        }

    def host(self, *cmd: str) -> str:
        host = json.loads((self.state / "host.json").read_text())
        env = os.environ | {"CONTAINERS_CONF": host["containers_conf"]}
        return subprocess.run(
            ["podman", "exec", self.container, *cmd],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        ).stdout

    def current_release(self) -> str:
        return Path(self.host("readlink", "/opt/crayon/current").strip()).name
