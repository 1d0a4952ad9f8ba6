"""Wall time of roles/aws_ecs alone, two services, against a fresh moto: build, no-op, destroy.

    PYTHONPATH=$PWD .venv/bin/python bench/ecs_services.py [--services 2]

Starts its own moto server on loopback, makes the network and secrets with boto3
(tests/support/ecs_stack.py), then times tests/deploy/playbooks/ecs_only.yml: the first build,
the moto "settle" run (moto's CreateService drops the grace period, deployment configuration
and capacity strategy, so the run after a create sets them once), three no-op re-runs
(changed=0 required; the median is printed) and the destroy. The no-op figure is this role's
share of the site.yml no-op target (20 s for the whole playbook).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support import ecs_stack as E  # noqa: E402
from tests.support.moto_server import MotoServer  # noqa: E402
from tests.support.playbook import run_playbook  # noqa: E402

PLAYBOOK = REPO / "tests" / "deploy" / "playbooks" / "ecs_only.yml"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--services", type=int, choices=[1, 2], default=2)
    ns = ap.parse_args()
    services = [E.app_service(), E.dash_service()][: ns.services]
    moto = MotoServer().start()
    try:
        env = moto.env()
        E.build_prerequisites(env)
        E.push_image(env, "crayon-emulated-app", "1.0")
        E.push_image(env, "crayon-emulated-dash", "1.0")
        role_vars = E.role_vars(*services)

        def timed(label: str, **extra: object) -> float:
            start = time.monotonic()
            run = run_playbook(PLAYBOOK, env, {**role_vars, **extra})
            took = time.monotonic() - start
            if run.failed or run.returncode:
                sys.exit(f"{label} failed:\n{run.output[-4000:]}")
            print(f"{label:<10} {took:6.1f} s  changed={run.changed}")
            if label.startswith("no-op") and run.changed:
                sys.exit(f"{label} changed {run.changed_tasks()}")
            return took

        timed("build")
        timed("settle")
        noop = [timed(f"no-op {i + 1}") for i in range(3)]
        timed("destroy", ecs_state="absent")
        print(f"no-op median {statistics.median(noop):.1f} s for {ns.services} service(s)")
    finally:
        moto.stop()


if __name__ == "__main__":
    main()
