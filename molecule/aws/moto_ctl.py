"""Start/stop the scenario's moto server and run ansible-playbook against it.

    python molecule/aws/moto_ctl.py start STATE_DIR   # moto on a free loopback port + a cert
    python molecule/aws/moto_ctl.py stop STATE_DIR
    python molecule/aws/moto_ctl.py env STATE_DIR     # shell exports for a manual run
    python molecule/aws/moto_ctl.py play STATE_DIR [--expect-changed N|--allow-only TASK...] -- ARGS

`play` runs `ansible-playbook ARGS` from the repository root with the moto environment, the
JSON callback, and prints a short summary: how many tasks changed and which. It exits 1 when
the playbook fails, or when the changed tasks differ from what the caller allowed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.support.moto_server import MotoServer, require_loopback  # noqa: E402


def _state(state_dir: Path) -> dict:
    return json.loads((state_dir / "moto.json").read_text())


def _self_signed() -> tuple[bytes, bytes]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "crayon.test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("crayon.test")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    pem_key = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), pem_key


def start(state_dir: Path) -> None:
    import boto3

    state_dir.mkdir(parents=True, exist_ok=True)
    # moto runs no containers: report the desired tasks as running so that a deploy can
    # reach a steady state (the rollout itself cannot be emulated).
    os.environ["MOTO_ECS_SERVICE_RUNNING"] = "1"
    server = MotoServer(log_path=state_dir / "moto.log")
    server.start()
    require_loopback(server.url)
    env = server.env()
    cert, key = _self_signed()
    acm = boto3.client(
        "acm",
        endpoint_url=server.url,
        region_name=env["AWS_REGION"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    arn = acm.import_certificate(Certificate=cert, PrivateKey=key)["CertificateArn"]
    assert server._proc is not None
    (state_dir / "moto.json").write_text(
        json.dumps(
            {
                "pid": server._proc.pid,
                "url": server.url,
                "port": server.port,
                "certificate_arn": arn,
            }
        )
    )
    print(json.dumps({"url": server.url, "certificate_arn": arn}))


def stop(state_dir: Path) -> None:
    path = state_dir / "moto.json"
    if not path.exists():
        print("no moto server recorded: nothing to stop")
        return
    pid = _state(state_dir)["pid"]
    try:
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            os.kill(pid, 0)
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    path.unlink()
    print(f"stopped moto (pid {pid})")


def run_env(state_dir: Path) -> dict[str, str]:
    st = _state(state_dir)
    url = require_loopback(st["url"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(MotoServer(port=int(st["port"])).env())
    env["AWS_URL"] = env["AWS_ENDPOINT_URL"] = url
    env["CRAYON_CERTIFICATE_ARN"] = st["certificate_arn"]
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["ANSIBLE_CONFIG"] = str(REPO / "ansible.cfg")
    return env


def play(state_dir: Path, args: list[str], allow_only: list[str] | None, log_name: str) -> int:
    env = run_env(state_dir)
    env["ANSIBLE_STDOUT_CALLBACK"] = "ansible.posix.json"
    env.pop("ANSIBLE_CALLBACKS_ENABLED", None)
    skip = os.environ.get("MOLECULE_AWS_SKIP_TAGS", "")
    if skip:  # e.g. to test the core roles alone: aws_cdn,aws_monitoring,aws_budget
        args = [*args, "--skip-tags", skip]
    started = time.monotonic()
    proc = subprocess.run(
        ["ansible-playbook", *args], cwd=REPO, env=env, capture_output=True, text=True, check=False
    )
    took = time.monotonic() - started
    (state_dir / f"{log_name}.json").write_text(proc.stdout)
    (state_dir / f"{log_name}.stderr").write_text(proc.stderr)
    try:
        doc = json.loads(proc.stdout[proc.stdout.index("{") :])
    except ValueError:
        print(proc.stdout[-3000:], proc.stderr[-3000:])
        return 1
    changed, failed = [], []
    for play_ in doc["plays"]:
        for task in play_["tasks"]:
            for host, res in task["hosts"].items():
                name = task["task"]["name"]
                if res.get("changed"):
                    changed.append(name)
                if res.get("failed") or res.get("unreachable"):
                    failed.append(
                        {
                            "task": name,
                            "host": host,
                            "msg": res.get("msg"),
                            "results": [
                                r.get("msg") for r in res.get("results", []) if r.get("failed")
                            ],
                        }
                    )
    summary = {
        "playbook": " ".join(args),
        "seconds": round(took, 1),
        "rc": proc.returncode,
        "changed": len(changed),
        "changed_tasks": changed,
        "failed": failed,
    }
    print(json.dumps(summary))
    if proc.returncode != 0 or failed:
        print(proc.stderr[-3000:])
        return 1
    if allow_only is not None and any(t not in allow_only for t in changed):
        print(f"changed tasks outside {allow_only}: {[t for t in changed if t not in allow_only]}")
        return 2
    return 0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("action", choices=["start", "stop", "env", "play"])
    ap.add_argument("state_dir", type=Path)
    ap.add_argument("--allow-only", nargs="*", default=None, help="task names allowed to change")
    ap.add_argument("--log-name", default="play")
    argv = sys.argv[1:]
    rest = argv[argv.index("--") + 1 :] if "--" in argv else []
    ns = ap.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    if ns.action == "start":
        start(ns.state_dir)
    elif ns.action == "stop":
        stop(ns.state_dir)
    elif ns.action == "env":
        for k, v in run_env(ns.state_dir).items():
            if k.startswith(("AWS_", "CRAYON_")):
                print(f"export {k}={v}")
    else:
        return play(ns.state_dir, rest, ns.allow_only, ns.log_name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
