"""`molecule test -s host`: create, converge, idempotence (changed=0), testinfra verify, destroy.

The base image is built first by scripts/podman-systemd-image.sh (the host_tools fixture), and
the scenario deploys the real dist/crayon.pyz, so a fresh machine runs this end to end.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.host import hostkit
from tests.support.moto_server import free_port

pytestmark = pytest.mark.slow


def test_molecule_host_scenario(host_tools, built_pyz):
    bin_dir = Path(sys.executable).parent
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= host_tools | {
        "PATH": f"{bin_dir}:{env.get('PATH', '')}",
        "CRAYON_PYZ": str(built_pyz),
        "CRAYON_HOST_PORT": str(free_port()),
        "CRAYON_HOST_CONTAINER": f"app-host-molecule-{os.getpid()}",
        "NO_COLOR": "1",
        "ANSIBLE_NOCOLOR": "1",
        "PY_COLORS": "0",
    }
    proc = subprocess.run(
        [str(bin_dir / "molecule"), "test", "-s", "host"],
        cwd=hostkit.ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-6000:]
    assert "idempotence" in output and "changed=0" in output
    assert " passed" in output, output[-3000:]
