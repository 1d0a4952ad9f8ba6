"""The Lightsail host's AWS credentials, against a real moto server on loopback.

A Lightsail instance cannot take an IAM role. aws_iam (deploy_target lightsail) gives the host
an IAM user with exactly the EC2 host role's inline policy and one access key whose only copy
is a Secrets Manager secret; app_host reads that secret on the controller and writes the key to
the app's and Litestream's environment files. These tests run the real roles with
`ansible-playbook` (tests/deploy/playbooks/lightsail_credentials.yml, lightsail_host_env.yml)
and read the result back with boto3. Lightsail itself plays no part here: the user, key and
secret are IAM / Secrets Manager objects, which moto implements; IAM policy evaluation is not
(moto stores policies without enforcing them).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from tests.deploy.test_stack_model import crayon_stack
from tests.support.moto_server import MotoServer, free_port
from tests.support.playbook import ROOT, PlaybookRun, run_playbook

pytestmark = pytest.mark.slow  # real ansible-playbook runs

IAM_PLAYBOOK = ROOT / "tests" / "deploy" / "playbooks" / "lightsail_credentials.yml"
ENV_PLAYBOOK = ROOT / "tests" / "deploy" / "playbooks" / "lightsail_host_env.yml"
VARS: dict[str, Any] = {
    "crayon_name": "crayon",
    "crayon_env": "lstest",
    "aws_account_id": "123456789012",
    "deploy_target": "lightsail",
}
USER = "crayon-lstest-lightsail-host"
SECRET = "crayon/lstest/lightsail-host-key"
HOST_ROLE = "crayon-lstest-host"
# The Lightsail user and its key secret serve the whole stack: tagged Service=shared (cost by
# service, docs/stack-model.md).
TAGS = {"Project": "crayon", "Environment": "lstest", "ManagedBy": "ansible", "Service": "shared"}


@dataclass
class Stack:
    env: dict[str, str]
    outputs: list[str] = field(default_factory=list)
    secret_keys: set[str] = field(default_factory=set)

    def run(self, playbook: Path = IAM_PLAYBOOK, check: bool = False, **extra: Any) -> PlaybookRun:
        run = run_playbook(playbook, self.env, {**VARS, **extra}, check=check)
        self.outputs.append(run.output)
        return run

    def client(self, service: str) -> Any:
        return boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
        ).client(service, endpoint_url=self.env["AWS_ENDPOINT_URL"])

    def stored(self) -> dict[str, str]:
        value = json.loads(
            self.client("secretsmanager").get_secret_value(SecretId=SECRET)["SecretString"]
        )
        self.secret_keys.add(value["SecretAccessKey"])
        return value

    def key_ids(self) -> list[str]:
        meta = self.client("iam").list_access_keys(UserName=USER)["AccessKeyMetadata"]
        return sorted(k["AccessKeyId"] for k in meta)

    def caller_arn(self, key: dict[str, str]) -> str:
        sts = boto3.client(
            "sts",
            endpoint_url=self.env["AWS_ENDPOINT_URL"],
            region_name="us-east-1",
            aws_access_key_id=key["AccessKeyId"],
            aws_secret_access_key=key["SecretAccessKey"],
        )
        return str(sts.get_caller_identity()["Arn"])


def _ok(run: PlaybookRun) -> PlaybookRun:
    assert run.returncode == 0 and run.failed == 0, run.output[-5000:]
    return run


@pytest.fixture(scope="module")
def stack(moto: MotoServer) -> Stack:
    moto.reset()
    s = Stack(moto.env())
    # The EC2 host's role first (same stack name): its policy is the reference.
    _ok(s.run(deploy_target="ec2"))
    assert s.client("iam").list_users()["Users"] == [], "ec2 must not create a user"
    first = _ok(s.run())
    assert first.changed > 0
    return s


def test_user_has_exactly_the_ec2_hosts_policy(stack: Stack) -> None:
    iam = stack.client("iam")
    role_policy = iam.get_role_policy(RoleName=HOST_ROLE, PolicyName="least-privilege")
    assert iam.list_user_policies(UserName=USER)["PolicyNames"] == ["least-privilege"]
    user_policy = iam.get_user_policy(UserName=USER, PolicyName="least-privilege")
    assert user_policy["PolicyDocument"] == role_policy["PolicyDocument"]
    statements = user_policy["PolicyDocument"]["Statement"]
    assert all(s["Resource"] != "*" and s["Action"] != "*" for s in statements)
    assert iam.list_attached_user_policies(UserName=USER)["AttachedPolicies"] == []
    assert iam.list_groups_for_user(UserName=USER)["Groups"] == []
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_login_profile(UserName=USER)  # no console access
    tags = iam.list_user_tags(UserName=USER)["Tags"]
    assert {t["Key"]: t["Value"] for t in tags} == TAGS


def test_one_key_kept_in_the_secret_and_it_authenticates(stack: Stack) -> None:
    stored = stack.stored()
    assert stack.key_ids() == [stored["AccessKeyId"]]
    assert stored["UserName"] == USER
    assert len(stored["SecretAccessKey"]) >= 40
    # moto answers GetCallerIdentity with the user only for a key IAM knows.
    assert stack.caller_arn(stored) == f"arn:aws:iam::123456789012:user/{USER}"
    meta = stack.client("secretsmanager").describe_secret(SecretId=SECRET)
    assert {t["Key"]: t["Value"] for t in meta["Tags"]} == TAGS
    assert USER in meta["Description"]


def test_second_run_and_check_mode_change_nothing(stack: Stack) -> None:
    before = stack.stored()
    again = _ok(stack.run())
    assert again.changed == 0, again.changed_tasks()
    check = _ok(stack.run(check=True))
    assert check.changed == 0, check.changed_tasks()
    assert stack.stored() == before


def test_drift_is_reported_in_check_mode_then_repaired(stack: Stack) -> None:
    iam, stored = stack.client("iam"), stack.stored()
    everything = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
        }
    )
    policy_arn = iam.create_policy(PolicyName="lstest-extra", PolicyDocument=everything)
    iam.attach_user_policy(UserName=USER, PolicyArn=policy_arn["Policy"]["Arn"])
    iam.put_user_policy(UserName=USER, PolicyName="added-by-hand", PolicyDocument=everything)
    iam.create_login_profile(UserName=USER, Password="Console-Password-123!")
    stray = iam.create_access_key(UserName=USER)["AccessKey"]["AccessKeyId"]
    stack.client("secretsmanager").tag_resource(
        SecretId=SECRET, Tags=[{"Key": "Environment", "Value": "other"}]
    )

    check = _ok(stack.run(check=True))
    changed = check.changed_tasks()
    for task in (
        "IAM user of the Lightsail host (no console password, no managed policy)",
        "No other inline policy on the user",
        "Retire the user's other keys (the secret holds the one that works)",
        "Tags of the key secret",
    ):
        assert f"aws_iam : {task}" in changed, changed
    assert stray in stack.key_ids(), "check mode must not delete anything"

    _ok(stack.run())
    assert iam.list_attached_user_policies(UserName=USER)["AttachedPolicies"] == []
    assert iam.list_user_policies(UserName=USER)["PolicyNames"] == ["least-privilege"]
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_login_profile(UserName=USER)
    # The stray key goes; the key the secret holds (the host's) stays untouched.
    assert stack.key_ids() == [stored["AccessKeyId"]]
    assert stack.stored() == stored
    meta = stack.client("secretsmanager").describe_secret(SecretId=SECRET)
    assert {t["Key"]: t["Value"] for t in meta["Tags"]} == TAGS


def test_rotation_replaces_the_key(stack: Stack) -> None:
    old = stack.stored()
    rotated = _ok(stack.run(aws_iam_lightsail_key_rotate=True))
    assert rotated.changed > 0
    new = stack.stored()
    assert new["AccessKeyId"] != old["AccessKeyId"]
    assert new["SecretAccessKey"] != old["SecretAccessKey"]
    assert stack.key_ids() == [new["AccessKeyId"]]
    assert stack.caller_arn(new).endswith(f":user/{USER}")
    again = _ok(stack.run())
    assert again.changed == 0, again.changed_tasks()


def test_two_step_rotation_keeps_the_old_key_until_the_next_run(stack: Stack) -> None:
    old = stack.stored()
    _ok(stack.run(aws_iam_lightsail_key_rotate=True, aws_iam_lightsail_key_retire_old=False))
    new = stack.stored()
    assert new["AccessKeyId"] != old["AccessKeyId"]
    assert stack.key_ids() == sorted([old["AccessKeyId"], new["AccessKeyId"]])
    # A host not yet given the new key still authenticates with the old one.
    assert stack.caller_arn(old).endswith(f":user/{USER}")
    _ok(stack.run())
    assert stack.key_ids() == [new["AccessKeyId"]]
    assert stack.stored() == new


def test_a_lost_secret_gets_a_new_key_and_the_unknown_one_is_retired(stack: Stack) -> None:
    old = stack.stored()
    stack.client("secretsmanager").delete_secret(SecretId=SECRET, ForceDeleteWithoutRecovery=True)
    _ok(stack.run())
    new = stack.stored()
    assert new["AccessKeyId"] != old["AccessKeyId"]
    assert stack.key_ids() == [new["AccessKeyId"]]


def test_env_files_of_a_lightsail_host_carry_the_key(stack: Stack, tmp_path: Path) -> None:
    stored = stack.stored()
    run = _ok(
        stack.run(
            ENV_PLAYBOOK,
            env_out=str(tmp_path),
            app_host_aws_key_secret_id=SECRET,
            app_host_aws_key_secret_region="us-east-1",
            app_host_env={"CRAYON_S3_BUCKET": "crayon-lstest-data"},
            app_host_litestream_env={"LITESTREAM_EXTRA": "1"},
        )
    )
    app_env = _parse_env(tmp_path / "crayon.env")
    assert app_env["AWS_ACCESS_KEY_ID"] == stored["AccessKeyId"]
    assert app_env["AWS_SECRET_ACCESS_KEY"] == stored["SecretAccessKey"]
    assert app_env["CRAYON_S3_BUCKET"] == "crayon-lstest-data"
    assert app_env["CRAYON_ENV"] == "production"
    ls_env = _parse_env(tmp_path / "litestream.env")
    assert ls_env == {
        "AWS_ACCESS_KEY_ID": stored["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": stored["SecretAccessKey"],
        "LITESTREAM_EXTRA": "1",
    }
    assert stored["SecretAccessKey"] not in run.output


def test_env_files_of_an_ec2_host_carry_no_key(stack: Stack, tmp_path: Path) -> None:
    _ok(stack.run(ENV_PLAYBOOK, env_out=str(tmp_path)))
    assert not any(k.startswith("AWS_") for k in _parse_env(tmp_path / "crayon.env"))
    assert _parse_env(tmp_path / "litestream.env") == {}


@pytest.mark.parametrize(
    "extra,words",
    [
        (
            {"app_host_aws_key_secret_id": "crayon/lstest/no-such-secret"},
            "does not exist, is scheduled for deletion, or is not JSON",
        ),
        (
            {"app_host_aws_key_secret_id": SECRET, "app_host_env": {"AWS_ACCESS_KEY_ID": "AKIAX"}},
            "remove AWS_ACCESS_KEY_ID from app_host_env",
        ),
        (
            {"app_host_aws_key_secret_id": "bad name!"},
            "must be a Secrets Manager secret name or ARN",
        ),
    ],
)
def test_app_host_refuses_a_missing_secret_or_a_second_key(
    stack: Stack, tmp_path: Path, extra: dict[str, Any], words: str
) -> None:
    run = stack.run(ENV_PLAYBOOK, env_out=str(tmp_path), **extra)
    assert run.returncode != 0
    assert words in " ".join(run.output.split()), run.output[-3000:]
    assert not (tmp_path / "crayon.env").exists()


def test_env_files_are_written_0600_root_by_units_yml() -> None:
    tasks = yaml.safe_load((ROOT / "roles" / "app_host" / "tasks" / "units.yml").read_text())
    for name in ("app.env.j2", "litestream.env.j2"):
        (task,) = [t for t in tasks if t.get("ansible.builtin.template", {}).get("src") == name]
        spec = task["ansible.builtin.template"]
        assert (spec["owner"], spec["group"], spec["mode"]) == ("root", "root", "0600")
        assert task["no_log"] is True


@pytest.mark.parametrize("playbook", ["site.yml", "host.yml"])
def test_playbooks_name_the_secret_aws_iam_writes(playbook: str) -> None:
    """Both playbooks and aws_iam take the key secret's name from the one stack model."""
    plays = yaml.safe_load((ROOT / "playbooks" / playbook).read_text())
    (task,) = [
        t
        for play in plays
        for t in play.get("pre_tasks", [])
        if "app_host_aws_key_secret_id" in t.get("ansible.builtin.set_fact", {})
    ]
    assert task["when"] == "host_app_on_aws | bool and host_app_model.target == 'lightsail'"
    expr = task["ansible.builtin.set_fact"]["app_host_aws_key_secret_id"]
    assert expr == "{{ host_app_model.names.lightsail_key_secret }}"
    wiring = yaml.safe_load((ROOT / "playbooks" / "vars" / "stack.yml").read_text())
    assert wiring["aws_iam_lightsail_key_secret_name"] == "{{ stack_names.lightsail_key_secret }}"
    model = crayon_stack(
        {"name": "crayon", "env": "lstest", "account_id": "123456789012", "target": "lightsail"},
        [{"name": "app"}],
    )
    assert model["names"]["lightsail_key_secret"] == SECRET
    assert model["names"]["roles"]["lightsail_user"] == USER


