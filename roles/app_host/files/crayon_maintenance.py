#!/usr/bin/python3
"""The maintenance responder: answers every request with 503, Retry-After and a small page.

Started by systemd in place of the app (crayon-release maintenance on writes a drop-in for the
app's unit), so it receives the app's listening socket as fd 3 and nothing else changes:
the socket, its backlog and the CDN in front stay as they are. Standard library only.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

SD_LISTEN_FDS_START = 3
FALLBACK = (
    b"<!doctype html><meta charset=utf-8><title>Down for maintenance</title>"
    b"<h1>Down for maintenance</h1><p>We will be back shortly.</p>\n"
)


def page() -> bytes:
    try:
        return Path(os.environ.get("CRAYON_MAINTENANCE_PAGE", "")).read_bytes()
    except OSError:
        return FALLBACK


class Handler(BaseHTTPRequestHandler):
    body = FALLBACK
    retry_after = "300"

    def version_string(self) -> str:
        return "maintenance"

    def _answer(self, with_body: bool) -> None:
        self.send_response(503)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(self.body)))
        self.send_header("Retry-After", self.retry_after)
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        if with_body:
            self.wfile.write(self.body)

    def do_GET(self) -> None:
        self._answer(True)

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_GET

    def do_HEAD(self) -> None:
        self._answer(False)

    def log_message(self, format: str, *args: Any) -> None:
        # One line per request in the journal is noise while the app is down on purpose.
        return


def listening_socket() -> socket.socket:
    if (
        os.environ.get("LISTEN_PID") not in (None, str(os.getpid()))
        or int(os.environ.get("LISTEN_FDS", "0")) < 1
    ):
        sys.exit("crayon-maintenance: start me from the app's socket unit (no LISTEN_FDS)")
    return socket.socket(fileno=SD_LISTEN_FDS_START)


def main() -> None:
    Handler.body = page()
    Handler.retry_after = os.environ.get("CRAYON_MAINTENANCE_RETRY_AFTER", "300")
    server = ThreadingHTTPServer(("", 0), Handler, bind_and_activate=False)
    server.socket.close()
    server.socket = listening_socket()
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        server.socket.detach()  # the socket belongs to systemd: never close it


if __name__ == "__main__":
    main()
