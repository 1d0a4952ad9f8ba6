"""scripts/ops.py: every command refuses a bad argument with a sentence and changes nothing;
rollback, status and logs work on an ECS service in moto.

The refusals run the real CLI as a subprocess and need no AWS. The ECS cases build only what
those commands read (a cluster, a service, task definition revisions, a log group) in one
module-scoped moto server, then run the real rollback.yml / status.yml through the CLI.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.moto_server import MotoServer, require_loopback

ROOT = Path(__file__).resolve().parents[2]
OPS = ROOT / "scripts" / "ops.py"
STACK = "crayon-emulated"


def ops(
    *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ANSIBLE_"))}
    base["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{base.get('PATH', '')}"
    base.update(env or {})
    return subprocess.run(
        [sys.executable, str(OPS), *args],
        cwd=ROOT,
        env=base,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def empty_state(tmp_path: Path) -> dict[str, str]:
    """A local-stack state folder that says nothing is up."""
    return {"CRAYON_LOCAL_STATE": str(tmp_path / "state")}


# --- Refusals: no AWS needed ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--env", "nope", "status"], "Unknown environment 'nope': pick one of"),
        (["--env", "../production", "status"], "Unknown environment"),
        (["--env", "local", "deploy", "bad version!"], "is not a version"),
        (["--env", "local", "deploy", ""], "Give the version to deploy"),
        (["--env", "local", "rollback", "../../etc"], "is not a version"),
        (
            ["--env", "local", "logs", "--since", "yesterday-ish"],
            "--since 'yesterday-ish' is neither",
        ),
        (["--env", "local", "logs", "--grep", ""], "--grep takes the text"),
        (["--env", "local", "plan", "v 2"], "is not a version"),
    ],
)
def test_bad_arguments_are_refused_with_what_to_do(
    args: list[str], says: str, empty_state: dict[str, str]
) -> None:
    proc = ops(*args, env=empty_state)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert says in proc.stderr
    assert "Nothing was changed." in proc.stderr
    # Refused before any playbook ran, and no state was made.
    assert "ansible-playbook" not in proc.stdout
    assert not Path(empty_state["CRAYON_LOCAL_STATE"]).exists()


def test_local_commands_refuse_when_the_local_stack_is_down(empty_state: dict[str, str]) -> None:
    for cmd in (["status"], ["deploy", "1.0"], ["rollback"], ["logs"], ["plan"]):
        proc = ops("--env", "local", *cmd, env=empty_state)
        assert proc.returncode == 2, (cmd, proc.stderr)
        assert "run `make local-up` first" in proc.stderr, cmd


def test_emulated_inventory_refuses_a_non_loopback_endpoint() -> None:
    proc = ops(
        "--env",
        "emulated",
        "status",
        env={"AWS_ENDPOINT_URL": "https://ecs.us-east-1.amazonaws.com", "AWS_URL": ""},
    )
    assert proc.returncode == 2
    assert "only against an AWS emulator on loopback" in proc.stderr


def test_unknown_command_is_refused_by_the_parser() -> None:
    proc = ops("--env", "local", "destroy-everything")
    assert proc.returncode == 2
    assert "invalid choice" in proc.stderr


def test_local_down_is_idempotent_when_nothing_is_up(empty_state: dict[str, str]) -> None:
    for _ in range(2):
        proc = ops("local-down", env=empty_state)
        assert proc.returncode == 0, proc.stderr
        assert "is gone" in proc.stdout


def test_since_parses_durations_and_times() -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import ops as ops_module
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    now = dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC)
    assert ops_module.parse_since("10m", now) == now - dt.timedelta(minutes=10)
    assert ops_module.parse_since("2h", now) == now - dt.timedelta(hours=2)
    assert ops_module.parse_since("2026-05-01T11:00:00Z", now) == now - dt.timedelta(hours=1)
    with pytest.raises(ops_module.Refused):
        ops_module.parse_since("10 minutes", now)


def _ops_module() -> Any:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import ops as ops_module
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    return ops_module


@pytest.mark.parametrize(
    ("args", "says"),
    [
        # inventories/local-host: a host target that needs no AWS and no running stack.
        (["--env", "local-host", "deploy", "_v1"], "'_v1' is not a host release name"),
        (["--env", "local-host", "deploy", "v" * 65], "is not a host release name"),
        (
            ["--env", "local-host", "deploy", "v1", "--pyz", "/nonexistent/crayon.pyz"],
            "No build at /nonexistent/crayon.pyz",
        ),
        (
            ["--env", "local-host", "plan", "v1", "--pyz", "/nonexistent/crayon.pyz"],
            "No build at /nonexistent/crayon.pyz to plan a deploy of",
        ),
        (["--env", "local", "restore", "yesterday"], "TIME 'yesterday' is neither"),
    ],
)
def test_host_arguments_are_refused_before_any_host_is_touched(
    args: list[str], says: str, empty_state: dict[str, str]
) -> None:
    proc = ops(*args, env=empty_state)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert says in proc.stderr and "Nothing was changed." in proc.stderr
    assert "ansible-playbook" not in proc.stdout


def test_an_unknown_target_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ops_module = _ops_module()
    inventory = tmp_path / "odd"
    (inventory / "group_vars" / "all").mkdir(parents=True)
    (inventory / "hosts.yml").write_text("all: {}\n")
    (inventory / "group_vars" / "all" / "main.yml").write_text("deploy_target: ec3\n")
    monkeypatch.setattr(ops_module, "INVENTORIES", tmp_path)
    monkeypatch.setattr(ops_module, "ROOT", tmp_path)
    with pytest.raises(
        ops_module.Refused, match=r"Unknown target 'ec3' .*one of ecs, ec2, lightsail"
    ):
        ops_module.load_env("odd")


# What ansible-playbook printed when crayon-release refused (rollback-host.yml, release.yml),
# in the two forms the YAML callback uses for a message.
REFUSED_BLOCK = """\
fatal: [crayon-local-host]: FAILED! => \n    changed: false
    msg: |-
        REFUSED (nothing changed): release 'nope' is not on this host (installed: v5, v6): name \
