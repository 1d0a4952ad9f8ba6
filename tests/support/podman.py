"""podman as the tests run it: the project's containers.conf (scripts/podman-env.sh)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def podman_env() -> dict[str, str]:
    conf = subprocess.run(
        ["bash", "-c", "source scripts/podman-env.sh && echo $CONTAINERS_CONF"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return {**os.environ, "CONTAINERS_CONF": conf}


def podman(
    *args: str, check: bool = True, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["podman", *args],
        env=podman_env(),
        capture_output=True,
        text=True,
        check=check,
        timeout=timeout,
    )
