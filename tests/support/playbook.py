"""Run a real `ansible-playbook` from the repository root and read its PLAY RECAP."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.support.moto_server import require_loopback

ROOT = Path(__file__).resolve().parents[2]
RECAP = re.compile(
    r"^(?P<host>\S+)\s*:\s*ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)"
    r"\s+failed=(?P<failed>\d+)",
    re.MULTILINE,
)


@dataclass
class PlaybookRun:
    returncode: int
    output: str
    recap: dict[str, dict[str, int]]

    def totals(self, key: str) -> int:
        return sum(host[key] for host in self.recap.values())

    @property
    def changed(self) -> int:
        return self.totals("changed")

    @property
    def failed(self) -> int:
        return self.totals("failed")

    def changed_tasks(self) -> list[str]:
        """Names of the tasks that reported a change (for failure messages)."""
        names, current = [], ""
        for line in self.output.splitlines():
            if line.startswith("TASK ["):
                current = line[len("TASK [") : line.rfind("]")]
            elif line.startswith("changed:"):
                names.append(current)
        return names


def run_playbook(
    playbook: Path,
    aws_env: dict[str, str],
    extra_vars: Mapping[str, object] | None = None,
    check: bool = False,
    timeout: float = 900,
    inventory: Path | None = None,
    verbosity: int = 0,
    extra_args: Sequence[str] = (),
) -> PlaybookRun:
    """Run `playbook` on localhost with the venv's Python; AWS endpoints must be on loopback."""
    require_loopback(aws_env.get("AWS_URL"))
    require_loopback(aws_env.get("AWS_ENDPOINT_URL"))
    bin_dir = Path(sys.executable).parent
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ANSIBLE_"))}
    env.update(aws_env)
    env.update(
        {
            "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
            "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
            "ANSIBLE_ROLES_PATH": str(ROOT / "roles"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_DEPRECATION_WARNINGS": "0",
            "ANSIBLE_LOCAL_TEMP": str(
                Path(env.get("TMPDIR", "/tmp")) / f"ansible-local-{os.getpid()}"
            ),
        }
    )
    cmd = [
        str(bin_dir / "ansible-playbook"),
        "-i",
        str(inventory) if inventory else "localhost,",
        "-e",
        f"ansible_python_interpreter={sys.executable}",
    ]
    if extra_vars:
        cmd += ["-e", json.dumps(dict(extra_vars))]
    if check:
        cmd.append("--check")
    if verbosity:
        cmd.append("-" + "v" * verbosity)
    cmd += list(extra_args)
    cmd.append(str(playbook))
    proc = subprocess.run(
        cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    output = proc.stdout + proc.stderr
    recap = {
        m["host"]: {k: int(m[k]) for k in ("ok", "changed", "unreachable", "failed")}
        for m in RECAP.finditer(output)
    }
    return PlaybookRun(proc.returncode, output, recap)