one of those, or deploy it.

PLAY RECAP *****
"""
REFUSED_FOLDED = """fatal: [crayon-local-host]: FAILED! => \n    changed: false
    msg: 'REFUSED (nothing changed): version v7 is already on this host with different
        content (sha256 70c958cd3fe1, this build 9e6c1faabd58). Releases are immutable
        so a rollback gets back exactly what ''ran'': give this build a new version.'
    release:
        changed: false
"""


def test_a_refusal_by_the_host_tool_is_told_from_a_failure() -> None:
    ops_module = _ops_module()

    def done(rc: int, out: str) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess([], rc, out, "")

    assert ops_module.refusal(done(2, REFUSED_BLOCK)) == (
        "release 'nope' is not on this host (installed: v5, v6): name one of those, or deploy it."
    )
    assert ops_module.refusal(done(2, REFUSED_FOLDED)) == (
        "version v7 is already on this host with different content (sha256 70c958cd3fe1, this "
        "build 9e6c1faabd58). Releases are immutable so a rollback gets back exactly what "
        "'ran': give this build a new version."
    )
    assert ops_module.refusal(done(0, REFUSED_BLOCK)) is None
    assert ops_module.refusal(done(2, "fatal: ... ROLLED BACK: release v2 did not ...")) is None


def _host_playbook(book: str, *args: str) -> subprocess.CompletedProcess[str]:
    """A host playbook against inventories/local-host whose host does not exist: what it
    refuses, it refuses before connecting."""
    run = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ANSIBLE_"))}
    run |= {"ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    run["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{run.get('PATH', '')}"
    return subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "-i",
            str(ROOT / "inventories" / "local-host"),
            "-e",
            "ansible_host=no-such-container-h12",
            str(ROOT / "playbooks" / book),
            *args,
        ],
        cwd=ROOT,
        env=run,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize(
    ("book", "args", "says"),
    [
        ("release.yml", [], "To ship a release set the version"),
        ("release.yml", ["-e", '{"release_version": "1 2"}'], "got '1 2'"),
        (
            "release.yml",
            ["-e", "release_version=v1", "-e", "release_pyz=/nonexistent/crayon.pyz"],
            "no build at /nonexistent/crayon.pyz on the controller",
        ),
        ("maintenance-host.yml", ["-e", "maintenance=maybe"], "-e maintenance=on"),
        ("maintenance-host.yml", [], "-e maintenance=on"),
    ],
)
def test_host_playbooks_refuse_bad_arguments_before_connecting(
    book: str, args: list[str], says: str
) -> None:
    proc = _host_playbook(book, *args)
    out = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode != 0, out[-2000:]
    assert " ".join(says.split()) in out, out[-2000:]
    assert "changed=0" in out and "unreachable=0" in out, out[-2000:]
    assert "no-such-container-h12" not in out.split("PLAY RECAP", 1)[0].split("fatal:", 1)[0]


# --- ECS against moto ----------------------------------------------------------------------


def _client_kw(env: dict[str, str]) -> dict[str, Any]:
    return {
        "endpoint_url": require_loopback(env["AWS_ENDPOINT_URL"]),
        "region_name": "us-east-1",
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }


@pytest.fixture(scope="module")
def ecs_moto() -> Iterator[dict[str, str]]:
    """moto with an ECS service on revision 3 of three, an image per revision, and logs."""
    saved = os.environ.get("MOTO_ECS_SERVICE_RUNNING")
    os.environ["MOTO_ECS_SERVICE_RUNNING"] = "1"  # moto runs no tasks: report them running
    server = MotoServer().start()
    if saved is None:
        del os.environ["MOTO_ECS_SERVICE_RUNNING"]
    require_loopback(server.url)
    env = server.env()
    try:
        import boto3

        kw: dict[str, Any] = _client_kw(env)
        ecs = boto3.client("ecs", **kw)
        ecs.create_cluster(clusterName=STACK)
        for tag in ("1.0", "1.1", "1.2"):
            ecs.register_task_definition(
                family=f"{STACK}-app",
                requiresCompatibilities=["FARGATE"],
                networkMode="awsvpc",
                cpu="256",
                memory="512",
                containerDefinitions=[
                    {
                        "name": "app",
                        "image": f"123456789012.dkr.ecr.us-east-1.amazonaws.com/{STACK}-app:{tag}",
                    }
                ],
            )
        ecs.create_service(
            cluster=STACK,
            serviceName=f"{STACK}-app",
            taskDefinition=f"{STACK}-app:3",
            desiredCount=1,
        )
        logs = boto3.client("logs", **kw)
        logs.create_log_group(logGroupName=f"/ecs/{STACK}-app")
        logs.create_log_stream(logGroupName=f"/ecs/{STACK}-app", logStreamName="app/app/task1")
        now = int(time.time() * 1000)
        logs.put_log_events(
            logGroupName=f"/ecs/{STACK}-app",
            logStreamName="app/app/task1",
            logEvents=[
                {"timestamp": now - 7_200_000, "message": "an old line from two hours ago"},
                {
                    "timestamp": now - 3000,
                    "message": json.dumps({"msg": "request", "request_id": "req-aaa111"}),
                },
                {
                    "timestamp": now - 2000,
                    "message": json.dumps({"msg": "request", "request_id": "req-bbb222"}),
                },
            ],
        )
        yield env
    finally:
        server.stop()


def _running(env: dict[str, str]) -> str:
    import boto3

    ecs = boto3.client("ecs", **_client_kw(env))
    svc = ecs.describe_services(cluster=STACK, services=[f"{STACK}-app"])["services"][0]
    return str(svc["taskDefinition"].split("/")[-1])


def test_ecs_rollback_refuses_an_unknown_version_and_changes_nothing(
    ecs_moto: dict[str, str],
) -> None:
    proc = ops("--env", "emulated", "rollback", "9.9", env=ecs_moto)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert (
        "No version '9.9' to roll back to. Pick one of: *3 (1.2); 2 (1.1); 1 (1.0)" in proc.stderr
    )
    assert _running(ecs_moto) == f"{STACK}-app:3"


def test_ecs_rollback_lists_versions(ecs_moto: dict[str, str]) -> None:
    proc = ops("--env", "emulated", "rollback", "--list", env=ecs_moto)
    assert proc.returncode == 0, proc.stderr
    assert "*3 (1.2); 2 (1.1); 1 (1.0)" in proc.stdout


def test_ecs_logs_since_and_grep_find_the_request_id(ecs_moto: dict[str, str]) -> None:
    proc = ops("--env", "emulated", "logs", "--since", "10m", "--grep", "req-bbb222", env=ecs_moto)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1 and "req-bbb222" in lines[0], proc.stdout
    recent = ops("--env", "emulated", "logs", "--since", "1h", env=ecs_moto)
    assert "req-aaa111" in recent.stdout and "two hours ago" not in recent.stdout
    older = ops("--env", "emulated", "logs", "--since", "3h", env=ecs_moto)
    assert "two hours ago" in older.stdout


@pytest.mark.slow
def test_ecs_rollback_to_previous_then_named_then_status(ecs_moto: dict[str, str]) -> None:
    proc = ops("--env", "emulated", "rollback", env=ecs_moto)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert _running(ecs_moto) == f"{STACK}-app:2"
    assert f"Version: {STACK}-app:2" in proc.stdout  # the closing summary
    named = ops("--env", "emulated", "rollback", "1.2", env=ecs_moto)
    assert named.returncode == 0, named.stdout[-4000:]
    assert _running(ecs_moto) == f"{STACK}-app:3"
    status = ops("--env", "emulated", "status", env=ecs_moto)
    assert status.returncode == 0, status.stdout[-4000:]
    assert f"runs {STACK}-app:3 (1.2)" in status.stdout
    # Back on the oldest revision there is nothing older: refused, nothing changed.
    assert ops("--env", "emulated", "rollback", "1", env=ecs_moto).returncode == 0
    oldest = ops("--env", "emulated", "rollback", env=ecs_moto)
    assert oldest.returncode == 2 and "Nothing to roll back to" in oldest.stderr
    assert _running(ecs_moto) == f"{STACK}-app:1"


# --- First deploy on a fresh account: site, push, deploy --------------------------------------


@pytest.mark.slow
def test_first_deploy_is_site_push_deploy(tmp_path: Path) -> None:
    """On an empty account site.yml makes the service with no task (no image to pull yet);
    after the first push, `ops deploy TAG` gives it its task. No other step."""
    import boto3

    saved = os.environ.get("MOTO_ECS_SERVICE_RUNNING")
    os.environ["MOTO_ECS_SERVICE_RUNNING"] = "1"
    server = MotoServer(log_path=tmp_path / "moto.log").start()
    if saved is None:
        del os.environ["MOTO_ECS_SERVICE_RUNNING"]
    try:
        env = server.env()
        # The edge, alarms and budget play no part in the first deploy: keep the run short.
        skip = {"ANSIBLE_SKIP_TAGS": "aws_cdn,aws_monitoring,aws_budget"}
        site = ops("--env", "emulated", "site", env=env | skip, timeout=900)
        assert site.returncode == 0, site.stdout[-6000:] + site.stderr[-2000:]
        said = " ".join(site.stdout.split())
        assert ":bootstrap image yet, so the service" in said and "has no task" in said
        ecs = boto3.client("ecs", **_client_kw(env))
        svc = ecs.describe_services(cluster=STACK, services=[f"{STACK}-app"])["services"][0]
        assert svc["desiredCount"] == 0

        refused = ops("--env", "emulated", "deploy", "1.0", env=env)
        assert refused.returncode == 2 and "No image tagged '1.0'" in refused.stderr

        # The push (podman push in real life): an image manifest under tag 1.0.
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 1,
                "digest": "sha256:" + "0" * 64,
            },
            "layers": [],
        }
        boto3.client("ecr", **_client_kw(env)).put_image(
            repositoryName=f"{STACK}-app", imageManifest=json.dumps(manifest), imageTag="1.0"
        )
        deploy = ops("--env", "emulated", "deploy", "1.0", env=env, timeout=900)
        assert deploy.returncode == 0, deploy.stdout[-6000:] + deploy.stderr[-2000:]
        assert "Deployed 1.0 to emulated in" in deploy.stdout
        svc = ecs.describe_services(cluster=STACK, services=[f"{STACK}-app"])["services"][0]
        assert svc["desiredCount"] == 1 and svc["taskDefinition"].endswith(":2")
        # A later site.yml keeps the deployed image and its task.
        again = ops("--env", "emulated", "site", env=env | skip, timeout=900)
        assert again.returncode == 0, again.stdout[-4000:]
        svc = ecs.describe_services(cluster=STACK, services=[f"{STACK}-app"])["services"][0]
        assert svc["desiredCount"] == 1
    finally:
        server.stop()


# --- The closing summary and the plan (plugins/callback/crayon_summary.py) --------------------


def _tiny_playbook(tmp_path: Path) -> tuple[Path, Path]:
    target = tmp_path / "file.txt"
    target.write_text("one\n")
    book = tmp_path / "book.yml"
    book.write_text(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
        "    - name: Write the file\n"
        f"      ansible.builtin.copy: {{content: \"one\\ntwo\\n\", dest: {target}, mode: '0644'}}\n"
        "    - name: Report\n"
        "      ansible.builtin.set_stats: {data: {crayon_version: '7.1', crayon_url: 'http://127.0.0.1:1'}}\n"
    )
    return book, target


def _play(book: Path, *args: str, env: dict[str, str] | None = None) -> str:
    run = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ANSIBLE_"))}
    run.update({"ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"})
    run.update(env or {})
    proc = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "-i",
            "localhost,",
            "-c",
            "local",
            "-e",
            f"ansible_python_interpreter={sys.executable}",
            str(book),
            *args,
        ],
        cwd=ROOT,
        env=run,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    return proc.stdout


def test_plan_lists_each_change_and_changes_nothing(tmp_path: Path) -> None:
    book, target = _tiny_playbook(tmp_path)
    out = _play(book, "--check", "--diff")
    plan = out[out.index("== Plan ==") :]
    assert "1 change(s) a real run would make (check mode: nothing was changed):" in plan
    assert f"~ Write the file [localhost]: {target} +1 -0 lines" in plan
    assert "Version: 7.1" in plan and "URL: http://127.0.0.1:1" in plan
    assert target.read_text() == "one\n"


def test_summary_after_a_real_run_and_silence_under_json(tmp_path: Path) -> None:
    book, target = _tiny_playbook(tmp_path)
    out = _play(book)
    summary = out[out.index("== Summary ==") :]
    assert "~ Write the file [localhost]" in summary and "Took " in summary
    assert target.read_text() == "one\ntwo\n"
    again = _play(book)
    assert "Nothing changed." in again
    quiet = _play(book, env={"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"})
    json.loads(quiet[quiet.index("{") :])  # still one JSON document: no summary mixed in


def test_diff_summary_names_the_changed_attributes() -> None:
    sys.path.insert(0, str(ROOT / "plugins" / "callback"))
    try:
        import crayon_summary
    finally:
        sys.path.remove(str(ROOT / "plugins" / "callback"))
    line = crayon_summary.summarise_diff(
        {
            "before": {"desired": 1, "image": "a:1", "same": 0},
            "after": {"desired": 1, "image": "a:2", "same": 0},
        }
    )
    assert line == "image: a:1 -> a:2"
    assert crayon_summary.summarise_diff([]) == ""
