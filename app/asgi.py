"""Entry point for ASGI servers: `uvicorn --factory app.asgi:create`."""

from __future__ import annotations

from starlette.applications import Starlette

from app.logs import configure_logging
from app.main import create_app
from app.settings import Settings


def create() -> Starlette:
    settings = Settings.from_env()
    configure_logging(settings.log_level)
    return create_app(settings)
