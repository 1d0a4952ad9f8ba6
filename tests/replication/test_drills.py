"""Crash and loss drills against the real Litestream, a real moto S3 on loopback and the app's
real write path (POST /api/analyses)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest

from tests.replication.harness import (
    BUCKET,
    ReplicatedApp,
    S3Link,
    analysis_ids,
    bucket_keys,
    make_bucket,
)
from tests.support.moto_server import MotoServer

pytestmark = pytest.mark.slow


def test_crash_drill_durable_every_acknowledged_analysis_comes_back(
    replicated: Callable[..., ReplicatedApp],
) -> None:
    app = replicated(durable=True).start()
    acked = []
    for seed in range(12):
        response = app.upload(seed)
        assert response.status_code == 201, response.text
        acked.append(response.json()["id"])
    # No pause: the last answer left the server a moment ago.
    app.kill9()
    app.lose_local_database()
    assert not app.db_path.exists()

    app.start()  # restores by itself: nobody runs `crayon db restore`
    assert "database restored from the replica" in app.output()
    missing = set(acked) - analysis_ids(app.db_path)
    assert not missing, f"acknowledged analyses lost: {missing}"
    for analysis_id in acked:
        assert app.client.get(f"{app.base}/api/analyses/{analysis_id}").status_code == 200
    assert app.replication()["ok"] is True


def test_crash_drill_without_durable_acks_loses_at_most_the_recovery_point(
    replicated: Callable[..., ReplicatedApp],
) -> None:
    app = replicated(durable=False).start()
    acked: list[tuple[float, str]] = []
    until = time.monotonic() + 4.0
    seed = 0
    while time.monotonic() < until:
        response = app.upload(seed)
        assert response.status_code == 201, response.text
        acked.append((time.monotonic(), response.json()["id"]))
        seed += 1
    killed_at = time.monotonic()
    app.kill9()
    app.lose_local_database()
    app.start()
    present = analysis_ids(app.db_path)
    lost = [(killed_at - t, i) for t, i in acked if i not in present]
    window = max((age for age, _ in lost), default=0.0)
    print(
        f"non-durable: {len(lost)} of {len(acked)} acknowledged analyses lost; oldest lost was "
        f"acknowledged {window:.2f} s before the kill (sync interval 1 s)"
    )
    # The recovery point: about one sync interval (1 s) plus the upload's own time.
    assert window <= 2.5, lost
    assert len(present) >= len(acked) - len(lost)


def test_s3_outage_then_catch_up_loses_nothing_and_never_acks_falsely(
    replicated: Callable[..., ReplicatedApp], own_moto: MotoServer
) -> None:
    """S3 unreachable for a while (the link to moto is cut; moto keeps its objects, as S3
    would), then back. What this does NOT prove: behaviour under S3 slowness, throttling or
    partial failures."""
    link = S3Link(own_moto.port)
    try:
        app = replicated(
            durable=True,
            endpoint=link.url,
            extra_env={"CRAYON_DURABLE_TIMEOUT": "2", "CRAYON_REPLICATION_STALE_S": "3"},
        ).start()
        before = [app.upload(s).json()["id"] for s in range(3)]

        link.cut()
        cut_at = time.monotonic()
        for seed in range(100, 104):
            response = app.upload(seed)
            assert response.status_code == 503, response.text  # never a false acknowledgement
            assert "not acknowledged" in response.json()["error"]
        during = sorted(analysis_ids(app.db_path) - set(before))
        assert len(during) == 4  # saved locally all the same
        deadline = time.monotonic() + 15
        while app.replication()["ok"] and time.monotonic() < deadline:
            time.sleep(0.5)
        rep = app.replication()
        assert rep["ok"] is False and rep["error"], rep
        detected = time.monotonic() - cut_at
        ready = app.client.get(app.base + "/readyz")
        assert ready.status_code == 503
        assert ready.json() == {"status": "not ready", "reason": "replication"}
        emf = [json.loads(x) for x in app.output().splitlines() if '"ReplicationErrors"' in x]
        assert emf and emf[0]["ReplicationErrors"] >= 1
        time.sleep(5)  # a while longer without S3

        link.restore()
        back = time.monotonic()
        after = None
        while time.monotonic() - back < 60:
            response = app.upload(200)
            if response.status_code == 201:
                after = response.json()["id"]
                break
            time.sleep(0.5)
        assert after is not None, "durable acks did not resume within 60 s"
        while not app.replication()["ok"] and time.monotonic() - back < 60:
            time.sleep(0.5)
        assert app.replication()["ok"] is True
        caught_up = time.monotonic() - back
        print(
            f"S3 outage: detected after {detected:.1f} s (stale limit 3 s); after S3 came "
            f"back, durable acks resumed and status ok within {caught_up:.1f} s"
        )

        app.kill9()
        app.lose_local_database()
        app.start()
        missing = {*before, *during, after} - analysis_ids(app.db_path)
        assert not missing, f"lost after the outage: {missing}"
    finally:
        link.close()


def test_a_wiped_replica_is_never_silently_unrestorable(
    replicated: Callable[..., ReplicatedApp],
) -> None:
    """moto restarted = S3 back with an EMPTY bucket (a wiped bucket, a deleted prefix, an
    expiring lifecycle rule). Litestream 0.5.17 sometimes re-uploads from the start and
    sometimes only ships new increments on top of the missing base, while `sync -wait` reports
    them replicated. The app must then say so (replica verification) instead of staying green.
    """
    app = replicated(
        durable=True,
        extra_env={
            "CRAYON_DURABLE_TIMEOUT": "2",
            "CRAYON_REPLICATION_STALE_S": "3",
            "CRAYON_REPLICA_VERIFY_S": "2",
        },
    ).start()
    before = [app.upload(s).json()["id"] for s in range(3)]
    app.moto.stop()
    for seed in range(100, 103):
        assert app.upload(seed).status_code == 503
    time.sleep(8)
    app.moto.start()
    make_bucket(app.moto)
    deadline = time.monotonic() + 60
    while app.upload(200).status_code != 201 and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(6)  # at least two verifications
    rep = app.replication()
    status = json.loads(app.crayon("db", "status").stdout)
    if status["restorable"] == "yes":
        assert rep["ok"] is True, rep
        app.kill9()
        app.lose_local_database()
        app.start()
        assert set(before) <= analysis_ids(app.db_path)
        print("wiped replica: Litestream re-uploaded from the start; restorable")
    else:
        assert rep["ok"] is False and "not restorable" in rep["error"], (rep, status)
        assert any("not restorable" in x for x in app.output().splitlines() if "error" in x)
        print(f"wiped replica: detected, /readyz not ready: {rep['error']}")


def test_concurrent_durable_uploads_are_all_acknowledged(
    replicated: Callable[..., ReplicatedApp],
) -> None:
    app = replicated(durable=True).start()
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(app.upload, range(24)))
    assert [a.status_code for a in answers] == [201] * 24, [
        a.text for a in answers if a.status_code != 201
    ]
    rep = app.replication()
    assert rep["durable_waiters"] == 24 and 1 <= rep["durable_syncs"] <= 24, rep
    assert rep["replicated_txid"] == rep["local_txid"]


def test_point_in_time_restore(replicated: Callable[..., ReplicatedApp]) -> None:
    app = replicated(durable=True).start()
    first = [app.upload(s).json()["id"] for s in range(3)]
    time.sleep(2.5)
    moment = time.time()
    time.sleep(2.5)
    second = [app.upload(s).json()["id"] for s in range(10, 13)]
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))
    out = app.data_dir.parent / "pit.db"
    done = app.crayon("db", "restore", "--timestamp", stamp, "--output", str(out))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["integrity"] == "ok"
    ids = analysis_ids(out)
    assert set(first) <= ids
    assert not ids & set(second)
    latest = app.data_dir.parent / "latest.db"
    assert app.crayon("db", "restore", "--output", str(latest)).returncode == 0
    assert {*first, *second} <= analysis_ids(latest)


def test_restore_refuses_a_live_database(replicated: Callable[..., ReplicatedApp]) -> None:
    app = replicated(durable=True).start()
    kept = app.upload(1).json()["id"]
    done = app.crayon("db", "restore")
    assert done.returncode == 3
    assert "is live" in done.stderr and "--force" in done.stderr
    assert kept in analysis_ids(app.db_path)  # untouched

    status = app.crayon("db", "status")
    assert status.returncode == 0, status.stderr
    body = json.loads(status.stdout)
    assert body["litestream"]["status"] == "replicating"
    assert body["replica_txid"] and body["lag_txids"] == 0

    assert app.stop() == 0  # SIGTERM: the app stops, Litestream syncs a last time
    refused = app.crayon("db", "restore")
    assert refused.returncode == 3 and "exists" in refused.stderr
    forced = app.crayon("db", "restore", "--force")
    assert forced.returncode == 0, forced.stderr
    assert kept in analysis_ids(app.db_path)


def test_rollback_to_a_point_in_time_then_host_loss(
    replicated: Callable[..., ReplicatedApp],
) -> None:
    """The runbook: stop, `crayon db restore --timestamp T --force`, start. The replica then
    follows the rolled-back database: a later host loss brings back that state plus new writes."""
    app = replicated(durable=True).start()
    kept = [app.upload(s).json()["id"] for s in range(3)]
    time.sleep(2.5)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    time.sleep(2.5)
    undone = [app.upload(s).json()["id"] for s in range(10, 13)]
    assert app.stop() == 0
    done = app.crayon("db", "restore", "--timestamp", stamp, "--force")
    assert done.returncode == 0, done.stderr
    ids = analysis_ids(app.db_path)
    assert set(kept) <= ids and not ids & set(undone)

    app.start()
    new = [app.upload(s).json()["id"] for s in range(20, 23)]
    app.kill9()
    app.lose_local_database()
    app.start()
    ids = analysis_ids(app.db_path)
    assert {*kept, *new} <= ids
    assert not ids & set(undone)


def test_no_start_over_an_unreadable_replica(replicated: Callable[..., ReplicatedApp]) -> None:
    """Database missing and S3 unreachable: starting empty would later bury the replica's
    data under a new database, so `crayon serve` exits with the reason instead."""
    app = replicated(extra_env={"CRAYON_RESTORE_TIMEOUT": "3"}).start()
    assert app.upload(1).status_code == 201
    app.kill9()
    app.lose_local_database()
    app.moto.stop()
    done = app.crayon("serve", "--port", str(app.port), timeout=60)
    assert done.returncode == 1
    assert "could not read the replica" in done.stderr
    assert not app.db_path.exists()


def test_a_replica_that_lost_its_base_is_reported(replicated: Callable[..., ReplicatedApp]) -> None:
    """Deterministic form of the wiped replica: the files that start the chain (txid 1) are
    deleted from the bucket behind Litestream's back (a lifecycle rule, a person)."""
    app = replicated(durable=True, extra_env={"CRAYON_REPLICA_VERIFY_S": "2"}).start()
    for seed in range(3):
        assert app.upload(seed).status_code == 201
    time.sleep(3)
    assert app.replication()["ok"] is True
    assert app.replication()["replica_check"] == "restorable"
    s3 = boto3.client(
        "s3",
        endpoint_url=app.moto.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    base = [k for k in bucket_keys(app.moto) if "/0000000000000001-" in k]
    assert base
    for key in base:
        s3.delete_object(Bucket=BUCKET, Key=key)
    deadline = time.monotonic() + 15
    while app.replication()["ok"] and time.monotonic() < deadline:
        time.sleep(0.5)
    rep = app.replication()
    assert rep["ok"] is False and "not restorable" in rep["error"], rep
    assert app.client.get(app.base + "/readyz").status_code == 503
    lines = app.output().splitlines()
    assert any('"replication failing"' in x and "not restorable" in x for x in lines)
    assert any('"ReplicationErrors"' in x and "not restorable" in x for x in lines)
    status = json.loads(app.crayon("db", "status").stdout)
    assert status["restorable"] != "yes"
