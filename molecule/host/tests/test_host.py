"""testinfra checks of a host configured by roles/app_host (run by molecule/host's verify).

Native podman backend (`--hosts=podman://NAME`): a few seconds instead of Ansible's backend.
The port and the moto server come from the verify playbook's environment.
"""

from __future__ import annotations

import json
import os
import time
import urllib.request

import pytest

from tests.support.moto_server import require_loopback

PORT = int(os.environ.get("CRAYON_HOST_PORT", "18461"))
MOTO = os.environ.get("CRAYON_MOTO_URL", "")
UNITS = ("crayon.socket", "crayon.service", "litestream.service")


@pytest.mark.parametrize("unit", UNITS)
def test_units_enabled_and_running(host, unit):
    service = host.service(unit)
    assert service.is_enabled, f"{unit} is not enabled"
    assert service.is_running, f"{unit} is not running"


def test_restore_ran_before_the_app(host):
    out = host.check_output("systemctl show -p ActiveState -p Result crayon-restore.service")
    assert "ActiveState=active" in out and "Result=success" in out, out


@pytest.mark.parametrize("unit", ["crayon.service", "litestream.service"])
def test_processes_run_as_uid_1000(host, unit):
    pid = host.check_output(f"systemctl show -p MainPID --value {unit}")
    assert pid not in ("", "0"), f"{unit} has no main process"
    status = host.file(f"/proc/{pid}/status").content_string
    uid_line = next(line for line in status.splitlines() if line.startswith("Uid:"))
    assert uid_line.split()[1:] == ["1000"] * 4, uid_line
    assert host.user("crayon").uid == 1000


def test_port_listening(host):
    assert host.socket(f"tcp://127.0.0.1:{PORT}").is_listening


def test_readyz_answers_200_inside_and_outside(host):
    inside = host.run(f"curl -s -o /dev/null -w '%{{http_code}}' http://127.0.0.1:{PORT}/readyz")
    assert inside.stdout == "200", inside
    with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/readyz", timeout=10) as response:
        assert response.status == 200
        body = json.loads(response.read())
    assert body["status"] == "ready", body


@pytest.mark.parametrize(
    ("path", "mode", "owner", "group"),
    [
        ("/etc/crayon", 0o750, "root", "crayon"),
        ("/etc/crayon/crayon.env", 0o600, "root", "root"),
        ("/etc/crayon/litestream.env", 0o600, "root", "root"),
        ("/etc/crayon/litestream.yml", 0o640, "root", "crayon"),
        ("/var/lib/crayon", 0o700, "crayon", "crayon"),
        ("/var/cache/crayon", 0o700, "crayon", "crayon"),
        ("/opt/crayon/releases", 0o755, "root", "root"),
        ("/opt/crayon/bin/crayon-release", 0o755, "root", "root"),
        ("/opt/crayon/bin/crayon-maintenance", 0o755, "root", "root"),
        ("/opt/crayon/release.json", 0o644, "root", "root"),
    ],
)
def test_permissions(host, path, mode, owner, group):
    f = host.file(path)
    assert f.exists, path
    assert f.mode == mode, f"{path}: {oct(f.mode)}"
    assert (f.user, f.group) == (owner, group), path


def test_release_layout(host):
    current = host.file("/opt/crayon/current")
    assert current.is_symlink
    assert current.linked_to.startswith("/opt/crayon/releases/")
    pyz = host.file(current.linked_to + "/crayon.pyz")
    assert pyz.is_file and pyz.user == "root" and pyz.mode == 0o644
    db = host.file("/var/lib/crayon/crayon.db")
    assert db.is_file and db.user == "crayon" and db.mode & 0o077 == 0


def test_environment_has_no_ca_bundle_for_litestream(host):
    pid = host.check_output("systemctl show -p MainPID --value litestream.service")
    # The scenario puts AWS_CA_BUNDLE into litestream.env on purpose: the unit must drop it.
    assert host.file("/etc/crayon/litestream.env").contains("AWS_CA_BUNDLE")
    environ = host.check_output(f"runuser -u crayon -- cat /proc/{pid}/environ")
    assert "AWS_CA_BUNDLE" not in environ


