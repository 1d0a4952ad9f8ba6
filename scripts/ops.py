#!/usr/bin/env python3
"""One command per job, the same for every target (ecs, ec2, lightsail, the local stack).

    python scripts/ops.py --env ENV deploy VERSION [--pyz PATH]
    python scripts/ops.py --env ENV rollback [VERSION] [--list]
    python scripts/ops.py --env ENV logs [--since 10m] [--grep TEXT] [--follow]
    python scripts/ops.py --env ENV plan [VERSION]
    python scripts/ops.py --env ENV status
    python scripts/ops.py --env ENV restore [TIME] [--confirm]
    python scripts/ops.py local-up | local-down

`make deploy ENV=local VERSION=...` and friends call this. Each command checks its arguments
(and, for a rollback, that there is something to roll back to) before it runs a playbook; a
bad one gets a sentence that says what to do, exit code 2, and nothing is changed. The work
itself is done by the playbooks (deploy.yml, rollback.yml, status.yml, site.yml; release.yml
and rollback-host.yml on hosts): this is a thin front that picks the right one.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local_stack import Refused  # scripts/ is on sys.path: this file's own folder

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
INVENTORIES = ROOT / "inventories"
PLAYBOOKS = ROOT / "playbooks"
VERSION_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
# A host release's name (crayon-release's rule): stricter than an image tag.
HOST_VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")
TARGETS = ("ecs", "ec2", "lightsail", "host")
# What crayon-release (through tool_command.yml or the release action) prints when it refused
# and changed nothing.
REFUSED_MARK = "REFUSED (nothing changed): "
SINCE_RE = re.compile(r"^(\d{1,6})([smhd])$")
RELEASE_TOOL = "/opt/crayon/bin/crayon-release"


# --- Environments --------------------------------------------------------------------------


@dataclass
class Env:
    """An inventory under inventories/ and what the CLI needs to know about it."""

    name: str
    inventory: Path
    settings: dict[str, Any]
    aws: dict[str, str] = field(default_factory=dict)

    @property
    def target(self) -> str:
        # An inventory of app hosts only (inventories/local-host) has no AWS settings.
        default = "ecs" if (self.inventory / "group_vars" / "all").exists() else "host"
        return str(self.settings.get("deploy_target", default))

    @property
    def names(self) -> dict[str, Any]:
        """The stack model's names (plugins/filter/crayon_stack.py), the same the playbooks use."""
        return stack_names(self.settings)

    @property
    def stack(self) -> str:
        return str(self.names["prefix"])

    @property
    def app(self) -> dict[str, str]:
        """Names of the inventory's first service (the one `make deploy` ships)."""
        return dict(next(iter(self.names["services"].values())))

    @property
    def region(self) -> str:
        return str(self.settings.get("aws_region", "us-east-1"))

    @property
    def is_local(self) -> bool:
        return self.name == "local"


