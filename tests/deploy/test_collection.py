"""The kit's local collection crayon.aws: every module documents itself (DOCUMENTATION, EXAMPLES
and RETURN parse, as ansible-doc reads them), documents exactly the options its argument_spec
takes (names, types, defaults, choices, required, nested options), and the roles and
playbooks call modules only by full name (crayon.aws.<name>, never a short name Ansible
would have to find in a library/ folder).

Fast: one ansible-doc process for every module, the rest in-process.
"""

from __future__ import annotations

import configparser
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import ansible
import pytest
import yaml
from ansible.playbook.block import Block
from ansible.playbook.handler import Handler
from ansible.playbook.task import Task
from ansible_collections.amazon.aws.plugins.module_utils.modules import aws_argument_spec

from tests.support import collection

REPO = Path(__file__).resolve().parents[2]
NAMES = collection.module_names()
ANSIBLE = Path(ansible.__file__).parent


@pytest.fixture(scope="module")
def docs() -> dict[str, Any]:
    """ansible-doc's JSON for every module of the collection, read the way Ansible reads it
    (fragments merged), from the repository's ansible.cfg."""
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg")}
    out = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-doc"),
            "--json",
            *[f"crayon.aws.{n}" for n in NAMES],
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert "ERROR" not in out.stderr, out.stderr
    return dict(json.loads(out.stdout))


def test_the_collection_holds_the_kits_modules() -> None:
    # The moved modules, by name: a module lost in a move fails here, not in a playbook run.
    for name in ("aws_stack_state", "ecs_stack_diff", "ecs_service_wait", "aws_budget"):
        assert name in NAMES
    leftovers = [
        p.relative_to(REPO)
        for pattern in ("library/*.py", "playbooks/library/*.py", "roles/*/library/*.py")
        for p in REPO.glob(pattern)
    ]
    assert not leftovers, f"modules outside the collection: {leftovers}"
    assert "library" not in _ansible_cfg_defaults()


def _ansible_cfg_defaults() -> dict[str, str]:
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "ansible.cfg")
    return dict(cfg["defaults"])


@pytest.mark.parametrize("name", NAMES)
def test_documentation_examples_and_return_parse(name: str, docs: dict[str, Any]) -> None:
    entry = docs.get(f"crayon.aws.{name}")
    assert entry, f"ansible-doc could not load crayon.aws.{name}"
    doc = entry["doc"]
    assert doc["module"] == name
    assert doc["short_description"] and doc["description"]
    assert doc["options"], "DOCUMENTATION has no options"
    examples = yaml.safe_load(entry["examples"])
    assert isinstance(examples, list) and examples, "EXAMPLES is not a list of tasks"
    assert all(isinstance(task, dict) for task in examples), "EXAMPLES is not a list of tasks"
    # At least one example calls the module by its full name (others may show what follows).
    assert any(f"crayon.aws.{name}" in task for task in examples), f"no crayon.aws.{name} example"
    assert isinstance(entry["return"], dict) and entry["return"], "RETURN is empty"
    for key, value in entry["return"].items():
        assert {"description", "returned", "type"} <= set(value), f"RETURN {key} lacks a field"


class _Spec(Exception):
    """Carries the argument_spec a module's main() builds, instead of running the module."""

    def __init__(self, spec: dict[str, Any], aws: bool) -> None:
        super().__init__("argument_spec captured")
        self.spec, self.aws = spec, aws


def _argument_spec(mod: ModuleType, monkeypatch: pytest.MonkeyPatch) -> tuple[dict, bool]:
    def aws_module(argument_spec: dict[str, Any], **_: Any) -> None:
        raise _Spec(argument_spec, True)

    def plain_module(argument_spec: dict[str, Any], **_: Any) -> None:
        raise _Spec(argument_spec, False)

    if hasattr(mod, "AnsibleAWSModule"):
        monkeypatch.setattr(mod, "AnsibleAWSModule", aws_module)
    if hasattr(mod, "AnsibleModule"):
        monkeypatch.setattr(mod, "AnsibleModule", plain_module)
    with pytest.raises(_Spec) as caught:
        mod.main()
    return caught.value.spec, caught.value.aws


_DEFAULTS = {"required": False, "default": None, "choices": None, "elements": None}


