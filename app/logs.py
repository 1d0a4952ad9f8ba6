"""JSON-lines logging with the request id of the request being served."""

from __future__ import annotations

import atexit
import json
import logging
import logging.handlers
import signal
import sys
import time
from contextvars import ContextVar
from logging.handlers import QueueHandler
from queue import SimpleQueue
from types import FrameType
from typing import Any

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

_RESERVED = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime", "color_message"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, separators=(",", ":"))


_listener: logging.handlers.QueueListener | None = None


def _stop_listener() -> None:
    """Write out what is queued and log directly from here on (the process is ending)."""
    global _listener
    if _listener is None:
        return
    listener, _listener = _listener, None
    listener.stop()
    root = logging.getLogger()
    root.handlers[:] = [h for h in root.handlers if not isinstance(h, QueueHandler)]
    root.handlers.extend(listener.handlers)


def flush_logs_before_signal_exit() -> None:
    """uvicorn re-raises SIGTERM/SIGINT after its graceful shutdown, which ends the process
    before `atexit` runs: its last lines ("Application shutdown complete") would stay in the
    queue. Chain a handler, restored by uvicorn before it re-raises, that writes them first."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(sig)

        def handler(signum: int, frame: FrameType | None, previous: Any = previous) -> None:
            _stop_listener()
            signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
            signal.raise_signal(signum)

        signal.signal(sig, handler)


def configure_logging(level: str = "INFO") -> None:
    """JSON lines on stdout, written by a thread of their own: the event loop formats a record
    and queues it, and never waits on the write. A write releases the GIL, and getting it back
    while an analysis thread holds it costs up to the switch interval, so under load each log
    line written from the loop delayed every request (and /healthz) behind it."""
    global _listener
    _stop_listener()
    queue: SimpleQueue[logging.LogRecord] = SimpleQueue()
    # Formatted here, in the caller (the request id is a context variable of the request);
    # only the write moves to the listener thread.
    to_queue = QueueHandler(queue)
    to_queue.setFormatter(JsonFormatter())
    writer = logging.StreamHandler(sys.stdout)
    writer.setFormatter(logging.Formatter("%(message)s"))
    _listener = logging.handlers.QueueListener(queue, writer)
    _listener.start()
    atexit.unregister(_stop_listener)  # once, however often logging is configured
    atexit.register(_stop_listener)
    root = logging.getLogger()
    root.handlers[:] = [to_queue]
    root.setLevel(level)
    # uvicorn's own access log would duplicate ours, in another format.
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    for noisy in ("botocore", "boto3", "urllib3", "aiosqlite", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
