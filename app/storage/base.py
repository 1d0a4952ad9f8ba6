"""The storage interface every backend implements.

Synchronous on purpose: boto3 is synchronous, the CLI uses storage too, and the web layer
calls it through `run_in_threadpool`. Keys come from `app.storage.keys`, never from users.
"""

from __future__ import annotations

from typing import Any, Protocol


class StorageError(Exception):
    """A storage operation failed for a reason other than the backend being down."""


class StorageUnavailable(StorageError):
    """The backend cannot be reached right now (network, credentials, outage)."""


class Storage(Protocol):
    name: str

    def put(self, key: str, data: bytes, content_type: str) -> None: ...

    def get(self, key: str) -> bytes:
        """Return the object's bytes; raise KeyError when it does not exist."""
        ...

    def exists(self, key: str) -> bool: ...

    def list(self, prefix: str) -> list[str]: ...

    def delete(self, key: str) -> None: ...

    def status(self) -> dict[str, Any]:
        """A cheap reachability check for /readyz: {"ok": bool, "backend": ..., ...}."""
        ...
