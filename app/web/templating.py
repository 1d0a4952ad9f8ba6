"""Jinja2 templates shared by every page."""

from __future__ import annotations

from pathlib import Path

from starlette.templating import Jinja2Templates

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

templates = Jinja2Templates(directory=str(TEMPLATE_DIR))
