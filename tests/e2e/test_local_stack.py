"""End to end, as a newcomer would run it: local up, deploy a change, roll back, restore to a
time, logs show the request ids, local down. Everything through scripts/ops.py (what `make`
calls), against the emulated AWS on loopback and a systemd host container.

One local-up for the module (a few minutes); the tests run in order and share it. The deploy
and rollback steps go through playbooks/release.yml and rollback-host.yml, which call the
host's release tool (/opt/crayon/bin/crayon-release). bench/local_stack.py times the same steps.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Iterator

import pytest

from tests.e2e.stack import LocalStack, why_not

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    reason = why_not()
    if reason:
        pytest.skip(f"the local stack cannot run here: {reason}")
    st = LocalStack(state=tmp_path_factory.mktemp("local") / "state")
    up = st.ops("local-up", "local-up")
    try:
        assert up.returncode == 0, up.output[-8000:]
        yield st
    finally:
        st.ops("local-down", "local-down")


def test_local_up_serves_the_demo(stack: LocalStack) -> None:
    assert "The local stack is up in" in stack.steps[0].output
    assert stack.url in stack.steps[0].output
    status, body = stack.get("/healthz")
    assert status == 200, body
    status, body = stack.get("/")
    assert status == 200 and "Crayon" in body
    # The emulated S3 holds the replica Litestream writes.
    import boto3

    s3 = boto3.client("s3", **stack.aws_kwargs())
    keys = s3.list_objects_v2(Bucket="crayon-sandbox-replica-123456789012", Prefix="db").get(
        "Contents", []
    )
    assert keys, "Litestream wrote nothing to the emulated replica bucket"


def test_local_up_again_changes_nothing(stack: LocalStack) -> None:
    again = stack.ops("local-up (again)", "local-up")
    assert again.returncode == 0, again.output[-6000:]
    assert "Nothing changed." in again.output or "0 change(s)" in again.output


def test_status(stack: LocalStack) -> None:
    status = stack.ops("status", "--env", "local", "status")
    assert status.returncode == 0, status.output[-4000:]
    assert "health: HTTP 200" in status.output
    assert '"restorable": "yes"' in status.output  # the replica, from crayon db status


def test_plan(stack: LocalStack) -> None:
    plan = stack.ops("plan", "--env", "local", "plan")
    assert plan.returncode == 0, plan.output[-4000:]
    assert "== Plan ==" in plan.output
    from tests.host.hostkit import ensure_pyz, variant

    pyz = variant(ensure_pyz(), stack.state / "v9.pyz", "e2e-v9")
    before = stack.current_release()
    deploy = stack.ops("plan v9", "--env", "local", "plan", "v9", "--pyz", str(pyz))
    assert deploy.returncode == 0, deploy.output[-4000:]
    assert "would install and switch to v9" in deploy.output
    assert stack.current_release() == before


def test_deploy_a_change(stack: LocalStack) -> None:
    from tests.host.hostkit import ensure_pyz, variant

    pyz = variant(ensure_pyz(), stack.state / "v2.pyz", "e2e-v2")
    before = stack.current_release()
    step = stack.ops("deploy", "--env", "local", "deploy", "v2", "--pyz", str(pyz))
    assert step.returncode == 0, step.output[-6000:]
    assert "Deployed v2 to local in" in step.output and stack.url in step.output
    assert stack.current_release() == "v2" != before
    assert stack.get("/healthz")[0] == 200


def test_roll_back(stack: LocalStack) -> None:
    listing = stack.ops("rollback --list", "--env", "local", "rollback", "--list")
    assert listing.returncode == 0 and "*v2" in listing.output, listing.output[-3000:]
    unknown = stack.ops("rollback (unknown)", "--env", "local", "rollback", "no-such-version")
    assert unknown.returncode == 2 and "Pick one of" in unknown.output
    assert stack.current_release() == "v2"
    step = stack.ops("rollback", "--env", "local", "rollback")
    assert step.returncode == 0, step.output[-6000:]
    first = stack.current_release()
    assert first != "v2"
    assert stack.get("/healthz")[0] == 200
    # The first release has nothing older: the host's tool refuses, and the CLI says so.
    again = stack.ops("rollback (nothing older)", "--env", "local", "rollback")
    assert again.returncode == 2, again.output[-4000:]
    assert "nothing to roll back to" in again.output and "Nothing was changed." in again.output
    assert stack.current_release() == first


def test_deploy_refuses_other_bytes_under_a_shipped_version(stack: LocalStack) -> None:
    from tests.host.hostkit import ensure_pyz, variant

    other = variant(ensure_pyz(), stack.state / "v2-other.pyz", "e2e-v2-other")
    before = stack.current_release()
    step = stack.ops("deploy (immutable)", "--env", "local", "deploy", "v2", "--pyz", str(other))
    assert step.returncode == 2, step.output[-4000:]
    assert "Releases are immutable" in step.output and "Nothing was changed." in step.output
    assert stack.current_release() == before


def test_restore_to_a_time(stack: LocalStack) -> None:
    time.sleep(2)  # a second boundary the replica has passed
    when = dt.datetime.now(dt.UTC).replace(microsecond=0)
    time.sleep(3)
    step = stack.ops(
        "restore", "--env", "local", "restore", f"{when:%Y-%m-%dT%H:%M:%SZ}", "--confirm"
    )
    assert step.returncode == 0, step.output[-6000:]
    assert "before-restore" in stack.host("ls", "/var/lib/crayon")
    assert stack.get("/healthz")[0] == 200


def test_logs_show_the_request_ids(stack: LocalStack) -> None:
    rid = f"e2e-{uuid.uuid4().hex[:12]}"
    assert stack.get("/healthz", request_id=rid)[0] == 200
    time.sleep(1)
    step = stack.ops("logs", "--env", "local", "logs", "--since", "5m", "--grep", rid)
    assert step.returncode == 0, step.output[-3000:]
    lines = [line for line in step.output.splitlines() if rid in line]
    assert lines, step.output[-3000:]


def test_local_down_removes_everything(stack: LocalStack) -> None:
    down = stack.ops("local-down", "local-down")
    assert down.returncode == 0
    assert not stack.state.exists()
    again = stack.ops("local-down (again)", "local-down")
    assert again.returncode == 0
    after = stack.ops("status after down", "--env", "local", "status")
    assert after.returncode == 2 and "run `make local-up` first" in after.output
