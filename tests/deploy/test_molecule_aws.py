"""`molecule test -s aws`: the whole AWS stack against moto on loopback (molecule/aws/README.md).

Builds with site.yml, settles (moto-only, explained in molecule.yml), checks idempotence and
check mode, deploys a new image tag, reads every setting back with boto3, destroys, and checks
that only the data remains. Takes a few minutes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_molecule_aws_scenario_passes() -> None:
    venv_bin = Path(sys.executable).parent
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["PATH"] = f"{venv_bin}{os.pathsep}{env.get('PATH', '')}"
    proc = subprocess.run(
        [str(venv_bin / "molecule"), "test", "-s", "aws"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-8000:] + proc.stderr[-4000:]
