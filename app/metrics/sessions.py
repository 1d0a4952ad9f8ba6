"""Anonymous session hashes: who came back today, without knowing who anyone is.

A session is (day, HMAC(daily key, client address + user agent)), truncated to 64 bits. The
daily key is random, derived per process and per UTC day, and lives only in memory: once the
day is over (or the process restarts) nobody, including us, can link a hash to an address. No
address, user agent or cookie is stored. The price: a restart in the middle of a day counts a
returning visitor twice for that day.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading


class SessionHasher:
    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = secret or secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._day = -1
        self._key = b""

    def _key_for(self, day: int) -> bytes:
        with self._lock:
            if day != self._day:
                self._key = hmac.new(self._secret, str(day).encode(), hashlib.sha256).digest()
                self._day = day
            return self._key

    def hash(self, day: int, client: str, user_agent: str) -> str:
        message = f"{client}\x00{user_agent[:512]}".encode("utf-8", "replace")
        return hmac.new(self._key_for(day), message, hashlib.sha256).hexdigest()[:16]


#: The process's hasher, shared by the metrics middleware and the analysis path.
PROCESS_HASHER = SessionHasher()
