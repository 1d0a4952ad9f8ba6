"""Storage: keys never escape, S3 against a real moto server, and an S3 outage mid-run."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import boto3
import pytest

from app.settings import Settings
from app.storage.base import StorageError
from app.storage.keys import InvalidKey, drawing_key, export_key, new_id, validate_key
from app.storage.local import LocalStorage
from app.storage.s3 import S3Storage
from app.storage.spool import SpoolingStorage
from tests.app.authsupport import client_for, make_settings
from tests.support.moto_server import MotoServer

BUCKET = "crayon-data-example"


@pytest.mark.parametrize(
    "key",
    [
        "../secret",
        "drawings/../../etc/passwd",
        "/etc/passwd",
        "drawings/a/b.png",
        "drawings/..",
        "drawings/.hidden",
        "other/file.png",
        "drawings/" + "a" * 200,
        "drawings/a\x00.png",
        "drawings\\..\\x",
        "",
    ],
)
def test_local_storage_refuses_keys_that_could_escape(tmp_path: Path, key: str) -> None:
    storage = LocalStorage(tmp_path / "files")
    outside = tmp_path / "outside"
    with pytest.raises((InvalidKey, StorageError)):
        storage.put(key, b"x", "text/plain")
    with pytest.raises((InvalidKey, StorageError)):
        storage.get(key)
    assert not outside.exists()
    assert list(tmp_path.rglob("*passwd*")) == []


def test_key_builders_refuse_user_names() -> None:
    for name in ("../x", "a/b", "x y", ""):
        with pytest.raises(InvalidKey):
            drawing_key(name)
    with pytest.raises(InvalidKey):
        export_key("report", "sh")
    assert validate_key(drawing_key(new_id())).startswith("drawings/")


def test_local_storage_round_trip(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "files")
    key = drawing_key(new_id())
    storage.put(key, b"\x89PNG data", "image/png")
    assert storage.get(key) == b"\x89PNG data" and storage.exists(key)
    assert storage.list("drawings/") == [key]
    storage.delete(key)
    with pytest.raises(KeyError):
        storage.get(key)


def test_s3_storage_against_moto(aws_env: dict[str, str]) -> None:
    s3 = boto3.client("s3", endpoint_url=aws_env["AWS_ENDPOINT_URL"])
    s3.create_bucket(Bucket=BUCKET)
    storage = S3Storage(BUCKET, "app1", endpoint_url=aws_env["AWS_ENDPOINT_URL"])
    keys = [drawing_key(new_id()) for _ in range(3)]
    for i, key in enumerate(keys):
        storage.put(key, bytes([i]) * 1000, "image/png")
    assert storage.list("drawings/") == sorted(keys)
    assert storage.get(keys[1]) == b"\x01" * 1000 and storage.exists(keys[2])
    head = s3.head_object(Bucket=BUCKET, Key=f"app1/{keys[0]}")
    assert head["ContentType"] == "image/png"
    with pytest.raises(KeyError):
        storage.get(drawing_key(new_id()))
    storage.delete(keys[0])
    assert not storage.exists(keys[0])
    assert storage.status()["ok"] is True
    assert (
        S3Storage("no-such-bucket", endpoint_url=aws_env["AWS_ENDPOINT_URL"]).status()["ok"]
        is False
    )


def test_s3_going_away_mid_run_loses_nothing(
    tmp_path: Path, aws_env: dict[str, str], moto: MotoServer, caplog: pytest.LogCaptureFixture
) -> None:
    s3 = boto3.client("s3", endpoint_url=aws_env["AWS_ENDPOINT_URL"])
    s3.create_bucket(Bucket=BUCKET)
    settings: Settings = make_settings(
        tmp_path,
        s3_bucket=BUCKET,
        s3_prefix="crayon",
        aws_endpoint_url=aws_env["AWS_ENDPOINT_URL"],
        ready_cache_seconds=0,  # this test watches the storage change state at once
    )
    with client_for(settings) as client:
        storage = client.app.state.services.storage  # type: ignore[attr-defined]
        assert isinstance(storage, SpoolingStorage)
        before = {drawing_key(new_id()): os.urandom(2048) for _ in range(3)}
        for key, data in before.items():
            storage.put(key, data, "image/png")
        assert set(before) <= set(storage.list("drawings/"))
        assert storage.spooled_keys() == []
        assert client.get("/readyz").status_code == 200

        moto.stop()
        try:
            during = {drawing_key(new_id()): os.urandom(4096) for _ in range(4)}
            with caplog.at_level(logging.WARNING, logger="crayon.storage"):
                for key, data in during.items():
                    storage.put(key, data, "image/png")  # accepted: no exception
            assert sorted(storage.spooled_keys()) == sorted(during)
            assert "primary storage unavailable; object spooled locally" in caplog.text
            for key, data in during.items():
                assert storage.get(key) == data  # readable at once, from the spool
            ready = client.get("/readyz")
            assert ready.status_code == 503
            assert ready.json() == {"status": "not ready", "reason": "storage"}
            assert storage.drain() == 0  # still down: nothing sent, nothing dropped
            assert len(storage.spooled_keys()) == 4
        finally:
            moto.start()

        # moto restarts empty (real S3 would not): recreate the bucket, then drain.
        s3.create_bucket(Bucket=BUCKET)
        assert storage.drain() == 4
        assert storage.spooled_keys() == []
        for key, data in during.items():
            body = s3.get_object(Bucket=BUCKET, Key=f"crayon/{key}")["Body"].read()
            assert body == data, key
        assert client.get("/readyz").status_code == 200
