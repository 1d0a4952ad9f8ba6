"""The whole stack on this machine: `make local-up` / `make local-down`.

up: an AWS emulator (moto) on loopback, kept running in the background (pid in .local/);
site.yml against inventories/local builds every AWS resource in it; a systemd host in a
rootful podman container on the host network stands in for the EC2 instance; the app is
released on it with Litestream replicating to the emulated S3; the demo content is loaded;
the local URL is printed. Running it again reuses what is up and changes nothing new.
down: removes the container, stops the emulator, deletes .local/. Also safe to repeat.

Nothing leaves the machine: the emulator listens on 127.0.0.1, the app on 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
STATE = Path(os.environ.get("CRAYON_LOCAL_STATE", ROOT / ".local"))
IMAGE = "localhost/crayon-systemd:bookworm"
APP_PYTHON = "/usr/bin/python3.11"


class Refused(Exception):
    """A request that cannot be carried out: the message says what to do."""


# --- State ---------------------------------------------------------------------------------


def _read(name: str) -> dict[str, Any]:
    path = STATE / name
    return json.loads(path.read_text()) if path.exists() else {}


def _write(name: str, data: dict[str, Any]) -> None:
    STATE.mkdir(parents=True, exist_ok=True)
    (STATE / name).write_text(json.dumps(data, indent=2) + "\n")


def container_name() -> str:
    # One local stack per checkout: two clones on one machine do not collide. Tests and the
    # bench name their own (CRAYON_LOCAL_CONTAINER with CRAYON_LOCAL_STATE).
    return os.environ.get("CRAYON_LOCAL_CONTAINER") or (
        "crayon-local-" + hashlib.sha256(str(ROOT).encode()).hexdigest()[:8]
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening(port: int) -> bool:
    # A TCP connect, not /moto-api/data.json: that dumps the whole emulated account and, with
    # a full stack in it on a busy machine, takes longer than any sensible timeout.
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _answers(url: str) -> bool:
    if not url.startswith("http://127.0.0.1:"):
        return False
    try:
        with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - loopback http only
            return True
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def _alive(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"moto_server" in cmdline


# --- What the CLI and the playbooks get ----------------------------------------------------


def moto_env() -> dict[str, str]:
    st = _read("moto.json")
    if not st or not _alive(int(st["pid"])):
        raise Refused("The local stack is not up: run `make local-up` first.")
    url = str(st["url"])
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_URL": url,
        "AWS_ENDPOINT_URL": url,
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def host_env() -> dict[str, str]:
    host = _read("host.json")
    env = {
        "CRAYON_LOCAL_CONTAINER": host.get("container", container_name()),
        "CRAYON_HOST_PORT": str(host.get("port", "")),
        "CRAYON_LITESTREAM_BIN": str(BIN / "litestream"),
    }
    if host.get("containers_conf"):
        env["CONTAINERS_CONF"] = str(host["containers_conf"])
    password = STATE / "admin-password.hash"
    if password.exists():
        env["CRAYON_ADMIN_PASSWORD_HASH"] = password.read_text().strip()
    return env


def playbook_vars() -> dict[str, Any]:
    # No CloudFront stands in front of the local host: the browser talks to it directly, so
    # the app must not ask for CloudFront's origin header.
    return {"app_host_origin_secret": ""}


def local_url() -> str:
    port = _read("host.json").get("port")
    return f"http://127.0.0.1:{port}" if port else "(the local stack is not up)"


# --- up ------------------------------------------------------------------------------------


def why_not() -> str | None:
    """Why the local stack cannot run on this machine, or None."""
    if not shutil.which("podman"):
        return "podman is not installed (apt-get install podman runc debootstrap)"
    if os.geteuid() != 0:
        return "the systemd host container needs rootful podman: run as root"
    for tool in ("ansible-playbook", "moto_server", "litestream"):
        if not (BIN / tool).exists():
            return f"{tool} is missing from {BIN} (pip install -e '.[dev,deploy]')"
    return None


def start_moto() -> dict[str, str]:
    st = _read("moto.json")
    if st and _alive(int(st["pid"])) and _listening(int(st["port"])):
        print(f"local-up: AWS emulator already running at {st['url']} (pid {st['pid']})")
        return moto_env()
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    STATE.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    with open(STATE / "moto.log", "ab") as log:
        # Its own session: it outlives this command and is stopped by local-down.
        proc = subprocess.Popen(
            [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    deadline = time.monotonic() + 30
    while not _answers(f"{url}/moto-api/data.json"):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise Refused(f"The AWS emulator did not start: see {STATE / 'moto.log'}.")
        time.sleep(0.2)
    _write("moto.json", {"pid": proc.pid, "port": port, "url": url})
    print(f"local-up: AWS emulator on {url} (pid {proc.pid})")
    return moto_env()


def ensure_admin_password() -> None:
    if (STATE / "admin-password.hash").exists():
        return
    from argon2 import PasswordHasher

    password = secrets.token_urlsafe(12)
    STATE.mkdir(parents=True, exist_ok=True)
    for name, text in (
        ("admin-password", password),
        ("admin-password.hash", PasswordHasher().hash(password)),
    ):
        path = STATE / name
        path.write_text(text + "\n")
        path.chmod(0o600)


def start_host() -> None:
    conf = (
        subprocess.run(
            ["bash", str(ROOT / "scripts" / "podman-systemd-image.sh")],
            check=True,
            capture_output=True,
            text=True,
            timeout=1800,
        )
        .stdout.strip()
        .splitlines()[-1]
        .split("=", 1)[1]
    )
    host = _read("host.json")
    name = container_name()
    env = os.environ | {"CONTAINERS_CONF": conf}
    running = subprocess.run(
        ["podman", "container", "inspect", "-f", "{{.State.Running}}", name],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    ).stdout.strip()
    if running == "true" and host.get("port"):
        print(f"local-up: host container {name} already running")
        return
    subprocess.run(
        ["podman", "rm", "-f", "-t", "0", name], capture_output=True, env=env, check=False
    )
    # Recorded before it exists: local-down removes only a container its state names.
    _write("host.json", {"container": name, "port": _free_port(), "containers_conf": conf})
    subprocess.run(
        [
            "podman",
            "run",
            "-d",
            "--name",
            name,
            "--network",
            "host",
            "--systemd",
            "always",
            "--hostname",
            name,
            IMAGE,
            "/sbin/init",
        ],
        check=True,
        capture_output=True,
        env=env,
    )
    subprocess.run(
        ["podman", "exec", name, "systemctl", "is-system-running", "--wait"],
        capture_output=True,
        env=env,
        check=False,
    )
    print(f"local-up: systemd host container {name}")


def build() -> Path:
    """dist/crayon.pyz, rebuilt (make dist, a minute or two) only when the sources are newer."""
    pyz = ROOT / "dist" / "crayon.pyz"
    sources = [*ROOT.glob("app/**/*"), *ROOT.glob("migrations/**/*"), ROOT / "pyproject.toml"]
    # Compiled files do not count: importing the app (a test run) writes them after a build.
    newest = max(p.stat().st_mtime for p in sources if p.is_file() and "__pycache__" not in p.parts)
    if not pyz.exists() or pyz.stat().st_mtime < newest:
        subprocess.run(["make", "-s", "dist"], cwd=ROOT, check=True)
    return pyz


def release_version(pyz: Path) -> str:
    # The build's own digest: local-up twice with the same build ships nothing new.
    return "local-" + hashlib.sha256(pyz.read_bytes()).hexdigest()[:12]


def run_site(pyz: Path) -> int:
    from ops import ansible_env, load_env

    env = load_env("local")
    extra = playbook_vars() | {
        "app_host_release_version": release_version(pyz),
        "app_host_release_pyz": str(pyz),
    }
    cmd = [
        str(BIN / "ansible-playbook"),
        "-i",
        str(ROOT / "inventories" / "local"),
        str(ROOT / "playbooks" / "site.yml"),
        "--skip-tags",
        "aws_host",
        "-e",
        json.dumps(extra),
    ]
    return subprocess.run(cmd, cwd=ROOT, env=ansible_env(env), check=False).returncode


def load_demo() -> None:
    host = _read("host.json")
    env = os.environ | {"CONTAINERS_CONF": str(host.get("containers_conf", ""))}
    subprocess.run(
        [
            "podman",
            "exec",
            host["container"],
            "systemd-run",
            "--wait",
            "--pipe",
            "--quiet",
            "-p",
            "User=crayon",
            "-p",
            "EnvironmentFile=/etc/crayon/crayon.env",
            "-p",
            "WorkingDirectory=/var/lib/crayon",
            APP_PYTHON,
            "/opt/crayon/current/crayon.pyz",
            "demo",
            "ensure",
        ],
        check=True,
        env=env,
        capture_output=True,
    )


def up() -> int:
    reason = why_not()
    if reason:
        print(f"local-up: cannot run here: {reason}. Nothing was changed.", file=sys.stderr)
        return 2
    started = time.monotonic()
    try:
        start_moto()
        ensure_admin_password()
        start_host()
    except Refused as e:
        print(f"local-up: {e}", file=sys.stderr)
        return 1
    pyz = build()
    rc = run_site(pyz)
    if rc != 0:
        print("local-up: site.yml failed (see above). `make local-down` removes what was made.")
        return rc
    try:
        load_demo()
    except subprocess.CalledProcessError as e:
        tail = (e.stderr or b"").decode(errors="replace").strip().splitlines()[-3:]
        print(f"local-up: the app is up but the demo content did not load: {' / '.join(tail)}")
        return 1
    print(
        f"\nThe local stack is up in {time.monotonic() - started:.0f} s: {local_url()}\n"
        f"Admin password: {STATE / 'admin-password'}\n"
        "Next: make deploy ENV=local VERSION=2  |  make rollback ENV=local  |  "
        "make logs ENV=local  |  make status ENV=local  |  make local-down"
    )
    return 0


# --- down ----------------------------------------------------------------------------------


def down() -> int:
    host = _read("host.json")
    name = host.get("container")
    if name and shutil.which("podman"):
        env = os.environ | (
            {"CONTAINERS_CONF": host["containers_conf"]} if host.get("containers_conf") else {}
        )
        subprocess.run(
            ["podman", "rm", "-f", "-t", "0", name], capture_output=True, env=env, check=False
        )
    st = _read("moto.json")
    if st and _alive(int(st["pid"])):
        os.kill(int(st["pid"]), signal.SIGTERM)
        for _ in range(100):
            if not _alive(int(st["pid"])):
                break
            time.sleep(0.1)
        else:
            os.kill(int(st["pid"]), signal.SIGKILL)
    shutil.rmtree(STATE, ignore_errors=True)
    print("local-down: the local stack is gone (container, emulator and .local/).")
    return 0
