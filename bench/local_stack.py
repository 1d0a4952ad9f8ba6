"""Time each step of the local stack from a fresh state, as the end-to-end test runs them:
local up, local up again (nothing to do), deploy a change, roll back, restore to a time, logs
with a request id, local down. Prints one line per step and the total.

    python bench/local_stack.py

Needs root, podman, runc and debootstrap (the systemd host image is built once and cached);
the rollback step needs playbooks/rollback-host.yml (h12-host) and is reported as skipped
without it. Everything stays on loopback.
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.stack import LocalStack, Step, why_not  # noqa: E402
from tests.host.hostkit import ensure_pyz, variant  # noqa: E402


class Timed(LocalStack):
    """LocalStack that prints each step's time as soon as it is done (a crash loses none)."""

    def ops(self, name: str, *args: str, timeout: float = 1800) -> Step:
        step = super().ops(name, *args, timeout=timeout)
        verdict = "ok" if step.returncode == 0 else f"FAILED rc={step.returncode}"
        print(f"  {step.name:<28} {step.seconds:7.1f} s  {verdict}", flush=True)
        return step


def main() -> int:
    reason = why_not()
    if reason:
        print(f"local_stack: skipped: {reason}")
        return 0
    with tempfile.TemporaryDirectory(prefix="crayon-bench-local-") as tmp:
        st = Timed(state=Path(tmp) / "state")
        pyz = variant(ensure_pyz(), Path(tmp) / "v2.pyz", "bench-v2")
        try:
            st.ops("local-up (fresh)", "local-up")
            st.ops("local-up (again)", "local-up")
            st.ops("deploy v2", "--env", "local", "deploy", "v2", "--pyz", str(pyz))
            if (ROOT / "playbooks" / "rollback-host.yml").exists():
                st.ops("rollback", "--env", "local", "rollback")
            else:
                print("rollback: skipped (playbooks/rollback-host.yml not in this tree)")
            time.sleep(2)
            when = dt.datetime.now(dt.UTC).replace(microsecond=0)
            st.ops(
                "restore to a time",
                "--env",
                "local",
                "restore",
                f"{when:%Y-%m-%dT%H:%M:%SZ}",
                "--confirm",
            )
            rid = f"bench-{uuid.uuid4().hex[:8]}"
            st.get("/healthz", request_id=rid)
            logs = st.ops(
                "logs --grep <request id>", "--env", "local", "logs", "--since", "5m", "--grep", rid
            )
            if rid not in logs.output:
                print(f"logs: the request id {rid} was not found")
        finally:
            st.ops("local-down", "local-down")
    failed = [s for s in st.steps if s.returncode != 0]
    print("== figures")
    for step in st.steps:
        verdict = "ok" if step.returncode == 0 else f"FAILED rc={step.returncode}"
        print(f"{step.name:<28} {step.seconds:7.1f} s  {verdict}")
    print(f"{'total':<28} {sum(s.seconds for s in st.steps):7.1f} s")
    for step in failed:
        print(f"--- {step.name} output (tail) ---\n{step.output[-3000:]}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