def _mismatches(spec: dict[str, Any], documented: dict[str, Any], at: str = "") -> list[str]:
    out = []
    for option in sorted(set(spec) - set(documented)):
        out.append(f"{at}{option}: in argument_spec, not documented")
    for option in sorted(set(documented) - set(spec)):
        out.append(f"{at}{option}: documented, not in argument_spec")
    for option in sorted(set(spec) & set(documented)):
        have, doc = spec[option], documented[option]
        kind, doc_kind = have.get("type", "str"), doc.get("type", "str")
        if kind != doc_kind:
            out.append(f"{at}{option}: type {kind} vs documented {doc_kind}")
        for field, unset in _DEFAULTS.items():
            if have.get(field, unset) != doc.get(field, unset):
                out.append(
                    f"{at}{option}: {field} {have.get(field, unset)!r} vs documented "
                    f"{doc.get(field, unset)!r}"
                )
        if have.get("options") or doc.get("suboptions"):
            out += _mismatches(
                have.get("options") or {}, doc.get("suboptions") or {}, f"{at}{option}."
            )
    return out


@pytest.mark.parametrize("name", NAMES)
def test_every_option_is_documented_and_every_documented_option_exists(
    name: str, docs: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    spec, aws = _argument_spec(collection.module(name), monkeypatch)
    if aws:  # AnsibleAWSModule adds the connection options the amazon.aws fragments document
        spec = {**aws_argument_spec(), **spec}
    documented = docs[f"crayon.aws.{name}"]["doc"]["options"]
    assert not _mismatches(spec, documented), "\n".join(_mismatches(spec, documented))


# --- Every module call by full name ------------------------------------------------------

_KEYWORDS = set(Task.fattributes) | set(Handler.fattributes) | set(Block.fattributes)
_KEYWORDS.add("local_action")
_TASK_LISTS = ("tasks", "pre_tasks", "post_tasks", "handlers", "block", "rescue", "always")


def _task_files() -> Iterator[Path]:
    skip = {"vars", "group_vars", "host_vars", "defaults", "meta", "templates", "files"}
    for root in ("roles", "playbooks", "molecule", "tests/deploy/playbooks"):
        for path in sorted((REPO / root).rglob("*.yml")):
            if not skip & set(path.relative_to(REPO).parts):
                yield path


def _calls(node: Any, role: str | None) -> Iterator[tuple[str, str | None]]:
    """(module, role) for every task and module_defaults entry under a play or task list."""
    if isinstance(node, list):
        for item in node:
            yield from _calls(item, role)
        return
    if not isinstance(node, dict):
        return
    for name in node.get("module_defaults") or {}:
        if not str(name).startswith("group/"):
            yield str(name), role
    if "hosts" in node or any(k in node for k in _TASK_LISTS):
        for key in _TASK_LISTS:
            yield from _calls(node.get(key), role)
        return
    if "import_playbook" in node:
        return
    actions = [k for k in node if k not in _KEYWORDS and not k.startswith("with_")]
    for action in actions:
        yield action, role
    if "local_action" in node:
        local = node["local_action"]
        yield (local["module"] if isinstance(local, dict) else str(local).split()[0]), role


def _builtin(name: str) -> bool:
    return (ANSIBLE / "modules" / f"{name}.py").exists() or (
        ANSIBLE / "plugins" / "action" / f"{name}.py"
    ).exists()


def _role_action(name: str, role: str | None) -> bool:
    """A role's own action plugin (roles/<role>/action_plugins/<name>.py), called from it."""
    return role is not None and (REPO / "roles" / role / "action_plugins" / f"{name}.py").exists()


def test_roles_and_playbooks_call_modules_by_full_name() -> None:
    seen_crayon: set[str] = set()
    bad: list[str] = []
    for path in _task_files():
        data = yaml.safe_load(path.read_text())
        if not isinstance(data, list):  # a play or task file is a list; molecule.yml is not
            continue
        parts = path.relative_to(REPO).parts
        role = parts[1] if parts[0] == "roles" else None
        for module, in_role in _calls(data, role):
            where = f"{path.relative_to(REPO)}: {module}"
            if module.startswith("crayon.aws."):
                short = module.removeprefix("crayon.aws.")
                seen_crayon.add(short)
                if short not in NAMES:
                    bad.append(f"{where} (no such module in the collection)")
            elif "." not in module and not _builtin(module) and not _role_action(module, in_role):
                bad.append(f"{where} (a short name that is not ansible.builtin)")
    assert not bad, "\n".join(bad)
    # The walk found the kit's calls at all (a walker that sees nothing would pass).
    assert {"aws_stack_state", "ecs_stack_diff", "aws_budget", "ecs_service_wait"} <= seen_crayon
