"""ansible-lint, production profile, over the roles and the playbooks (config in .ansible-lint)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_ansible_lint_production_profile_is_clean() -> None:
    venv_bin = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}"}
    env["ANSIBLE_CONFIG"] = str(REPO / "ansible.cfg")
    proc = subprocess.run(
        [
            str(venv_bin / "ansible-lint"),
            *("--offline", "--profile", "production", "roles", "playbooks"),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
