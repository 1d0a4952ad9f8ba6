"""Wall time of each example stack against a fresh moto: first build, no-op re-run, destroy.

    .venv/bin/python bench/aws_stack.py [--inventory inventories/emulated ...] [--playbook ...]

For each inventory (by default Crayon's emulated one and every example under
inventories/examples/ that runs against the emulator), starts its own moto server on a free
loopback port (molecule/aws/moto_ctl.py), then times `ansible-playbook -i <inventory>
playbooks/site.yml` three times and destroy.yml once. The second site.yml run is the moto
"settle" run (moto's CreateService drops the deployment configuration, so the service is
updated once; see molecule/aws/molecule.yml);
the third is the no-op re-run users pay on every deploy and must report changed=0.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CTL = REPO / "molecule" / "aws" / "moto_ctl.py"


def _play(state: Path, name: str, *args: str) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, str(CTL), "play", str(state), "--log-name", name, "--", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        sys.exit(f"{name} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}")
    result: dict[str, object] = json.loads(lines[-1])
    return result


def _examples() -> list[str]:
    """Crayon's emulated inventory and every example whose hosts file is an emulated one."""
    found = ["inventories/emulated"]
    for hosts in sorted((REPO / "inventories" / "examples").glob("**/hosts.yml")):
        found.append(str(hosts.parent.relative_to(REPO)))
    return found


def _bench(inventory: str, playbook: str, skip_tags: str) -> list[tuple[str, dict[str, object]]]:
    inv: tuple[str, ...] = ("-i", inventory)
    if skip_tags:
        inv += ("--skip-tags", skip_tags)
    with tempfile.TemporaryDirectory(prefix="aws-stack-bench-") as tmp:
        state = Path(tmp)
        subprocess.run(
            [sys.executable, str(CTL), "start", str(state)], check=True, capture_output=True
        )
        try:
            return [
                ("first build", _play(state, "build", *inv, playbook)),
                ("second run (moto settle)", _play(state, "settle", *inv, playbook)),
                ("no-op re-run", _play(state, "noop", *inv, playbook)),
                ("destroy", _play(state, "destroy", *inv, "playbooks/destroy.yml")),
            ]
        finally:
            subprocess.run(
                [sys.executable, str(CTL), "stop", str(state)], check=False, capture_output=True
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--playbook", default="playbooks/site.yml")
    ap.add_argument("--skip-tags", default="", help="e.g. aws_cdn,aws_monitoring,aws_budget")
    ap.add_argument(
        "--inventory",
        action="append",
        help="an inventory to build (repeatable); default: emulated and every example",
    )
    ns = ap.parse_args()
    failures: list[str] = []
    skipped = f" --skip-tags {ns.skip_tags}" if ns.skip_tags else ""
    for inventory in ns.inventory or _examples():
        rows = _bench(inventory, ns.playbook, ns.skip_tags)
        load = os.getloadavg()
        print(f"AWS stack against moto: {inventory} ({ns.playbook}{skipped})")
        print(f"  load average {load[0]:.1f} on {os.cpu_count()} CPUs at the end")
        for label, r in rows:
            print(f"  {label:<26} {r['seconds']:>6.1f} s   changed={r['changed']}")
        noop = rows[2][1]
        if noop["changed"] != 0:
            failures.append(f"{inventory}: no-op re-run changed: {noop['changed_tasks']}")
    if failures:
        sys.exit("\n".join(failures))


if __name__ == "__main__":
    main()
