"""Files in a local folder: the development backend, and the spool's home."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from app.storage.base import StorageError
from app.storage.keys import validate_key


class LocalStorage:
    name = "local"

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        path = (self.root / validate_key(key)).resolve()
        if self.root not in path.parents:
            raise StorageError(f"key {key!r} escapes the storage folder")
        return path

    def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename: a crash never leaves a half-written object under the real name.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise KeyError(key) from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str) -> list[str]:
        folder = self.root / prefix.rstrip("/")
        if not folder.is_dir():
            return []
        return sorted(
            f"{prefix.rstrip('/')}/{p.name}"
            for p in folder.iterdir()
            if p.is_file() and not p.name.startswith(".")
        )

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def status(self) -> dict[str, Any]:
        ok = os.access(self.root, os.W_OK)
        result: dict[str, Any] = {"ok": ok, "backend": self.name, "root": str(self.root)}
        if not ok:
            result["error"] = f"{self.root} is not writable"
        return result
