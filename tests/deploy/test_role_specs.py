"""Every role documents its variables the same way in two places, and site.yml tags it.

The prometheus-community rule: a role's defaults/main.yml keys equal the options of its
meta/argument_specs.yml entry point "main", so documentation cannot drift from behaviour.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
ROLES = sorted(p for p in (REPO / "roles").iterdir() if (p / "tasks" / "main.yml").exists())


def _load(path: Path) -> object:
    return yaml.safe_load(path.read_text()) if path.exists() else None


@pytest.mark.parametrize("role", ROLES, ids=[r.name for r in ROLES])
def test_defaults_match_argument_specs(role: Path) -> None:
    defaults = _load(role / "defaults" / "main.yml") or {}
    specs = _load(role / "meta" / "argument_specs.yml")
    assert isinstance(specs, dict), f"{role.name}: meta/argument_specs.yml is missing"
    options = specs["argument_specs"]["main"].get("options") or {}
    assert isinstance(defaults, dict)
    assert set(defaults) == set(options), (
        f"{role.name}: only in defaults {sorted(set(defaults) - set(options))}, "
        f"only in argument_specs {sorted(set(options) - set(defaults))}"
    )
    for name, option in options.items():
        assert option.get("description"), f"{role.name}: {name} has no description"


@pytest.mark.parametrize("role", ROLES, ids=[r.name for r in ROLES])
def test_every_default_has_a_comment(role: Path) -> None:
    """Each variable sits in a paragraph (no blank line) that starts with a comment."""
    path = role / "defaults" / "main.yml"
    if not path.exists():
        return
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines):
        if not line or line[0] in " #-" or ":" not in line:
            continue
        j = i - 1
        documented = False
        while j >= 0 and lines[j].strip():
            if lines[j].startswith("#"):
                documented = True
                break
            j -= 1
        assert documented, f"{role.name}: {line.split(':')[0]} has no comment above it"


@pytest.mark.parametrize("role", ROLES, ids=[r.name for r in ROLES])
def test_role_has_meta_and_a_tag_in_site_yml(role: Path) -> None:
    assert (role / "meta" / "main.yml").exists(), f"{role.name}: meta/main.yml is missing"
    plays = _load(REPO / "playbooks" / "site.yml")
    assert isinstance(plays, list)
    tagged = {
        r["role"]: r.get("tags", [])
        for play in plays
        for r in play.get("roles", [])
        if isinstance(r, dict)
    }
    assert role.name in tagged, f"{role.name} is not in playbooks/site.yml"
    assert role.name in tagged[role.name], f"{role.name} runs without a tag of its own name"
