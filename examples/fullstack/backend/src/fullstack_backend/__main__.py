"""`fullstack-backend` / `python -m fullstack_backend`: uvicorn with this app's settings.

uvicorn is run from here rather than from its CLI so that SIGTERM (ECS stops a task with it)
first tells open streams to end with a `shutdown` event; uvicorn alone would wait for SSE
clients that never hang up until its graceful timeout.
"""

from __future__ import annotations

import asyncio
import logging.config
import sys
from types import FrameType

import uvicorn

from fullstack_backend.app import State, create_app
from fullstack_backend.logs import log_config
from fullstack_backend.secrets import SecretError
from fullstack_backend.settings import Settings, SettingsError

log = logging.getLogger("fullstack_backend")


class Server(uvicorn.Server):
    _loop: asyncio.AbstractEventLoop | None = None

    async def startup(self, sockets: list[object] | None = None) -> None:  # type: ignore[override]
        self._loop = asyncio.get_running_loop()
        await super().startup(sockets)  # type: ignore[arg-type]

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        app = self.config.loaded_app if self.config.loaded else None
        state: State | None = getattr(getattr(_inner(app), "state", None), "backend", None)
        if state is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(state.stopping.set)
        super().handle_exit(sig, frame)


def _inner(app: object) -> object:
    # uvicorn wraps the app in its middlewares (proxy headers, ASGI adapters): unwrap to ours.
    while hasattr(app, "app"):
        app = app.app
    return app


def main() -> int:
    try:
        settings = Settings.from_env()
    except SettingsError as bad:
        print(f"fullstack-backend: {bad}", file=sys.stderr)
        return 2
    logging.config.dictConfig(log_config(settings.log_level))
    try:
        app = create_app(settings)
    except SecretError as bad:
        log.error("cannot start", extra={"reason": str(bad)})
        return 1
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        proxy_headers=settings.proxy_headers,
        forwarded_allow_ips=settings.forwarded_allow_ips if settings.proxy_headers else None,
        log_config=log_config(settings.log_level),
        timeout_graceful_shutdown=10,
        server_header=False,
    )
    Server(config).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
