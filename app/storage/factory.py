"""Choose the backend from the settings."""

from __future__ import annotations

from app.settings import Settings
from app.storage.local import LocalStorage
from app.storage.s3 import S3Storage
from app.storage.spool import SpoolingStorage


def build_storage(settings: Settings) -> LocalStorage | SpoolingStorage:
    if settings.s3_bucket:
        primary = S3Storage(
            settings.s3_bucket,
            settings.s3_prefix,
            region=settings.aws_region,
            endpoint_url=settings.aws_endpoint_url,
        )
        return SpoolingStorage(primary, settings.spool_dir)
    return LocalStorage(settings.local_storage_dir)
