"""The GitHub deploy roles trust exactly the subjects the workflows' deploy jobs present.

GitHub's OIDC token for a job with `environment: X` has the subject
`repo:<owner>/<repo>:environment:X` and the audience sts.amazonaws.com (what
aws-actions/configure-aws-credentials asks for). The test derives each deploying job's subject
from the workflow files, builds each inventory's roles in moto with the aws_iam role, reads the
trust policy the role really has, and evaluates it with IAM's StringEquals / StringLike
semantics (moto does not evaluate trust conditions). A wrong repository, branch or environment
must be refused.
"""

from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from tests.support.playbook import run_playbook

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
ACCOUNT = "123456789012"
OIDC = "token.actions.githubusercontent.com"


def _load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the `on:` key as True.
    if True in data:
        data["on"] = data.pop(True)
    return dict(data)


def deploy_environments() -> set[str]:
    """Every GitHub environment a job that may mint an OIDC token for AWS deploys to."""
    envs: set[str] = set()
    for path in sorted(WORKFLOWS.glob("*.yml")):
        wf = _load(path)
        if set(wf["on"]) == {"workflow_call"}:
            continue  # a reusable workflow: its callers name the environment (checked below)
        for job in wf.get("jobs", {}).values():
            perms = job.get("permissions", {})
            if not isinstance(perms, dict) or perms.get("id-token") != "write":
                continue
            if "uses" in job:
                called = _load(ROOT / job["uses"].removeprefix("./"))
                env = job.get("with", {}).get("environment")
                assert env, (
                    f"{path.name}: a job with id-token: write calls {job['uses']} "
                    "without an environment"
                )
                inner = [j.get("environment") for j in called["jobs"].values()]
                assert "${{ inputs.environment }}" in inner, called
                envs.add(str(env))
            else:
                env = job.get("environment")
                assert env, (
                    f"{path.name}: a job with id-token: write has no environment: "
                    "its subject would be a branch"
                )
                envs.add(str(env["name"] if isinstance(env, dict) else env))
    return envs


def repository(inventory: str) -> str:
    data = yaml.safe_load(
        (ROOT / "inventories" / inventory / "group_vars/all/main.yml").read_text()
    )
    return str(data["github_repository"])


def _matches(operator: str, wanted: str | list[str], value: str) -> bool:
    values = wanted if isinstance(wanted, list) else [wanted]
    if operator == "StringEquals":
        return value in values
    if operator == "StringLike":
        # IAM's StringLike: * and ? wildcards, case-sensitive; no character classes.
        return any(
            re.fullmatch(re.escape(v).replace(r"\*", ".*").replace(r"\?", "."), value)
            for v in values
        )
    raise AssertionError(f"trust policy uses {operator}: extend the matcher before relying on it")


def trust_allows(policy: dict[str, Any], claims: dict[str, str], provider_arn: str) -> bool:
    """IAM's decision for AssumeRoleWithWebIdentity with a token holding `claims`."""
    allowed = False
    for st in policy["Statement"]:
        actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        if "sts:AssumeRoleWithWebIdentity" not in actions:
            continue
        if st.get("Principal", {}).get("Federated") != provider_arn:
            continue
        ok = True
        for operator, conds in st.get("Condition", {}).items():
            for key, wanted in conds.items():
                claim = key.removeprefix(f"{OIDC}:")
                if claim not in claims or not _matches(operator, wanted, claims[claim]):
                    ok = False
        if ok and st["Effect"] == "Deny":
            return False
        allowed = allowed or (ok and st["Effect"] == "Allow")
    return allowed


def test_the_matcher_itself() -> None:
    assert _matches("StringLike", "repo:o/r:*", "repo:o/r:environment:dev")
    assert not _matches("StringLike", "repo:o/r:*", "repo:o/x:environment:dev")
    assert _matches("StringEquals", ["a", "b"], "b")
    assert not _matches("StringEquals", "a", "A")
    assert not fnmatch.fnmatchcase("x", "[x]y")  # IAM has no [..] classes; neither does ours


def test_workflows_deploy_to_dev_then_production() -> None:
    assert deploy_environments() == {"dev", "production"}


@pytest.mark.slow
def test_each_environments_deploy_role_trusts_exactly_its_jobs(aws_env: dict[str, str]) -> None:
    environments = deploy_environments()
    iam = boto3.client("iam")
    provider = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{OIDC}"
    trusts: dict[str, dict[str, Any]] = {}
    for env in sorted(environments):
        # Each environment's own inventory builds its own deploy role (in one emulated account).
        run = run_playbook(
            ROOT / "tests/deploy/playbooks/iam_only.yml",
            aws_env,
            extra_vars={"aws_account_id": ACCOUNT, "aws_region": "us-east-1"},
            inventory=ROOT / "inventories" / env,
        )
        assert run.returncode == 0, run.output[-5000:]
        role = iam.get_role(RoleName=f"crayon-{env}-github-deploy")["Role"]
        doc = role["AssumeRolePolicyDocument"]
        trusts[env] = json.loads(doc) if isinstance(doc, str) else doc
    assert {
        p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
    } == {provider}
    for env, trust in trusts.items():
        repo = repository(env)
        good = {"sub": f"repo:{repo}:environment:{env}", "aud": "sts.amazonaws.com"}
        assert trust_allows(trust, good, provider), (env, trust)
        owner, name = repo.split("/")
        other_env = next(e for e in environments if e != env)
        refused = [
            {**good, "aud": "https://github.com/" + owner},  # another audience
            {**good, "sub": f"repo:{owner}/{name}-fork:environment:{env}"},  # another repository
            {**good, "sub": f"repo:{owner}-evil/{name}:environment:{env}"},
            {**good, "sub": f"repo:{repo}:ref:refs/heads/main"},  # a branch, no environment
            {**good, "sub": f"repo:{repo}:pull_request"},
            {**good, "sub": f"repo:{repo}:environment:{other_env}"},  # the other environment
            {"sub": good["sub"]},  # no audience at all
        ]
        for claims in refused:
            assert not trust_allows(trust, claims, provider), (env, claims)
        # The wrong identity provider is refused too.
        assert not trust_allows(trust, good, f"arn:aws:iam::{ACCOUNT}:oidc-provider/example.com")