@pytest.mark.parametrize(
    "bad,words",
    [
        (
            {"aws_iam_lightsail_key_secret_name": "crayon/lstest/admin"},
            "not one of the secrets the app may read",
        ),
        (
            {"aws_iam_lightsail_key_secret_recovery_window_days": 3},
            "the recovery window 0 or 7-30 days",
        ),
        ({"aws_iam_lightsail_user_name": "x" * 65}, "must be at most 64 IAM name characters"),
    ],
)
def test_aws_iam_refuses_bad_settings_in_words(bad: dict[str, Any], words: str) -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # any AWS call would fail, not the check
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_URL": dead,
        "AWS_ENDPOINT_URL": dead,
    }
    run = run_playbook(IAM_PLAYBOOK, env, {**VARS, **bad})
    assert run.returncode != 0
    assert words in " ".join(run.output.split()), run.output[-3000:]


def test_destroy_removes_user_keys_and_secret_and_is_idempotent(stack: Stack) -> None:
    gone = _ok(stack.run(iam_state="absent"))
    assert gone.changed > 0
    iam = stack.client("iam")
    assert [u["UserName"] for u in iam.list_users()["Users"]] == []
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.list_access_keys(UserName=USER)
    sm = stack.client("secretsmanager")
    with pytest.raises(sm.exceptions.ResourceNotFoundException):
        sm.describe_secret(SecretId=SECRET)
    again = _ok(stack.run(iam_state="absent"))
    assert again.changed == 0, again.changed_tasks()


def test_no_output_shows_a_secret_key(stack: Stack) -> None:
    """no_log everywhere the key passes: not one run printed a secret access key."""
    assert stack.secret_keys  # every key the tests read back (four when the module runs whole)
    for output in stack.outputs:
        for key in stack.secret_keys:
            assert key not in output


def _parse_env(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key] = json.loads(value) if value.startswith('"') else value
    return out
