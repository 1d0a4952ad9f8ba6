"""Loss drill: the host is destroyed right after its last acknowledged write; a fresh host,
deployed with the same playbook, gets the database back from the Litestream replica.

With CRAYON_DURABLE_WRITES=1 (set by inventories/local-host) every acknowledged analysis must
come back. Figures are printed (pytest -s) and written to $CRAYON_LOSS_REPORT when set.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from tests.host import hostkit

pytestmark = pytest.mark.slow

WRITES = 30


def test_host_lost_database_comes_back(host_tools, built_pyz, drill_moto, tmp_path: Path):
    pyz = hostkit.variant(built_pyz, tmp_path / "v1" / "crayon.pyz", "loss1")
    figures: dict[str, object] = {}
    first = hostkit.Host(drill_moto, host_tools).start()
    acknowledged: list[str] = []
    try:
        rc, out, _ = first.deploy("loss-1", pyz)
        assert rc == 0, out[-3000:]
        hostkit.wait_ready(first.url)
        deadline = time.monotonic() + 240
        seed = 0
        while len(acknowledged) < WRITES:
            status, body = hostkit.post_analysis(first.url, hostkit.drawing_png(seed))
            if status == 201:
                acknowledged.append(str(body["id"]))
                seed += 1
            elif status == 503 and time.monotonic() < deadline:
                time.sleep(1)  # the reference model is still being trained on a fresh install
            else:
                pytest.fail(f"upload refused: {status} {body}")
        last_ack = time.monotonic()
    finally:
        # The host is lost at once: no stop, no final sync (podman rm -f -t 0 = SIGKILL).
        first.destroy()
    figures["acknowledged"] = len(acknowledged)
    figures["seconds_from_last_ack_to_loss"] = round(time.monotonic() - last_ack, 2)

    second = hostkit.Host(drill_moto, host_tools, port=first.port).start()
    try:
        started = time.monotonic()
        rc, out, seconds = second.deploy("loss-1", pyz)
        assert rc == 0, out[-3000:]
        figures["fresh_host_deploy_s"] = round(seconds, 1)
        restore = second.exec(
            "journalctl", "-u", "crayon-restore.service", "--no-pager", "-o", "cat", check=False
        )
        figures["restore_log_tail"] = restore.stdout.strip().splitlines()[-3:]
        missing = [
            analysis_id
            for analysis_id in acknowledged
            if hostkit.get(second.url, f"/api/analyses/{analysis_id}")[0] != 200
        ]
        figures["lost"] = len(missing)
        figures["back_serving_s"] = round(time.monotonic() - started, 1)
    finally:
        second.destroy()
    print("\nloss drill:", json.dumps(figures, indent=1))
    if os.environ.get("CRAYON_LOSS_REPORT"):
        Path(os.environ["CRAYON_LOSS_REPORT"]).write_text(json.dumps(figures, indent=1))
    assert not missing, f"{len(missing)} acknowledged analyses lost: {missing}"
