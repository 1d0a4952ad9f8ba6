"""Start or stop the moto server (S3 + Secrets Manager on loopback) for molecule/host.

    python molecule/host/moto.py up   DIR   # start moto, create buckets and the admin secret
    python molecule/host/moto.py down DIR   # stop it

DIR (molecule's ephemeral directory) receives moto.url, moto.pid and moto.log. moto is a real
`moto_server` process on 127.0.0.1, reached over HTTP by the container (host network) exactly
as S3 would be; it lives at most 30 minutes even if nobody stops it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.support.moto_server import free_port, require_loopback  # noqa: E402

BUCKETS = ("crayon-molecule-replica", "crayon-molecule-data")
ADMIN_SECRET_ID = "crayon/molecule/admin"
ADMIN_PASSWORD = "molecule-admin-password"


def _env(url: str) -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": url,
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def up(state: Path) -> str:
    state.mkdir(parents=True, exist_ok=True)
    url_file = state / "moto.url"
    if url_file.exists() and (state / "moto.pid").exists():
        url = url_file.read_text().strip()
        try:
            with urllib.request.urlopen(f"{url}/moto-api/data.json", timeout=2):  # noqa: S310  # noqa: S310
                return url
        except OSError:
            pass
    port = free_port()
    url = require_loopback(f"http://127.0.0.1:{port}")
    moto = Path(sys.executable).with_name("moto_server")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    with open(state / "moto.log", "ab") as log:
        proc = subprocess.Popen(
            ["timeout", "1800", str(moto), "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    (state / "moto.pid").write_text(str(proc.pid))
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{url}/moto-api/data.json", timeout=1):  # noqa: S310  # noqa: S310
                break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit(f"moto did not start on {url}; see {state / 'moto.log'}") from None
            time.sleep(0.2)

    import boto3
    from argon2 import PasswordHasher

    os.environ.pop("AWS_CA_BUNDLE", None)
    for key, value in _env(url).items():
        os.environ[key] = value
    s3 = boto3.client("s3", endpoint_url=url)
    for bucket in BUCKETS:
        s3.create_bucket(Bucket=bucket)
    sm = boto3.client("secretsmanager", endpoint_url=url)
    sm.create_secret(
        Name=ADMIN_SECRET_ID,
        SecretString=json.dumps({"password_hash": PasswordHasher().hash(ADMIN_PASSWORD)}),
    )
    url_file.write_text(url)
    return url


def down(state: Path) -> None:
    pid_file = state / "moto.pid"
    if not pid_file.exists():
        return
    pid = int(pid_file.read_text())
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    pid_file.unlink()
    (state / "moto.url").unlink(missing_ok=True)


if __name__ == "__main__":
    action, directory = sys.argv[1], Path(sys.argv[2])
    if action == "up":
        print(up(directory))
    elif action == "down":
        down(directory)
    else:
        raise SystemExit(f"unknown action {action!r}: use up or down")
