"""Where Litestream's files live and the YAML it reads, derived from the app's settings."""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from app.settings import Settings

# A Unix socket path must fit in sockaddr_un (108 bytes on Linux, with the NUL).
_MAX_SOCKET_PATH = 100
DEFAULT_REPLICA_PATH = "db"
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)$")


class ReplicationConfigError(ValueError):
    """Replication was asked for but the settings do not describe a replica."""


def parse_duration(text: str) -> float:
    """Seconds in a Litestream duration such as '1s', '500ms', '5m'."""
    match = _DURATION.match(text.strip())
    if not match:
        raise ReplicationConfigError(
            f"CRAYON_REPLICA_SYNC_INTERVAL={text!r}: use a duration such as 1s, 500ms or 5m."
        )
    value, unit = float(match.group(1)), match.group(2)
    return value * {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}[unit]


def split_replica_url(url: str) -> tuple[str, str]:
    """(bucket, path) from s3://bucket/some/prefix; the path defaults to 'db'."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ReplicationConfigError(f"CRAYON_REPLICA_URL={url!r}: use s3://BUCKET/PREFIX.")
    return parts.netloc, parts.path.strip("/") or DEFAULT_REPLICA_PATH


@dataclass(frozen=True)
class LitestreamPaths:
    database: Path
    config: Path
    socket: Path

    @property
    def state_dir(self) -> Path:
        """Litestream's local state beside the database (`.crayon.db-litestream/`)."""
        return self.database.with_name(f".{self.database.name}-litestream")

    @property
    def lock(self) -> Path:
        """Held (flock) by the running app and by the replicating runner: marks a live db."""
        return self.database.with_name(f"{self.database.name}.lock")


def paths_for(settings: Settings) -> LitestreamPaths:
    database = settings.database_path.absolute()
    config = settings.litestream_config
    socket = settings.litestream_socket
    if socket is None:
        candidate = database.parent / "litestream.sock"
        if len(str(candidate)) > _MAX_SOCKET_PATH:
            digest = hashlib.sha256(str(database).encode()).hexdigest()[:12]
            candidate = Path(tempfile.gettempdir()) / f"crayon-litestream-{digest}.sock"
        socket = str(candidate)
    return LitestreamPaths(
        database=database,
        config=Path(config) if config else database.parent / "litestream.yml",
        socket=Path(socket),
    )


def _q(value: str) -> str:
    # A JSON string is a valid YAML scalar: quoting this way is always safe.
    return json.dumps(value)


def render(settings: Settings, paths: LitestreamPaths) -> str:
    """Litestream 0.5 YAML for this app's database and replica."""
    if not settings.replica_url:
        raise ReplicationConfigError(
            "Replication needs CRAYON_REPLICA_URL=s3://BUCKET/PREFIX (the bucket must exist)."
        )
    bucket, replica_path = split_replica_url(settings.replica_url)
    parse_duration(settings.replica_sync_interval)
    lines = [
        "# Written by `crayon serve --replicate` from CRAYON_* settings; rewritten at each start.",
        "# Credentials come from the usual AWS variables or the task/instance role.",
        "socket:",
        "  enabled: true",
        f"  path: {_q(str(paths.socket))}",
        "logging:",
        "  level: info",
        "  type: json",
        "dbs:",
        f"  - path: {_q(str(paths.database))}",
        "    replica:",
        "      type: s3",
        f"      bucket: {_q(bucket)}",
        f"      path: {_q(replica_path)}",
        f"      region: {_q(settings.aws_region)}",
    ]
    if settings.aws_endpoint_url:
        # S3-compatible endpoints (moto, MinIO, R2) want path-style addressing.
        lines.append(f"      endpoint: {_q(settings.aws_endpoint_url)}")
        lines.append("      force-path-style: true")
    lines.append(f"      sync-interval: {settings.replica_sync_interval}")
    return "\n".join(lines) + "\n"


def write(settings: Settings, paths: LitestreamPaths) -> Path:
    """Write the config atomically (0600: it names the bucket and endpoint)."""
    text = render(settings, paths)
    paths.config.parent.mkdir(parents=True, exist_ok=True)
    tmp = paths.config.with_name(f".{paths.config.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, paths.config)
    return paths.config
