"""A graceful stop (SIGTERM, what a release's restart sends) answers the requests already on
their way instead of resetting them: against a real `crayon serve` on 127.0.0.1."""

from __future__ import annotations

import signal
import socket
import time
from pathlib import Path

from tests.pages.support import Server

REQUEST = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def _read_all(s: socket.socket) -> bytes:
    data = b""
    try:
        while chunk := s.recv(4096):
            data += chunk
    except ConnectionResetError:
        data += b"<reset>"
    return data


def _stop_with_connections(tmp_path: Path) -> tuple[bytes, bytes, float, int]:
    """Open a fresh connection and an idle keep-alive one, SIGTERM the server, then send a
    request on the fresh one: (its answer, what the idle one got, seconds to exit, exit code)."""
    srv = Server(tmp_path / "data", {}).start()
    assert srv.process is not None
    fresh = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    idle = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    idle.sendall(REQUEST)
    first = b""
    while b'{"status":"ok"}' not in first:  # headers and body may come in separate reads
        chunk = idle.recv(4096)
        assert chunk, first
        first += chunk
    assert first.startswith(b"HTTP/1.1 200"), first
    time.sleep(0.3)  # both accepted by the server's loop; the fresh one has sent nothing
    started = time.monotonic()
    srv.process.send_signal(signal.SIGTERM)
    time.sleep(0.3)  # the server is stopping now
    fresh.sendall(REQUEST)
    answer = _read_all(fresh)
    idle_got = _read_all(idle)
    code = srv.process.wait(timeout=20)
    took = time.monotonic() - started
    fresh.close()
    idle.close()
    return answer, idle_got, took, code


def test_a_request_sent_while_the_server_stops_is_answered_then_closed(tmp_path: Path) -> None:
    answer, idle_got, took, code = _stop_with_connections(tmp_path)
    # Answered, then closed by the server (the read ended with EOF, not a reset).
    assert answer.startswith(b"HTTP/1.1 200"), answer
    assert answer.endswith(b'{"status":"ok"}'), answer
    # The idle keep-alive connection is closed cleanly (no request of its own was in flight),
    # and the stop waits for no one longer than the grace.
    assert idle_got == b"", idle_got
    assert took < 5, took
    assert code in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once it has stopped
