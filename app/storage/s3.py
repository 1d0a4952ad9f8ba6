"""Objects in S3 (or any S3-compatible endpoint given by AWS_ENDPOINT_URL)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

from app.storage.base import StorageError, StorageUnavailable
from app.storage.keys import validate_key

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# Fail fast: a slow S3 must not hold a request for a minute; the spool takes over instead.
_CLIENT_CONFIG = Config(
    connect_timeout=2,
    read_timeout=10,
    retries={"max_attempts": 2, "mode": "standard"},
)

_UNAVAILABLE_CODES = {
    "RequestTimeout",
    "ServiceUnavailable",
    "SlowDown",
    "InternalError",
    "503",
    "500",
    "ExpiredToken",
    "InvalidAccessKeyId",
    "AccessDenied",
    "NoSuchBucket",
}


def _classify(exc: Exception, action: str) -> StorageError:
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in _UNAVAILABLE_CODES:
            return StorageUnavailable(f"S3 {action} failed: {code}")
        return StorageError(f"S3 {action} failed: {code or exc}")
    return StorageUnavailable(f"S3 {action} failed: {exc}")


class S3Storage:
    name = "s3"

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        region: str = "us-east-1",
        endpoint_url: str | None = None,
        client: S3Client | None = None,
    ) -> None:
        self.bucket = bucket
        self.prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
        self.client: S3Client = client or boto3.client(
            "s3", region_name=region, endpoint_url=endpoint_url, config=_CLIENT_CONFIG
        )

    def _key(self, key: str) -> str:
        return self.prefix + validate_key(key)

    def put(self, key: str, data: bytes, content_type: str) -> None:
        try:
            self.client.put_object(
                Bucket=self.bucket, Key=self._key(key), Body=data, ContentType=content_type
            )
        except (BotoCoreError, ClientError, EndpointConnectionError) as exc:
            raise _classify(exc, "put") from exc

    def get(self, key: str) -> bytes:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
            return response["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
                raise KeyError(key) from None
            raise _classify(exc, "get") from exc
        except BotoCoreError as exc:
            raise _classify(exc, "get") from exc

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise _classify(exc, "head") from exc
        except BotoCoreError as exc:
            raise _classify(exc, "head") from exc

    def list(self, prefix: str) -> list[str]:
        keys: list[str] = []
        try:
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
                for obj in page.get("Contents", []):
                    keys.append(obj["Key"][len(self.prefix) :])
        except (BotoCoreError, ClientError) as exc:
            raise _classify(exc, "list") from exc
        return sorted(keys)

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))
        except (BotoCoreError, ClientError) as exc:
            raise _classify(exc, "delete") from exc

    def status(self) -> dict[str, Any]:
        result: dict[str, Any] = {"backend": self.name, "bucket": self.bucket}
        try:
            self.client.head_bucket(Bucket=self.bucket)
            result["ok"] = True
        except (BotoCoreError, ClientError) as exc:
            result["ok"] = False
            result["error"] = str(_classify(exc, "head_bucket"))
        return result
