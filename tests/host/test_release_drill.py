"""Release drill on a real systemd host (podman) with the real deploy playbook, under load.

A bounded load generator on loopback runs while we (1) ship a new version: zero failed
requests; (2) ship a build that dies at start: the role rolls it back by itself, zero failed
requests, and the playbook fails saying so. Figures are printed (pytest -s) and written to
$CRAYON_DRILL_REPORT when set.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.host import hostkit

pytestmark = pytest.mark.slow


def test_release_and_rollback_under_load(host_tools, built_pyz, drill_moto, tmp_path: Path):
    good_1 = hostkit.variant(built_pyz, tmp_path / "v1" / "crayon.pyz", "drill1")
    good_2 = hostkit.variant(built_pyz, tmp_path / "v2" / "crayon.pyz", "drill2")
    broken = hostkit.variant(built_pyz, tmp_path / "v3" / "crayon.pyz", "drill3", broken=True)
    host = hostkit.Host(drill_moto, host_tools).start()
    figures: dict[str, object] = {}
    try:
        rc, out, seconds = host.deploy("drill-1", good_1)
        assert rc == 0, out[-3000:]
        figures["first_deploy_s"] = round(seconds, 1)
        hostkit.wait_ready(host.url)

        load = hostkit.LoadGenerator(host.url, workers=4, pause=0.02, max_seconds=400).start()
        rc, out, seconds = host.deploy("drill-2", good_2, "--tags", "app_host_release")
        assert rc == 0, out[-3000:]
        assert host.current_release() == "drill-2"
        figures["release_s"] = round(seconds, 1)

        rc, out, seconds = host.deploy(
            "drill-3", broken, "--tags", "app_host_release", ready_timeout=20
        )
        figures["broken_release_s"] = round(seconds, 1)
        assert rc != 0, "a build that cannot start must fail the playbook"
        assert "ROLLED BACK: release drill-3 did not become ready" in out, out[-3000:]
        assert host.current_release() == "drill-2"
        status, _ = hostkit.get(host.url, "/readyz")
        assert status == 200
        result = load.stop()
        figures["load"] = result.summary()
        figures["failed_requests"] = result.failed
        figures["requests"] = result.sent
    finally:
        journal = host.exec(
            "journalctl", "-u", "crayon.service", "--no-pager", "-n", "40", check=False
        )
        host.destroy()
    print("\nrelease drill:", json.dumps(figures, indent=1))
    if os.environ.get("CRAYON_DRILL_REPORT"):
        Path(os.environ["CRAYON_DRILL_REPORT"]).write_text(json.dumps(figures, indent=1))
    assert result.sent > 200, f"the load generator sent too little to mean anything: {result.sent}"
    assert result.failed == 0, f"{result.failed} requests failed: {result.errors}\n{journal.stdout}"
