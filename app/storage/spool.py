"""Nothing accepted is lost: writes that the primary backend refuses wait in a local spool.

`SpoolingStorage.put` tries the primary (S3); when it is unavailable the object is written to
a local folder instead and the caller carries on. `drain()` (run in the background by the
app, and at start-up) sends spooled objects on and deletes each only after the primary has
accepted it. Reads look in the spool first, so a spooled drawing is visible at once.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from app.storage.base import Storage, StorageUnavailable
from app.storage.keys import PREFIXES
from app.storage.local import LocalStorage

log = logging.getLogger("crayon.storage")

_CONTENT_TYPES = {".png": "image/png", ".json": "application/json", ".csv": "text/csv"}


class SpoolingStorage:
    def __init__(self, primary: Storage, spool_dir: Path) -> None:
        self.primary = primary
        self.spool = LocalStorage(spool_dir)
        self.name = primary.name
        self._lock = threading.Lock()
        self.last_error: str | None = None
        self.last_error_at: float | None = None

    def spooled_keys(self) -> list[str]:
        keys: list[str] = []
        for prefix in PREFIXES:
            keys.extend(self.spool.list(prefix))
        return keys

    def put(self, key: str, data: bytes, content_type: str) -> None:
        try:
            self.primary.put(key, data, content_type)
        except StorageUnavailable as exc:
            self.spool.put(key, data, content_type)
            self._note_error(str(exc))
            log.warning(
                "primary storage unavailable; object spooled locally",
                extra={"key": key, "error": str(exc), "spooled": len(self.spooled_keys())},
            )

    def get(self, key: str) -> bytes:
        try:
            return self.spool.get(key)
        except KeyError:
            return self.primary.get(key)

    def exists(self, key: str) -> bool:
        return self.spool.exists(key) or self.primary.exists(key)

    def list(self, prefix: str) -> list[str]:
        spooled = set(self.spool.list(prefix))
        try:
            return sorted(spooled | set(self.primary.list(prefix)))
        except StorageUnavailable as exc:
            self._note_error(str(exc))
            return sorted(spooled)

    def delete(self, key: str) -> None:
        self.spool.delete(key)
        self.primary.delete(key)

    def drain(self) -> int:
        """Send spooled objects to the primary; return how many were sent."""
        sent = 0
        with self._lock:
            for key in self.spooled_keys():
                data = self.spool.get(key)
                content_type = _CONTENT_TYPES.get(Path(key).suffix, "application/octet-stream")
                try:
                    self.primary.put(key, data, content_type)
                except StorageUnavailable as exc:
                    self._note_error(str(exc))
                    break
                self.spool.delete(key)
                sent += 1
        if sent:
            log.info("spooled objects sent to primary storage", extra={"sent": sent})
        return sent

    def _note_error(self, message: str) -> None:
        self.last_error = message
        self.last_error_at = time.time()

    def status(self) -> dict[str, Any]:
        result = dict(self.primary.status())
        pending = len(self.spooled_keys())
        result["spooled"] = pending
        if pending:
            result["ok"] = False
            result.setdefault("error", f"{pending} object(s) waiting in the local spool")
        if self.last_error:
            result["last_error"] = self.last_error
            result["last_error_at"] = self.last_error_at
        return result