def stack_names(settings: dict[str, Any]) -> dict[str, Any]:
    """Render the inventory's `stack:`/`services:` (their simple {{ var }} references to other
    group variables; lookups become '') and derive the names with the playbooks' own filter."""
    import importlib.util

    import jinja2

    spec = importlib.util.spec_from_file_location(
        "crayon_stack", ROOT / "plugins" / "filter" / "crayon_stack.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    jinja = jinja2.Environment(autoescape=False)  # noqa: S701 - YAML values, not HTML
    context: dict[str, Any] = {"lookup": lambda *a, **k: "", **settings}

    def render(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: render(v) for k, v in value.items()}
        if isinstance(value, list):
            return [render(v) for v in value]
        if isinstance(value, str) and "{{" in value:
            for _ in range(3):  # a variable may name another
                value = jinja.from_string(value).render(context)
                if "{{" not in value:
                    break
        return value

    model = module.crayon_stack(
        render(settings.get("stack") or {}), render(settings.get("services") or [])
    )
    return dict(model["names"])


def known_envs() -> list[str]:
    return sorted(p.parent.name for p in INVENTORIES.glob("*/hosts.yml"))


def load_env(name: str) -> Env:
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", name) or name not in known_envs():
        raise Refused(
            f"Unknown environment {name!r}: pick one of {', '.join(known_envs())} "
            "(the folders under inventories/), e.g. ENV=local; for a new one copy "
            "inventories/production and fill it in."
        )
    import yaml  # type: ignore[import-untyped]

    inventory = INVENTORIES / name
    settings: dict[str, Any] = {}
    main = inventory / "group_vars" / "all" / "main.yml"
    if main.exists():
        settings = yaml.safe_load(main.read_text()) or {}
    env = Env(name=name, inventory=inventory, settings=settings)
    if env.target not in TARGETS:
        raise Refused(
            f"Unknown target {env.target!r} (deploy_target in {main.relative_to(ROOT)}): set it "
            f"to one of {', '.join(TARGETS[:3])}."
        )
    env.aws = aws_environment(env)
    return env


def loopback(url: str) -> bool:
    from urllib.parse import urlsplit

    host = urlsplit(url).hostname or ""
    return host in ("localhost", "127.0.0.1", "::1") or host.startswith("127.")


def aws_environment(env: Env) -> dict[str, str]:
    """The AWS variables the playbooks and boto3 get for this environment."""
    if env.is_local:
        from local_stack import moto_env

        return moto_env()
    aws = {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
    if env.settings.get("preflight_require_loopback"):
        for key in ("AWS_ENDPOINT_URL", "AWS_URL"):
            if not loopback(aws.get(key, "")):
                raise Refused(
                    f"The {env.name} inventory runs only against an AWS emulator on loopback: "
                    f"export {key}=http://127.0.0.1:PORT (e.g. from "
                    "`python molecule/aws/moto_ctl.py env STATE_DIR`), or use ENV=local."
                )
    return aws


def boto(env: Env, service: str) -> Any:
    import boto3

    make: Any = boto3.client  # the service name is a plain str here, not a Literal
    return make(
        service,
        region_name=env.aws.get("AWS_REGION", env.region),
        endpoint_url=env.aws.get("AWS_ENDPOINT_URL") or None,
        aws_access_key_id=env.aws.get("AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=env.aws.get("AWS_SECRET_ACCESS_KEY"),
        aws_session_token=env.aws.get("AWS_SESSION_TOKEN"),
    )


# --- Running Ansible -------------------------------------------------------------------------


def ansible_env(env: Env, extra: dict[str, str] | None = None) -> dict[str, str]:
    run = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    run.update(env.aws)
    run.update(
        {
            "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
            "ANSIBLE_DEPRECATION_WARNINGS": "0",
            "PATH": f"{BIN}{os.pathsep}{run.get('PATH', '')}",
        }
    )
    if env.is_local:
        from local_stack import host_env

        run.update(host_env())
    run.update(extra or {})
    return run


def playbook(
    env: Env,
    name: str,
    extra_vars: dict[str, Any] | None = None,
    *args: str,
    capture: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run playbooks/NAME against the environment's inventory; output streams through."""
    cmd = [str(BIN / "ansible-playbook"), "-i", str(env.inventory), str(PLAYBOOKS / name)]
    merged = dict(local_vars(env)) | dict(extra_vars or {})
    if merged:
        cmd += ["-e", json.dumps(merged)]
    cmd += list(args)
    print("$ " + " ".join(c if " " not in c else repr(c) for c in cmd[1:]), flush=True)
    if capture:
        return subprocess.run(
            cmd, cwd=ROOT, env=ansible_env(env), text=True, capture_output=True, check=False
        )
    # Streamed as it comes and kept, so the caller can tell a refusal from a failure.
    with subprocess.Popen(
        cmd, cwd=ROOT, env=ansible_env(env), text=True, stdout=subprocess.PIPE, bufsize=1
    ) as proc:
        assert proc.stdout is not None
        kept = []
        for line in proc.stdout:
            print(line, end="", flush=True)
            kept.append(line)
    return subprocess.CompletedProcess(cmd, proc.returncode, "".join(kept), "")


def refusal(proc: subprocess.CompletedProcess[str]) -> str | None:
    """crayon-release's reason when a host playbook failed only because the tool refused:
    the `msg:` of the failed task (YAML output, a folded quoted scalar or a block)."""
    if proc.returncode == 0 or not proc.stdout or REFUSED_MARK not in proc.stdout:
        return None
    lines = proc.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if REFUSED_MARK in line)
    key = next((i for i in range(at, -1, -1) if lines[i].lstrip().startswith("msg:")), at)
    indent = len(lines[key]) - len(lines[key].lstrip())
    text = [lines[at].split(REFUSED_MARK, 1)[1]]
    for line in lines[at + 1 :]:
        if not line.strip() or len(line) - len(line.lstrip()) <= indent:
            break
        text.append(line.strip())
    reason = " ".join(" ".join(text).split())
    if reason.endswith("'"):  # a single-quoted YAML scalar: '' stands for '
        reason = reason[:-1]
    return reason.replace("''", "'") or None


def local_vars(env: Env) -> dict[str, Any]:
    if not env.is_local:
        return {}
    from local_stack import playbook_vars

    return playbook_vars()


def host_command(env: Env, argv: Sequence[str]) -> dict[str, tuple[int, str, str]]:
    """Run a command on every app host (ad hoc, as root); {host: (rc, stdout, stderr)}."""
    import shlex

    cmd = [
        str(BIN / "ansible"),
        "-i",
        str(env.inventory),
        "app_hosts",
        "-b",
        "-m",
        "ansible.builtin.command",
        "-a",
        shlex.join(argv),
    ]
    if env.is_local:
        cmd += ["-e", json.dumps(local_vars(env))]
    proc = subprocess.run(
        cmd,
        cwd=ROOT,
        env=ansible_env(
            env,
            {"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json", "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1"},
        ),
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        doc = json.loads(proc.stdout[proc.stdout.index("{") :])
    except ValueError as e:
        raise Refused(
            f"Could not reach the hosts of {env.name} ({proc.stderr.strip()[-300:]}): "
            "check the inventory's app_hosts and that the host is up."
        ) from e
    out: dict[str, tuple[int, str, str]] = {}
    for play in doc.get("plays", []):
        for task in play.get("tasks", []):
            for host, res in task.get("hosts", {}).items():
                rc = int(res.get("rc", 1 if res.get("failed") or res.get("unreachable") else 0))
                out[host] = (rc, res.get("stdout", ""), res.get("stderr", res.get("msg", "")))
    return out


# --- Versions ----------------------------------------------------------------------------


def check_host_version(version: str) -> str:
    if not HOST_VERSION_RE.fullmatch(version):
        raise Refused(
            f"{version!r} is not a host release name: use letters, digits, '.', '_', '+' or '-' "
            "(at most 64, starting with a letter or digit), e.g. VERSION=1.4.2."
        )
    return version


def check_version(version: str) -> str:
    if not VERSION_RE.fullmatch(version):
        raise Refused(
            f"{version!r} is not a version: use letters, digits, '_', '.' or '-' "
            "(at most 128, not starting with '.' or '-'), e.g. VERSION=1.4.2 or a git sha."
        )
    return version


def ecs_versions(env: Env) -> tuple[str, list[dict[str, Any]]]:
    """(current family:revision, ACTIVE revisions newest first with their image tags)."""
    ecs = boto(env, "ecs")
    found = ecs.describe_services(cluster=env.names["cluster"], services=[env.app["service"]])[
        "services"
    ]
    if not found or found[0].get("status") == "INACTIVE":
        raise Refused(
            f"There is no ECS service {env.app['service']} yet: build the stack first "
            f"(make site ENV={env.name}), then deploy."
        )
    current = found[0]["taskDefinition"].split("/")[-1]
    family = current.rsplit(":", 1)[0]
    arns = ecs.list_task_definitions(familyPrefix=family, status="ACTIVE", sort="DESC")[
        "taskDefinitionArns"
    ]
    versions = []
    for arn in arns[:25]:
        td = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
        image = td["containerDefinitions"][0].get("image", "")
        versions.append(
            {
                "revision": int(td["revision"]),
                "task_definition": arn.split("/")[-1],
                "tag": image.rsplit(":", 1)[-1],
                "current": arn.split("/")[-1] == current,
            }
        )
    versions.sort(key=lambda v: -int(v["revision"]))  # moto ignores sort=DESC
    return current, versions


def host_versions(env: Env) -> tuple[str, list[str]]:
    """(current release, releases on the host) from the host's release tool."""
    results = host_command(env, [RELEASE_TOOL, "list"])
    for host, (rc, out, err) in results.items():
        if rc != 0:
            raise Refused(
                f"Could not list the releases on {host} ({err.strip()[:200]}): run "
                f"`make site ENV={env.name}` (it installs {RELEASE_TOOL}), then try again."
            )
        doc = json.loads(out)
        releases = doc.get("releases", [])
        names = [r["version"] if isinstance(r, dict) else str(r) for r in releases]
        return str(doc.get("current", "")), names
    raise Refused(f"The {env.name} inventory lists no app host: fill in its app_hosts group.")


def ecr_tags(env: Env) -> list[str]:
    ecr = boto(env, "ecr")
    try:
        pages = ecr.get_paginator("list_images").paginate(repositoryName=env.app["repository"])
        return sorted({i["imageTag"] for p in pages for i in p["imageIds"] if "imageTag" in i})
    except ecr.exceptions.RepositoryNotFoundException as e:
        raise Refused(
            f"There is no ECR repository {env.app['repository']} yet: "
            f"run `make site ENV={env.name}` first."
        ) from e


# --- Commands ----------------------------------------------------------------------------


def cmd_deploy(env: Env, ns: argparse.Namespace) -> int:
    version = check_version(ns.version)
    started = time.monotonic()
    if env.target == "ecs":
        tags = ecr_tags(env)
        if version not in tags:
            listing = ", ".join(tags[-10:]) or "none yet"
            raise Refused(
                f"No image tagged {version!r} in ECR repository {env.app['repository']} "
                f"(tags: {listing}). "
                f"Build and push it first: scripts/build-image.sh, then podman push to "
                f"<account>.dkr.ecr.{env.region}.amazonaws.com/{env.app['repository']}:{version}."
            )
        with EventStream(env):
            proc = playbook(env, "deploy.yml", {"deploy_image_tag": version})
    else:
        check_host_version(version)
        pyz = Path(ns.pyz) if ns.pyz else None
        if pyz is not None and not pyz.is_file():
            raise Refused(f"No build at {pyz}: run `make dist` or give --pyz PATH of a crayon.pyz.")
        if pyz is None:
            from local_stack import build

            pyz = build()
        if (PLAYBOOKS / "release.yml").exists():
            proc = playbook(
                env, "release.yml", {"release_version": version, "release_pyz": str(pyz.resolve())}
            )
        else:  # before the fast release playbook exists: the role's own release path
            proc = playbook(
                env,
                "host.yml",
                {"app_host_release_version": version, "app_host_release_pyz": str(pyz.resolve())},
                "--tags",
                "app_host_release",
            )
        refused = refusal(proc)
        if refused:
            raise Refused(f"The host refused to deploy {version}: {refused}")
        if proc.returncode != 0:
            show_journal(env)
    took = time.monotonic() - started
    if proc.returncode != 0:
        print(f"DEPLOY FAILED after {took:.0f} s: {version} is not live (see the reasons above).")
        return 1
    print(f"Deployed {version} to {env.name} in {took:.0f} s. URL: {url_of(env)}")
    return 0


def cmd_rollback(env: Env, ns: argparse.Namespace) -> int:
    wanted = check_version(ns.version) if ns.version else ""
    started = time.monotonic()
    if env.target == "ecs":
        current, versions = ecs_versions(env)
        listing = "; ".join(
            f"{'*' if v['current'] else ''}{v['revision']} ({v['tag']})" for v in versions
        )
        if ns.list:
            print(
                f"Versions of {env.app['service']} (revision (image tag); * = running): {listing}"
            )
            return 0
        cur_rev = int(current.rsplit(":", 1)[1])
        if wanted:
            match = [v for v in versions if wanted in (str(v["revision"]), v["tag"])]
            if not match:
                raise Refused(f"No version {wanted!r} to roll back to. Pick one of: {listing}.")
            if match[0]["current"]:
                raise Refused(f"{wanted} is already running: pick an older one of: {listing}.")
        elif not [v for v in versions if v["revision"] < cur_rev]:
            raise Refused(
                f"Nothing to roll back to: {current} is the only version. Deploy one instead "
                f"(make deploy ENV={env.name} VERSION=...)."
            )
        with EventStream(env):
            proc = playbook(env, "rollback.yml", {"rollback_version": wanted} if wanted else {})
    else:
        current, releases = host_versions(env)
        listing = ", ".join(f"{'*' if r == current else ''}{r}" for r in releases)
        if ns.list:
            print(f"Releases on the host (* = running): {listing}")
            return 0
        if wanted and wanted not in releases:
            raise Refused(f"No release {wanted!r} on the host. Pick one of: {listing}.")
        if wanted and wanted == current:
            raise Refused(f"{wanted} is already running: pick an older one of: {listing}.")
        if not wanted and not [r for r in releases if r != current]:
            raise Refused(
                f"Nothing to roll back to: {current} is the only release on the host. Deploy "
                f"one instead (make deploy ENV={env.name} VERSION=...)."
            )
        if not (PLAYBOOKS / "rollback-host.yml").exists():
            raise Refused(
                "playbooks/rollback-host.yml is not in this tree yet (it comes with the "
                "app_host release tool): update the kit, then roll back."
            )
        proc = playbook(env, "rollback-host.yml", {"rollback_version": wanted} if wanted else {})
        refused = refusal(proc)
        if refused:
            raise Refused(f"The host refused the rollback: {refused}")
        if proc.returncode != 0:
            show_journal(env)
    took = time.monotonic() - started
    if proc.returncode != 0:
        print(f"ROLLBACK FAILED after {took:.0f} s (see the reasons above).")
        return 1
    print(f"Rolled back {env.name} in {took:.0f} s. URL: {url_of(env)}")
    return 0


def parse_since(text: str, now: dt.datetime | None = None, what: str = "--since") -> dt.datetime:
    now = now or dt.datetime.now(dt.UTC)
    m = SINCE_RE.fullmatch(text)
    if m:
        unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[m.group(2)]
        return now - dt.timedelta(**{unit: int(m.group(1))})
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as e:
        raise Refused(
            f"{what} {text!r} is neither a duration (30s, 10m, 2h, 1d) nor a time "
            "(2026-05-01T12:00:00Z): give one of those."
        ) from e
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def check_arguments(ns: argparse.Namespace) -> None:
    """Refuse a malformed argument before the environment is even read."""
    if ns.command == "deploy" and not ns.version:
        raise Refused("Give the version to deploy: make deploy ENV=<env> VERSION=<version>.")
    if getattr(ns, "version", ""):
        check_version(ns.version)
    if ns.command == "restore" and ns.time:
        parse_since(
            ns.time, what="TIME"
        )  # a duration ago or an ISO time; restore.yml checks it again
        if SINCE_RE.fullmatch(ns.time):
            ns.time = f"{parse_since(ns.time):%Y-%m-%dT%H:%M:%SZ}"
    if ns.command == "logs":
        parse_since(ns.since)
        if ns.grep is not None and (not ns.grep.strip() or len(ns.grep) > 200 or '"' in ns.grep):
            raise Refused(
                "--grep takes the text to look for (a request id, a word; 1-200 characters, "
                "no double quote), e.g. --grep req-3f2a."
            )


def cmd_logs(env: Env, ns: argparse.Namespace) -> int:
    since = parse_since(ns.since)
    if env.target == "ecs":
        for line in ecs_log_lines(env, since, ns.grep, ns.follow):
            print(line, flush=True)
    else:
        for line in journal_lines(env, since, ns.grep, ns.follow):
            print(line, flush=True)
    return 0


def ecs_log_lines(
    env: Env, since: dt.datetime, grep: str | None, follow: bool, poll: float = 2.0
) -> Iterator[str]:
    """CloudWatch Logs of the service (filter_log_events), oldest first; --follow polls."""
    logs = boto(env, "logs")
    group = env.app["log_group"]
    start = int(since.timestamp() * 1000)
    seen: set[str] = set()
    kwargs: dict[str, Any] = {"logGroupName": group}
    if grep:
        kwargs["filterPattern"] = f'"{grep}"'
    while True:
        token: str | None = None
        newest = start
        while True:
            page = logs.filter_log_events(
                startTime=start, **kwargs, **({"nextToken": token} if token else {})
            )
            for ev in page.get("events", []):
                if ev["eventId"] in seen:
                    continue
                seen.add(ev["eventId"])
                newest = max(newest, int(ev["timestamp"]))
                stamp = dt.datetime.fromtimestamp(ev["timestamp"] / 1000, dt.UTC)
                message = ev["message"].rstrip()
                if grep and grep not in message:  # moto ignores filterPattern; AWS does not
                    continue
                yield f"{stamp:%Y-%m-%dT%H:%M:%S}Z {ev.get('logStreamName', '')} {message}"
            token = page.get("nextToken")
            if not token:
                break
        if not follow:
            return
        start = newest
        time.sleep(poll)


def journal_lines(env: Env, since: dt.datetime, grep: str | None, follow: bool) -> Iterator[str]:
    """The app's and Litestream's journal on each host; --follow polls with a cursor file."""
    base = [
        "journalctl",
        "-u",
        "crayon*",
        "-u",
        "litestream",
        "--no-pager",
        "-o",
        "short-iso-precise",
    ]
    cursor = "/run/crayon-ops-logs.cursor"
    first = [*base, "--since", f"{since:%Y-%m-%d %H:%M:%S} UTC"]
    if follow:
        first += ["--cursor-file", cursor]
    while True:
        for host, (rc, out, err) in host_command(env, first).items():
            if rc != 0:
                raise Refused(f"Could not read the journal on {host}: {err.strip()[:300]}")
            for line in out.splitlines():
                if line.startswith("-- ") or (grep and grep not in line):
                    continue
                yield f"{host} {line}"
        if not follow:
            return
        first = [*base, "--cursor-file", cursor]
        time.sleep(2)


def cmd_plan(env: Env, ns: argparse.Namespace) -> int:
    if ns.version:
        version = check_version(ns.version)
        if env.target == "ecs":
            proc = playbook(env, "deploy.yml", {"deploy_image_tag": version}, "--check", "--diff")
        else:
            check_host_version(version)
            pyz = Path(ns.pyz) if ns.pyz else ROOT / "dist" / "crayon.pyz"
            if not pyz.is_file():
                raise Refused(
                    f"No build at {pyz} to plan a deploy of: run `make dist` or give --pyz PATH."
                )
            # crayon-release deploy --check on each host: would it install, switch, or refuse.
            proc = playbook(
                env,
                "release.yml",
                {"release_version": version, "release_pyz": str(pyz.resolve())},
                "--check",
                "--diff",
            )
            refused = refusal(proc)
            if refused:
                raise Refused(f"A deploy of {version} would be refused: {refused}")
    else:
        proc = playbook(env, "site.yml", {}, "--check", "--diff", *site_args(env))
    return proc.returncode


def site_args(env: Env) -> list[str]:
    # The local stack's host is a container this CLI starts, not an EC2 instance.
    return ["--skip-tags", "aws_host"] if env.is_local else []


def cmd_maintenance(env: Env, ns: argparse.Namespace) -> int:
    """The maintenance page on (app down on purpose) or off: the ALB on ECS, the hosts' socket."""
    book = "maintenance.yml" if env.target == "ecs" else "maintenance-host.yml"
    return playbook(env, book, {"maintenance": ns.state}).returncode


def cmd_status(env: Env, ns: argparse.Namespace) -> int:
    proc = playbook(env, "status.yml", {})
    print(f"URL: {url_of(env)}")
    return proc.returncode


def cmd_restore(env: Env, ns: argparse.Namespace) -> int:
    """The database back to a point in time (hosts); a preview unless --confirm."""
    if env.target == "ecs":
        raise Refused(
            "Restoring the database on ECS is a manual procedure: follow docs/runbooks.md, "
            "'Restore the database to a point in time' (ECS)."
        )
    extra = {"restore_timestamp": ns.time, "restore_confirm": bool(ns.confirm)}
    proc = playbook(env, "restore.yml", extra, *([] if ns.confirm else ["--check"]))
    if proc.returncode == 0 and not ns.confirm:
        print("That was a preview: nothing was changed. Add --confirm to restore.")
    return proc.returncode


def cmd_site(env: Env, ns: argparse.Namespace) -> int:
    return playbook(env, "site.yml", {}, *site_args(env)).returncode


def show_journal(env: Env) -> None:
    """The journal's last lines on each host: why a release failed."""
    try:
        results = host_command(
            env, ["journalctl", "-u", "crayon*", "-u", "litestream", "-n", "40", "--no-pager"]
        )
    except Refused as e:
        print(e)
        return
    for host, (_, out, _) in results.items():
        print(f"--- journal on {host} (last 40 lines) ---\n{out}")


def url_of(env: Env) -> str:
    if env.is_local:
        from local_stack import local_url

        return local_url()
    try:
        if env.target == "ecs":
            lbs = boto(env, "elbv2").describe_load_balancers(Names=[env.names["alb"]])
            return f"http://{lbs['LoadBalancers'][0]['DNSName']}"
        for dist in (
            boto(env, "cloudfront")
            .list_distributions()
            .get("DistributionList", {})
            .get("Items", [])
        ):
            if dist.get("Comment", "").startswith(env.stack):
                return f"https://{dist['DomainName']}"
    except Exception as e:  # the URL is a courtesy; never fail a finished deploy over it
        return f"(could not look it up: {type(e).__name__})"
    return "(no URL found)"


class EventStream:
    """While a deploy or rollback waits, print the ECS service's new events as they come."""

    def __init__(self, env: Env, every: float = 5.0) -> None:
        self.env, self.every = env, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> EventStream:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=self.every + 5)

    def _run(self) -> None:
        seen: set[str] = set()
        first = True
        while not self._stop.is_set():
            try:
                svc = boto(self.env, "ecs").describe_services(
                    cluster=self.env.names["cluster"], services=[self.env.app["service"]]
                )["services"]
                for ev in reversed(svc[0].get("events", []) if svc else []):
                    if ev["id"] not in seen:
                        seen.add(ev["id"])
                        if not first:
                            print(f"[ecs] {ev['createdAt']:%H:%M:%S} {ev['message']}", flush=True)
            except Exception as e:  # events are a progress aid; the playbook has the verdict
                print(f"[ecs] (could not read the service's events: {type(e).__name__})")
            first = False
            self._stop.wait(self.every)


def cmd_local(action: str) -> int:
    import local_stack

    return local_stack.up() if action == "local-up" else local_stack.down()


# --- Front ---------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="ops", description=__doc__.split("\n\n")[0])
    ap.add_argument("--env", default=os.environ.get("ENV", "local"), help="inventory name")
    sub = ap.add_subparsers(dest="command", required=True)
    d = sub.add_parser("deploy", help="ship a version, health-gated; roll back on failure")
    d.add_argument("version")
    d.add_argument("--pyz", help="host targets: the build to ship (default: make dist)")
    r = sub.add_parser("rollback", help="back to the previous version, or a named one")
    r.add_argument("version", nargs="?", default="")
    r.add_argument("--list", action="store_true", help="list the versions, change nothing")
    lg = sub.add_parser("logs", help="CloudWatch Logs (ECS) or the journal (hosts)")
    lg.add_argument("--since", default="10m")
    lg.add_argument("--grep")
    lg.add_argument("--follow", action="store_true")
    p = sub.add_parser("plan", help="what site.yml (or a deploy of VERSION) would change")
    p.add_argument("version", nargs="?", default="")
    p.add_argument("--pyz", help="host targets: the build a deploy would ship (default: dist/)")
    sub.add_parser("status", help="what runs where, version, health, replication")
    m = sub.add_parser("maintenance", help="the maintenance page on or off (ALB or hosts)")
    m.add_argument("state", choices=["on", "off"])
    rs = sub.add_parser("restore", help="the database back to a time (hosts); preview first")
    rs.add_argument("time", nargs="?", default="", help="ISO time or 10m/2h ago; empty = newest")
    rs.add_argument("--confirm", action="store_true", help="really restore (else a preview)")
    sub.add_parser("site", help="build or update the whole stack (site.yml)")
    sub.add_parser("local-up", help="the whole stack on this machine")
    sub.add_parser("local-down", help="remove the local stack")
    return ap


COMMANDS: dict[str, Callable[[Env, argparse.Namespace], int]] = {
    "deploy": cmd_deploy,
    "rollback": cmd_rollback,
    "logs": cmd_logs,
    "plan": cmd_plan,
    "status": cmd_status,
    "maintenance": cmd_maintenance,
    "site": cmd_site,
    "restore": cmd_restore,
}


def main(argv: Sequence[str] | None = None) -> int:
    ap = parser()
    try:
        ns = ap.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    try:
        if ns.command in ("local-up", "local-down"):
            return cmd_local(ns.command)
        check_arguments(ns)  # before anything is read or run
        return COMMANDS[ns.command](load_env(ns.env), ns)
    except Refused as e:
        print(f"ops {ns.command}: {e} Nothing was changed.", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
