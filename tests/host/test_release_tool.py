"""The host's release tool (crayon-release) and its playbooks on a real systemd host (podman).

One host container for the whole module (a container start and the first whole-role deploy
cost minutes): the tests run in file order and each leaves the host serving a known release.
1. the fast path (playbooks/release.yml) switches version under a concurrent reader with zero
   failed requests, and a second run of the same version changes nothing;
2. a build that dies at start is rolled back by itself, with the reason and its journal;
3. rollback to the previous release and to a named one (playbooks/rollback-host.yml);
4. rollback with nothing older / to an unknown version refuses (exit 2) and changes nothing;
5. maintenance on serves 503 + Retry-After and the page, off brings the app back;
6. list and status describe the host.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.host import hostkit

pytestmark = pytest.mark.slow


@dataclass
class Drill:
    host: hostkit.Host
    builds: dict[str, Path]


@pytest.fixture(scope="module")
def drill(
    host_tools: dict[str, str], built_pyz: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Drill]:
    work = tmp_path_factory.mktemp("release-tool")
    builds = {
        name: hostkit.variant(built_pyz, work / name / "crayon.pyz", f"tool{name}", broken=broken)
        for name, broken in (("r1", False), ("r2", False), ("r3", False), ("bad", True))
    }
    moto = hostkit.start_moto(work / "moto.log")
    host = hostkit.Host(moto, host_tools)
    try:
        host.start()
        rc, out, _ = host.deploy("r1", builds["r1"])
        assert rc == 0, out[-3000:]
        hostkit.wait_ready(host.url)
        yield Drill(host, builds)
    finally:
        host.destroy()
        moto.stop()


def serving_tag(host: hostkit.Host) -> str:
    """The shiv build tag of the running app process (read from its memory maps)."""
    pid = host.exec("systemctl", "show", "-P", "MainPID", "crayon.service").stdout.strip()
    # As the app user: root in the container lacks CAP_SYS_PTRACE for its maps.
    maps = host.exec(
        "runuser", "-u", "crayon", "--", "cat", f"/proc/{pid}/maps", check=False
    ).stdout
    found = re.search(r"-(tool\w+)/site-packages/", maps)
    return found.group(1) if found else f"none (pid {pid})"


def changed_count(out: str) -> int:
    found = re.search(r"changed=(\d+)", out.split("PLAY RECAP", 1)[-1])
    assert found, out[-2000:]
    return int(found.group(1))


def test_fast_release_under_load_and_idempotent(drill: Drill) -> None:
    host = drill.host
    load = hostkit.LoadGenerator(host.url, workers=2, pause=0.02, max_seconds=300).start()
    try:
        rc, out, seconds = host.release("r2", drill.builds["r2"])
    finally:
        result = load.stop()
    assert rc == 0, out[-3000:]
    assert "r2 is live (was r1) after" in out
    assert host.current_release() == "r2"
    assert serving_tag(host) == "toolr2"
    assert result.sent > 50, f"the reader sent too little to mean anything: {result.summary()}"
    assert result.failed == 0, f"{result.failed} failed: {result.errors}"
    print(f"\nfast release: {seconds:.1f} s; reader: {result.summary()}")

    rc, out, _ = host.release("r2", drill.builds["r2"])
    assert rc == 0, out[-3000:]
    assert changed_count(out) == 0, out[-3000:]
    assert "already live" in out


def test_deploy_by_digest_and_check_change_nothing_they_need_not(drill: Drill) -> None:
    """The release action's first step (`deploy --sha256`) and check mode (`--check`)."""
    host = drill.host
    digest = hashlib.sha256(drill.builds["r2"].read_bytes()).hexdigest()
    code, said, _ = host.tool("deploy", "--sha256", digest, "r2")
    assert code == 0 and said["changed"] is False and "already live" in str(said["message"])
    code, said, _ = host.tool("deploy", "--sha256", "a" * 64, "r7")
    assert code == 3 and said["need_build"] is True and said["changed"] is False
    code, said, _ = host.tool("deploy", "--check", "--sha256", "a" * 64, "r7")
    assert code == 0 and said["changed"] is True
    assert "would install and switch to r7 (now r2)" in str(said["message"])
    code, said, _ = host.tool("deploy", "--check", "--sha256", "a" * 64, "r2")
    assert code == 2 and "Releases are immutable" in str(said["error"])
    code, said, _ = host.tool("deploy", "--sha256", "short", "r7")
    assert code == 2 and "64 hex digits" in str(said["error"])
    rc, out, _ = host.release("r2", drill.builds["r2"], "--check")
    assert rc == 0 and "already live" in out and changed_count(out) == 0, out[-3000:]
    assert host.current_release() == "r2"
    assert "r7" not in host.exec("ls", "/opt/crayon/releases").stdout


