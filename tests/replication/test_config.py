"""Fast checks of the wiring: the Litestream YAML, its environment, when `serve` replicates."""

from __future__ import annotations

import argparse
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from app.replication import config, litestream, runner
from app.replication.commands import _timestamp
from app.settings import Settings


def settings(tmp_path: Path, **overrides: Any) -> Settings:
    return Settings(
        data_dir=tmp_path,
        replica_url="s3://crayon-replica-test/app/db",
        aws_endpoint_url="http://127.0.0.1:5999",
        replica_sync_interval="2s",
        **overrides,
    )


def test_config_names_the_database_replica_endpoint_and_socket(tmp_path: Path) -> None:
    s = settings(tmp_path)
    paths = config.paths_for(s)
    text = config.render(s, paths)
    assert f'path: "{tmp_path.absolute() / "crayon.db"}"' in text
    assert 'bucket: "crayon-replica-test"' in text and 'path: "app/db"' in text
    assert 'endpoint: "http://127.0.0.1:5999"' in text and "force-path-style: true" in text
    assert "sync-interval: 2s" in text
    assert f'path: "{paths.socket}"' in text and "enabled: true" in text
    # Litestream itself accepts it.
    written = config.write(s, paths)
    assert oct(written.stat().st_mode & 0o777) == "0o600"
    done = subprocess.run(
        [litestream.binary(), "databases", "-config", str(written)],
        env=litestream.environment(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0 and "crayon.db" in done.stdout, done.stderr


def test_no_endpoint_means_aws_virtual_hosted_style(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path, replica_url="s3://bucket-name")
    text = config.render(s, config.paths_for(s))
    keys = {line.split(":")[0].strip() for line in text.splitlines()}
    assert "endpoint" not in keys and "force-path-style" not in keys
    assert 'path: "db"' in text


def test_long_data_dirs_get_a_short_socket_path(tmp_path: Path) -> None:
    deep = tmp_path / ("x" * 120)
    paths = config.paths_for(Settings(data_dir=deep, replica_url="s3://b/p"))
    assert len(str(paths.socket)) < 100


@pytest.mark.parametrize("bad", ["1", "fast", "1d"])
def test_bad_sync_interval_is_refused(tmp_path: Path, bad: str) -> None:
    s = Settings(data_dir=tmp_path, replica_url="s3://b/p", replica_sync_interval=bad)
    with pytest.raises(config.ReplicationConfigError):
        config.render(s, config.paths_for(s))


def test_litestream_never_sees_aws_ca_bundle() -> None:
    env = litestream.environment({"AWS_CA_BUNDLE": "/etc/ssl/x.pem", "AWS_REGION": "us-east-1"})
    assert "AWS_CA_BUNDLE" not in env and env["AWS_REGION"] == "us-east-1"


def test_the_app_keeps_aws_ca_bundle_as_litestreams_child(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_CA_BUNDLE", "/etc/ssl/x.pem")
    cmd = runner.child_command(argparse.Namespace(host=None, port=8123))
    assert "AWS_CA_BUNDLE=/etc/ssl/x.pem" in cmd and cmd[-2:] == ["--port", "8123"]


def test_binary_lookup_prefers_the_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "litestream"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("CRAYON_LITESTREAM_BIN", str(fake))
    assert litestream.binary() == str(fake)
    monkeypatch.delenv("CRAYON_LITESTREAM_BIN")
    assert os.access(litestream.binary(), os.X_OK)  # beside this Python (litestream-bin)


def test_when_serve_replicates(tmp_path: Path) -> None:
    plain = argparse.Namespace(replicate=False)
    assert runner.wants_replication(plain, settings(tmp_path))
    # A host's own Litestream unit (its socket given): the app only watches it.
    hosted = settings(tmp_path, litestream_socket="/run/crayon-litestream/ls.sock")
    assert not runner.wants_replication(plain, hosted)
    assert not runner.wants_replication(plain, Settings(data_dir=tmp_path))
    assert runner.wants_replication(argparse.Namespace(replicate=True), Settings(data_dir=tmp_path))
    # Litestream's child (CRAYON_REPLICATED_CHILD=1) never replicates again.
    child = settings(tmp_path, replicated_child=True)
    assert not runner.wants_replication(argparse.Namespace(replicate=True), child)


def test_timestamps_are_utc_rfc3339() -> None:
    assert _timestamp("2026-05-01T12:00:00") == "2026-05-01T12:00:00Z"
    assert _timestamp("2026-05-01T14:00:00+02:00") == "2026-05-01T12:00:00Z"
    assert _timestamp("2026-05-01T12:00:00.250Z") == "2026-05-01T12:00:00.250000Z"


def test_local_txid_reads_level0_names(tmp_path: Path) -> None:
    level0 = tmp_path / "ltx" / "0"
    level0.mkdir(parents=True)
    for name in ("0000000000000001-0000000000000001.ltx", "0000000000000002-000000000000000a.ltx"):
        (level0 / name).touch()
    assert litestream.local_txid(tmp_path) == 10
    assert litestream.local_txid(tmp_path / "missing") is None


def test_chain_gap_finds_a_missing_base() -> None:
    def f(level: int, lo: int, hi: int) -> dict[str, int]:
        return {"level": level, "min_txid": lo, "max_txid": hi}

    assert litestream.chain_gap([f(9, 1, 5), f(0, 6, 6), f(0, 7, 7)]) is None
    assert litestream.chain_gap([f(1, 1, 3), f(0, 2, 4), f(0, 5, 5)]) is None
    assert "missing" in (litestream.chain_gap([f(0, 5, 5), f(0, 6, 6)]) or "")
    assert "missing" in (litestream.chain_gap([f(9, 1, 3), f(0, 5, 5)]) or "")
    assert litestream.chain_gap([]) == "the replica holds no files"
