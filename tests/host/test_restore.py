"""playbooks/restore.yml on a real systemd host: a podman container running systemd, deployed
with playbooks/host.yml (tests/host/hostkit.py), Litestream replicating to moto on loopback.

One container serves every case, in file order: refusals first (they must change nothing),
then a failure after the stop (it must be undone), then the real restore to a point in time.
Figures are printed with `pytest -s`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import uuid
from collections.abc import Iterator

import pytest
import yaml

from tests.host import hostkit
from tests.support.moto_server import require_loopback

pytestmark = pytest.mark.slow

ROOT = hostkit.ROOT
DATA = "/var/lib/crayon"
DB = f"{DATA}/crayon.db"
FIGURES: dict[str, object] = {}


@pytest.fixture(scope="module")
def host(host_tools, built_pyz, tmp_path_factory) -> Iterator[hostkit.Host]:
    tmp = tmp_path_factory.mktemp("restore")
    moto = hostkit.start_moto(tmp / "moto.log")
    box = hostkit.Host(moto, host_tools, name=f"restore-{uuid.uuid4().hex[:8]}")
    try:
        box.start()
        pyz = hostkit.variant(built_pyz, tmp / "v1" / "crayon.pyz", "restore1")
        started = time.monotonic()
        rc, out, _ = box.deploy("restore-1", pyz)
        assert rc == 0, out[-3000:]
        hostkit.wait_ready(box.url)
        FIGURES["deploy_s"] = round(time.monotonic() - started, 1)
        yield box
    finally:
        box.destroy()
        moto.stop()
        print("\nrestore.yml:", json.dumps(FIGURES, indent=1))


def restore(host: hostkit.Host, *extra: str, check: bool = False) -> tuple[int, str, float]:
    """Run the real playbook against the container, as an operator would."""
    require_loopback(host.moto.url)
    env = host._env() | {
        "AWS_ENDPOINT_URL": host.moto.url,
        "CRAYON_HOST_PORT": str(host.port),
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        "PATH": f"{hostkit.BIN}:{os.environ.get('PATH', '')}",
    }
    cmd = [
        str(hostkit.BIN / "ansible-playbook"),
        *("-i", str(hostkit.INVENTORY), str(ROOT / "playbooks" / "restore.yml")),
        *("-e", f"ansible_host={host.name}"),
        *extra,
        *(["--check"] if check else []),
    ]
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    return proc.returncode, proc.stdout + proc.stderr, time.monotonic() - started


def upload(host: hostkit.Host, seed: int) -> str:
    """One analysis through the API; with durable writes (local-host inventory) a 201 means
    Litestream has it on S3."""
    deadline = time.monotonic() + 240
    while True:
        status, body = hostkit.post_analysis(host.url, hostkit.drawing_png(seed))
        if status == 201:
            return str(body["id"])
        if status == 503 and time.monotonic() < deadline:
            time.sleep(1)  # the reference model is still being trained on a fresh install
            continue
        pytest.fail(f"upload refused: {status} {body}")


def present(host: hostkit.Host, analysis_id: str) -> bool:
    status, _ = hostkit.get(host.url, f"/api/analyses/{analysis_id}")
    assert status in (200, 404), status
    return status == 200


def ids_in(host: hostkit.Host, path: str) -> set[str]:
    out = host.exec("sqlite3", f"file:{path}?mode=ro", "SELECT id FROM analyses").stdout
    return set(out.split())


def pids(host: hostkit.Host) -> dict[str, str]:
    """Main PIDs of the app and Litestream: a refused restore must not restart either."""
    out = host.exec(
        "systemctl", "show", "-p", "Id", "-p", "MainPID", "crayon.service", "litestream.service"
    ).stdout
    blocks = [
        dict(line.split("=", 1) for line in b.splitlines()) for b in out.strip().split("\n\n")
    ]
    found = {b["Id"]: b["MainPID"] for b in blocks}
    assert all(pid != "0" for pid in found.values()), found
    return found


def data_files(host: hostkit.Host) -> list[str]:
    return sorted(host.exec("ls", "-A", DATA).stdout.split())


def inode(host: hostkit.Host) -> str:
    return host.exec("stat", "-c", "%i", DB).stdout.strip()


def utc(moment: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))


def test_arg_specs_match_defaults() -> None:
    """The project's rule for roles (tests/deploy/test_role_specs.py covers roles that site.yml
    runs; app_restore has no main entry point, so it is checked here)."""
    role = ROOT / "roles" / "app_restore"
    defaults = yaml.safe_load((role / "defaults" / "main.yml").read_text())
    specs = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    assert set(specs["restore"]["options"]) == set(defaults)
    assert set(specs["validate"]["options"]) <= set(defaults)
    for entry in specs.values():
        for name, option in entry["options"].items():
            assert option["description"] and option["default"] == defaults[name], name


def test_bad_inputs_are_refused_in_words_before_anything_stops(host: hostkit.Host) -> None:
    upload(host, 1)
    before, files, node = pids(host), data_files(host), inode(host)
    cases = {
        "yesterday": "is not an ISO 8601 time",
        "2026-02-30T10:00:00Z": "is not a real date and time",
        "2099-01-01T00:00:00Z": "is in the future",
        # Well formed, but older than anything the replica holds: refused by the host's check.
        "2001-01-01T00:00:00Z": "the replica holds nothing to restore at or before",
    }
    for stamp, words in cases.items():
        rc, out, seconds = restore(
            host, "-e", f"restore_timestamp={stamp}", "-e", "restore_confirm=true"
        )
        assert rc != 0, out[-2000:]
        assert "NOT RESTORED" in out and words in out, out[-2000:]
        assert "Nothing was changed" in out
        FIGURES[f"refused {stamp} s"] = round(seconds, 1)
    assert pids(host) == before
    assert data_files(host) == files and inode(host) == node


def test_without_confirm_or_in_check_mode_nothing_changes(host: hostkit.Host) -> None:
    kept = upload(host, 2)
    moment = utc(time.time())
    before, files, node = pids(host), data_files(host), inode(host)

    rc, out, seconds = restore(host, "-e", f"restore_timestamp={moment}")
    assert rc != 0, out[-2000:]
    assert "NOT RESTORED: this was a preview" in out and "restore_confirm=true" in out
    assert "would rebuild" in out and "transactions" in out, out[-2000:]
    FIGURES["preview_s"] = round(seconds, 1)

    rc, out, seconds = restore(
        host, "-e", f"restore_timestamp={moment}", "-e", "restore_confirm=true", check=True
    )
    assert rc == 0, out[-2000:]
    assert "would rebuild" in out and "RESTORED" not in out.replace("NOT RESTORED", "")
    FIGURES["check_mode_s"] = round(seconds, 1)

    assert pids(host) == before
    assert data_files(host) == files and inode(host) == node
    assert present(host, kept)


def test_a_failure_after_the_stop_puts_the_old_database_back(host: hostkit.Host) -> None:
    kept = upload(host, 3)
    node = inode(host)
    # A readiness path that never answers 200 makes the restore fail after the swap.
    rc, out, seconds = restore(
        host,
        *("-e", "restore_confirm=true", "-e", "app_restore_ready_path=/no-such-page"),
        *("-e", "app_restore_ready_timeout=6"),
    )
    assert rc != 0, out[-3000:]
    assert "RESTORE FAILED AND UNDONE" in out and "database from before the restore is back" in out
    FIGURES["failed_and_undone_s"] = round(seconds, 1)
    hostkit.wait_ready(host.url)
    assert inode(host) == node  # the very same file is back
    assert present(host, kept)
    files = data_files(host)
    assert not [f for f in files if "before-restore" in f or f.endswith(".hold")], files
    assert [f for f in files if ".failed-restore-" in f], files
    assert host.exec("test", "-e", "/run/crayon-restore.hold", check=False).returncode == 1
    assert upload(host, 4)  # durable write: Litestream ships again


def test_restore_to_a_point_in_time(host: hostkit.Host) -> None:
    earlier = [upload(host, s) for s in range(10, 13)]
    time.sleep(2.5)
    moment = time.time()
    time.sleep(2.5)
    later = [upload(host, s) for s in range(20, 23)]
    assert all(present(host, i) for i in earlier + later)
    time.sleep(1.5)
    before_restore = time.time()

    load = hostkit.LoadGenerator(
        host.url, paths=("/healthz",), workers=2, pause=0.05, timeout=180
    ).start()
    rc, out, seconds = restore(
        host, "-e", f"restore_timestamp={utc(moment)}", "-e", "restore_confirm=true"
    )
    result = load.stop()
    assert rc == 0, out[-4000:]
    FIGURES["restore_s"] = round(seconds, 1)
    FIGURES["requests_during_restore"] = result.summary()
    summary = re.search(r"RESTORED .*?retention removes it", out, re.S)
    assert summary, out[-3000:]
    FIGURES["summary"] = " ".join(summary.group(0).split())
    assert f"state at {utc(moment)}" in FIGURES["summary"]

    # The state at the chosen time, served.
    hostkit.wait_ready(host.url)
    assert all(present(host, i) for i in earlier)
    assert not any(present(host, i) for i in later)
    # Requests that arrived while the files were swapped waited for the app, none failed.
    assert result.failed == 0, result.errors

    # The old database is kept beside the new one, with the later rows.
    old = [
        f for f in data_files(host) if re.fullmatch(r"crayon\.db\.before-restore-\d{8}T\d{6}Z", f)
    ]
    assert len(old) == 1, data_files(host)
    assert set(earlier + later) <= ids_in(host, f"{DATA}/{old[0]}")
    assert host.exec("test", "-e", "/run/crayon-restore.hold", check=False).returncode == 1

    # Litestream replicates again: a durable write is acknowledged only once it is on S3, and
    # the replica's newest state is the rolled-back one plus that write.
    after = upload(host, 30)
    assert ids_in(host, replica_copy(host)) == ids_in(host, DB) >= {*earlier, after}
    # The later history is still in the replica, reachable by its time (docs/durability.md).
    undone = ids_in(host, replica_copy(host, utc(before_restore)))
    assert set(earlier + later) <= undone and after not in undone


def replica_copy(host: hostkit.Host, timestamp: str | None = None) -> str:
    """`crayon db restore --output` on the host, as the app user: a copy of the replica's state
    (newest, or at `timestamp`) beside the database, for sqlite3 to read."""
    out = f"{DATA}/check-{uuid.uuid4().hex[:8]}.db"
    done = host.exec(
        "systemd-run", "--quiet", "--wait", "--pipe", "--collect",
        "--property=User=crayon", "--property=EnvironmentFile=/etc/crayon/crayon.env",
        "--property=UnsetEnvironment=AWS_CA_BUNDLE",
        "/usr/bin/python3.11", "/opt/crayon/current/crayon.pyz", "db", "restore", "--output", out,
        *(["--timestamp", timestamp] if timestamp else []),
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return out