def test_immutable_version(drill: Drill) -> None:
    host = drill.host
    rc, out, _ = host.release("r2", drill.builds["r3"])
    assert rc != 0
    assert "already on this host with different content" in out
    assert host.current_release() == "r2"


def test_broken_release_is_rolled_back_with_its_reason(drill: Drill) -> None:
    host = drill.host
    load = hostkit.LoadGenerator(host.url, workers=2, pause=0.05, max_seconds=300).start()
    try:
        rc, out, _ = host.release("bad", drill.builds["bad"], "-e", "app_host_ready_timeout=15")
    finally:
        result = load.stop()
    assert rc != 0, "a build that cannot start must fail the playbook"
    assert "ROLLED BACK: release bad did not become ready" in out, out[-3000:]
    # The journal lines that explain it come with the failure.
    assert "deliberately broken build" in out, out[-3000:]
    assert host.current_release() == "r2"
    assert serving_tag(host) == "toolr2"
    assert hostkit.get(host.url, "/readyz")[0] == 200
    assert result.failed == 0, f"{result.failed} failed during the rollback: {result.errors}"


def test_rollback_to_previous_and_to_a_named_release(drill: Drill) -> None:
    host = drill.host
    rc, out, _ = host.playbook("rollback-host.yml")
    assert rc == 0, out[-3000:]
    assert "rolled back to r1 (was r2)" in out
    assert host.current_release() == "r1"
    assert serving_tag(host) == "toolr1"

    rc, out, _ = host.playbook("rollback-host.yml", "-e", "rollback_version=r2")
    assert rc == 0, out[-3000:]
    assert host.current_release() == "r2"
    assert serving_tag(host) == "toolr2"
    assert hostkit.get(host.url, "/readyz")[0] == 200


def test_rollback_refusals_change_nothing(drill: Drill) -> None:
    host = drill.host
    code, said, _ = host.tool("rollback", "no-such-version")
    assert code == 2, said
    assert "is not on this host" in str(said["error"]) and "r1" in str(said["error"])
    assert host.current_release() == "r2"

    rc, out, _ = host.playbook("rollback-host.yml", "-e", "rollback_version=no-such-version")
    assert rc != 0
    assert "REFUSED (nothing changed)" in out
    assert host.current_release() == "r2"

    # r1 is the oldest release: from it there is nothing to roll back to.
    assert host.tool("rollback", "r1")[0] == 0
    pid = host.exec("systemctl", "show", "-P", "MainPID", "crayon.service").stdout.strip()
    code, said, _ = host.tool("rollback")
    assert code == 2, said
    assert "nothing to roll back to" in str(said["error"])
    assert host.current_release() == "r1"
    assert host.exec("systemctl", "show", "-P", "MainPID", "crayon.service").stdout.strip() == pid
    assert host.tool("rollback", "r2")[0] == 0
    assert serving_tag(host) == "toolr2"


def test_maintenance_on_and_off(drill: Drill) -> None:
    host = drill.host
    rc, out, _ = host.playbook("maintenance-host.yml", "-e", "maintenance=on")
    assert rc == 0, out[-3000:]
    status, headers, body = hostkit.get_full(host.url, "/")
    assert status == 503
    assert headers.get("Retry-After") == "300"
    assert b"Down for maintenance" in body
    assert hostkit.get(host.url, "/readyz")[0] == 503
    # Releases wait for the end of maintenance.
    code, said, _ = host.tool("deploy", "--sha256", "0" * 64, "r9")
    assert code == 2 and "maintenance mode is on" in str(said["error"])
    assert host.tool("status")[1]["maintenance"] is True

    rc, out, _ = host.playbook("maintenance-host.yml", "-e", "maintenance=off")
    assert rc == 0, out[-3000:]
    assert hostkit.get(host.url, "/readyz")[0] == 200
    assert serving_tag(host) == "toolr2"

    rc, out, _ = host.playbook("maintenance-host.yml", "-e", "maintenance=maybe")
    assert rc != 0 and "-e maintenance=on" in out


def test_list_and_status(drill: Drill) -> None:
    host = drill.host
    code, listed, _ = host.tool("list")
    assert code == 0
    assert listed["current"] == "r2"
    releases = {r["version"]: r for r in listed["releases"]}  # type: ignore[union-attr]
    assert {"r1", "r2", "bad"} <= set(releases)
    assert releases["r2"]["current"] is True and releases["r1"]["current"] is False
    assert all(r["installed_at"] for r in releases.values())
    # The build that failed its gate is marked: a plain rollback never picks it.
    assert releases["bad"]["failed_at"] and not releases["r2"]["failed_at"]

    code, status, _ = host.tool("status")
    assert code == 0, status
    assert status["current"] == "r2"
    assert status["units"] == {
        "crayon.socket": "active",
        "crayon.service": "active",
        "litestream.service": "active",
    }
    assert status["readyz"]["status"] == 200  # type: ignore[index]
    assert "replication" in status
