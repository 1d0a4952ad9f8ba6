"""Entry point for ASGI servers: `uvicorn --factory app.asgi:create`."""

from __future__ import annotations

import logging
import os

from starlette.applications import Starlette

from app.logs import configure_logging
from app.main import create_app
from app.settings import Settings

log = logging.getLogger("crayon.app")


def create() -> Starlette:
    settings = Settings.from_env()
    configure_logging(settings.log_level)
    for name in Settings.unknown_variables(os.environ):
        log.warning("unknown setting ignored (a typo?)", extra={"variable": name})
    return create_app(settings)
