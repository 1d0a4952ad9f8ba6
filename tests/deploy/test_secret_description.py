"""crayon.aws.secret_description: a changed description reaches an existing secret, its value
and versions untouched (community.aws's module applies a description only with a new value,
which aws_secrets never writes over an operator's)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parents[2]
ANSIBLE = Path(sys.executable).parent / "ansible"


def _module(env: dict[str, str], *args: str, check: bool = False) -> dict[str, object]:
    done = subprocess.run(
        [str(ANSIBLE), "localhost", "-c", "local", "-o", "-m", "crayon.aws.secret_description",
         "-a", " ".join(args), *(("--check",) if check else ())],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    # One line per host (-o): "localhost | CHANGED => {...}".
    line = next(ln for ln in done.stdout.splitlines() if ln.startswith("localhost |"))
    result: dict[str, object] = json.loads(line.split("=>", 1)[1])
    return result


def test_description_changes_alone_and_only_once(aws_env: dict[str, str]) -> None:
    sm = boto3.client("secretsmanager", region_name="us-east-1")
    sm.create_secret(Name="crayon/t/session", SecretString="set-by-the-operator", Description="a")
    args = ("name=crayon/t/session", "description='described anew'", "region=us-east-1")

    planned = _module(aws_env, *args, check=True)
    assert planned["changed"] is True
    assert sm.describe_secret(SecretId="crayon/t/session")["Description"] == "a"

    first = _module(aws_env, *args)
    assert first["changed"] is True and first["previous"] == "a"
    again = _module(aws_env, *args)
    assert again["changed"] is False

    described = sm.describe_secret(SecretId="crayon/t/session")
    assert described["Description"] == "described anew"
    assert len(described["VersionIdsToStages"]) == 1
    value = sm.get_secret_value(SecretId="crayon/t/session")["SecretString"]
    assert value == "set-by-the-operator"
