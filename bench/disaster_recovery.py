"""Recovery times of each store that this machine can measure (docs/disaster-recovery.md).

    .venv/bin/python bench/disaster_recovery.py [--trials 3] [--no-litestream | --only-litestream]

What it prints, each the median (and max) of --trials runs against a moto server on loopback:
1. Managed database: `playbooks/restore-database.yml` end to end (checks, point-in-time
   restore as a new instance, its own RDS-managed secret, read-back), and the bare API calls
   it waits on (RestoreDBInstanceToPointInTime until the instance is available).
2. Secrets: `playbooks/rotate-secret.yml` end to end (new value, forced rolling deployment of
   the service that reads it, wait until it settled).
3. Crayon's SQLite: `litestream restore` and `crayon db restore` of a 50 MB database
   (bench/replication.py's measurement).

moto creates an instance at once and runs no tasks, so figures 1 and 2 measure the kit's
own overhead (Ansible, API round trips, checks); on AWS the restore itself adds the time RDS
takes to build the instance, and the roll adds the time tasks take to start and pass their
health checks. They are lower bounds, said so in the document.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.deploy import test_database as db  # noqa: E402
from tests.support.moto_server import MotoServer, require_loopback  # noqa: E402
from tests.support.playbook import run_playbook  # noqa: E402


def summary(values: list[float]) -> str:
    return f"median {statistics.median(values):.1f} s (max {max(values):.1f} s, n={len(values)})"


def bench_database(moto: MotoServer, trials: int, work: Path) -> tuple[list[float], list[float]]:
    moto.reset()
    env = moto.env()
    net = db.network(env)
    built = run_playbook(db.PLAYBOOK, env, db.role_vars(net, aws_database_read_replica=False))
    if built.returncode != 0:
        raise RuntimeError(built.output[-3000:])
    inventory = db._aws_inventory(work)
    rds = db.client(env, "rds")
    playbook_times: list[float] = []
    api_times: list[float] = []
    for i in range(trials):
        t0 = time.monotonic()
        run = run_playbook(
            db.RESTORE,
            env,
            {
                "restore_database_names": db.NAMES,
                "restore_database_region": "us-east-1",
                "restore_database_target": f"bench-restored-{i}",
            },
            inventory=inventory,
        )
        playbook_times.append(time.monotonic() - t0)
        if run.returncode != 0:
            raise RuntimeError(run.output[-3000:])
        source = rds.describe_db_instances(DBInstanceIdentifier=db.NAMES["instance"])
        t0 = time.monotonic()
        rds.restore_db_instance_to_point_in_time(
            SourceDBInstanceIdentifier=db.NAMES["instance"],
            TargetDBInstanceIdentifier=f"bench-api-{i}",
            RestoreTime=source["DBInstances"][0]["LatestRestorableTime"],
            DBSubnetGroupName=db.NAMES["subnet_group"],
        )
        rds.get_waiter("db_instance_available").wait(
            DBInstanceIdentifier=f"bench-api-{i}", WaiterConfig={"Delay": 1}
        )
        api_times.append(time.monotonic() - t0)
    return playbook_times, api_times


def bench_rotation(trials: int, work: Path) -> list[float]:
    from tests.deploy import test_rotate_secret as rot

    os.environ["MOTO_ECS_SERVICE_RUNNING"] = "1"  # moto runs no tasks: report them running
    with MotoServer() as moto:
        del os.environ["MOTO_ECS_SERVICE_RUNNING"]
        require_loopback(moto.url)
        stack: dict[str, Any] = rot.build_stack(moto)
        times: list[float] = []
        for i in range(trials):
            t0 = time.monotonic()
            run = run_playbook(
                rot.PLAYBOOK,
                {**stack["env"], "ROTATE_SECRET_VALUE": f"bench-value-{i}-" + "x" * 20},
                rot.asked(rotate_secret="gemini-api-key"),  # noqa: S106 - a name, not a value
                inventory=rot.inventory(work),
            )
            times.append(time.monotonic() - t0)
            if run.returncode != 0:
                raise RuntimeError(run.output[-3000:])
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--no-litestream", action="store_true")
    parser.add_argument("--only-litestream", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="crayon-bench-dr-"))
    if not args.only_litestream:
        with MotoServer() as moto:
            require_loopback(moto.url)
            playbook_times, api_times = bench_database(moto, args.trials, work)
            print(f"database: restore-database.yml end to end {summary(playbook_times)}")
            print(f"database: RestoreDBInstanceToPointInTime to available {summary(api_times)}")
        rotation = bench_rotation(args.trials, work)
        print(f"secrets: rotate-secret.yml end to end (1 service rolled) {summary(rotation)}")
    if not args.no_litestream:
        from bench.replication import bench_restore
        from tests.replication.harness import make_bucket

        with MotoServer() as moto:
            os.environ.update(moto.env())
            os.environ.pop("AWS_CA_BUNDLE", None)
            make_bucket(moto)
            size, raw, full = bench_restore(moto)
        print(
            f"sqlite: restore of a {size:.0f} MB database: litestream restore "
            f"{summary(raw)}; crayon db restore (+ integrity_check) {summary(full)}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
