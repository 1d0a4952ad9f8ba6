"""Durable acknowledgements (CRAYON_DURABLE_WRITES=1) as an ASGI middleware.

A write request (POST/PUT/PATCH/DELETE to a route declared `durable` in app/web/routes.py)
that succeeded has committed its rows before its response starts. The middleware holds that
response until Litestream has shipped the write (`Replication.wait_durable`), so an
acknowledged write survives the loss of the host. When the replica cannot confirm in time, the
client gets a 503 saying so instead of a false acknowledgement (the row stays on this server
and is shipped once S3 answers again).

Login/logout are left out on purpose: an admin must be able to sign in to see that
replication is failing.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.replication.monitor import NotDurable, Replication
from app.web.rules import rules_for

log = logging.getLogger("crayon.replication")

_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _applies(scope: Scope) -> Replication | None:
    if scope["type"] != "http" or scope.get("method") not in _WRITE_METHODS:
        return None
    if not rules_for(scope).durable:
        return None
    app = scope.get("app")
    svc = getattr(getattr(app, "state", None), "services", None)
    replication = getattr(svc, "replication", None)
    if isinstance(replication, Replication) and replication.durable:
        return replication
    return None


class DurableAckMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        replication = _applies(scope)
        if replication is None:
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = {"refused": False}

        async def send_durably(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] < 400:
                try:
                    await replication.wait_durable()
                except NotDurable as exc:
                    log.error("write not acknowledged: not durable", extra={"detail": str(exc)})
                    state["refused"] = True
                    await _send_503(send, str(exc))
                    return
            if state["refused"]:
                return  # the original body is dropped: the client already has the 503
            await send(message)

        await self.app(scope, receive, send_durably)


async def _send_503(send: Send, detail: str) -> None:
    body = json.dumps(
        {
            "error": (
                "Your drawing was saved on this server, but its off-site copy could not be "
                "confirmed in time, so it is not acknowledged: it could be lost if this server "
                "failed now. Please try again in a minute."
            ),
            "detail": detail,
            "status": 503,
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", b"30"),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
