"""The kit's local collection crayon.aws (collections/ansible_collections/crayon/aws), imported
as Ansible imports it, so a test can call a module's functions directly."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]
COLLECTIONS = REPO / "collections"
MODULES = COLLECTIONS / "ansible_collections" / "crayon" / "aws" / "plugins" / "modules"


def module(name: str) -> ModuleType:
    """crayon.aws.<name>'s Python module. `ansible_collections` is a namespace package, so the
    repository's collections/ joins the venv's (amazon.aws, community.aws) on sys.path."""
    if str(COLLECTIONS) not in sys.path:
        sys.path.append(str(COLLECTIONS))
    return importlib.import_module(f"ansible_collections.crayon.aws.plugins.modules.{name}")


def module_names() -> list[str]:
    """Every module of the collection, by its short name."""
    return sorted(p.stem for p in MODULES.glob("*.py") if p.stem != "__init__")
