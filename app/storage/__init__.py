"""Where files live: a local folder or S3, behind one small interface (see base.py)."""

from app.storage.base import Storage, StorageError, StorageUnavailable

__all__ = ["Storage", "StorageError", "StorageUnavailable"]