def test_journald_and_updates_configured(host):
    journald = host.file("/etc/systemd/journald.conf.d/50-crayon.conf")
    assert journald.contains("SystemMaxUse=")
    assert host.file("/etc/apt/apt.conf.d/20auto-upgrades").contains('Unattended-Upgrade "1"')
    assert host.package("unattended-upgrades").is_installed


def test_hardening_in_effect(host):
    out = host.check_output(
        "systemctl show -p NoNewPrivileges -p ProtectSystem -p PrivateTmp -p User crayon.service"
    )
    for expected in (
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "PrivateTmp=yes",
        "User=crayon",
    ):
        assert expected in out, out


def test_limits_in_effect(host):
    """LimitNOFILE and MemoryMax from the role's defaults (sized for a t3.micro)."""
    out = host.check_output("systemctl show -p LimitNOFILE -p MemoryMax crayon.service")
    assert "LimitNOFILE=16384" in out, out
    assert f"MemoryMax={700 * 2**20}" in out, out
    pid = host.check_output("systemctl show -p MainPID --value crayon.service")
    limits = host.file(f"/proc/{pid}/limits").content_string
    assert any(
        line.startswith("Max open files") and line.split()[3:5] == ["16384", "16384"]
        for line in limits.splitlines()
    ), limits


def test_release_tool_lists_the_current_release(host):
    listed = json.loads(host.check_output("/opt/crayon/bin/crayon-release list"))
    current = host.file("/opt/crayon/current").linked_to.rsplit("/", 1)[-1]
    assert listed["current"] == current
    assert [r["version"] for r in listed["releases"] if r["current"]] == [current]
    # The tool's settings hold no secret (the origin secret stays in the 0600 env file).
    assert "SECRET" not in host.file("/opt/crayon/release.json").content_string.upper()


def test_litestream_replicates_to_moto(host):
    """A write on the host shows up in the replica bucket, and the replica restores."""
    require_loopback(MOTO)
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=MOTO,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    bucket = os.environ.get("CRAYON_REPLICA_BUCKET", "crayon-molecule-replica")
    prefix = os.environ.get("CRAYON_REPLICA_PATH", "db")
    marker = f"verify-{time.time_ns()}"
    # A write through SQLite itself (the app user owns the file), beside the app's own tables.
    host.check_output(
        "runuser -u crayon -- sqlite3 /var/lib/crayon/crayon.db "
        '"CREATE TABLE IF NOT EXISTS verify_marker (v TEXT); '
        f"INSERT INTO verify_marker VALUES ('{marker}');\""
    )
    deadline = time.monotonic() + 30
    keys: list[str] = []
    while time.monotonic() < deadline:
        listing = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
        keys = [o["Key"] for o in listing.get("Contents", [])]
        restored = host.run(
            # The unit drops AWS_CA_BUNDLE (UnsetEnvironment); so must this command, which
            # reads the same env file that carries it on purpose.
            "rm -f /tmp/verify.db && env -u AWS_CA_BUNDLE "
            "$(grep -v -e '^#' -e '^AWS_CA_BUNDLE=' /etc/crayon/litestream.env "
            "| tr -d '\"' | xargs) "
            "litestream restore -config /etc/crayon/litestream.yml -o /tmp/verify.db "
            "/var/lib/crayon/crayon.db && "
            f"sqlite3 /tmp/verify.db \"SELECT count(*) FROM verify_marker WHERE v = '{marker}'\""
        )
        if keys and restored.rc == 0 and restored.stdout.strip() == "1":
            break
        time.sleep(1)
    assert keys, f"no replica objects under s3://{bucket}/{prefix}"
    assert restored.rc == 0 and restored.stdout.strip() == "1", restored
    check = host.check_output("sqlite3 /tmp/verify.db 'PRAGMA integrity_check'")
    assert check == "ok"
