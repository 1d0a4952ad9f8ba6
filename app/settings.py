"""The one settings object: read from CRAYON_* environment variables and a local `.env`.

Everything that differs between a developer's laptop and production is decided here, once,
at start-up. Local and production data never mix: `Settings.check()` refuses combinations
that would let one environment touch the other's database or bucket.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

Environment = Literal["local", "production"]

# Names that mark a bucket or path as belonging to one environment. A local run pointed at a
# bucket whose name says "prod" (or the reverse) is almost always a mistake worth stopping.
_PRODUCTION_MARKERS = ("prod", "production", "live")
_LOCAL_MARKERS = ("local", "dev", "test")

DEFAULT_LOCAL_DATA_DIR = "data/local"
DEFAULT_PRODUCTION_DATA_DIR = "/var/lib/crayon"
LOCAL_HOSTS = ("127.0.0.1", "localhost")


class SettingsError(ValueError):
    """A setting is missing or wrong; the message says which and what to do."""


def _parse_bool(name: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise SettingsError(f"{name}={raw!r} is not a boolean: use 1/0, true/false, yes/no.")


def _parse_int(name: str, raw: str, low: int, high: int) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a whole number.") from None
    if not low <= value <= high:
        raise SettingsError(f"{name}={value} is out of range: use {low}..{high}.")
    return value


def _parse_float(name: str, raw: str, low: float, high: float) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number.") from None
    if not low <= value <= high:
        raise SettingsError(f"{name}={value} is out of range: use {low}..{high}.")
    return value


def read_env_file(path: Path) -> dict[str, str]:
    """Parse a `.env` file: KEY=VALUE lines, `#` comments, optional quotes around values."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("export "):
            stripped = stripped[len("export ") :]
        key, sep, value = stripped.partition("=")
        if not sep:
            raise SettingsError(f"{path}:{number}: expected KEY=VALUE, got {line!r}.")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


Parser = Callable[[str, str], object]


def _text(name: str, raw: str) -> str:
    return raw


def _path(name: str, raw: str) -> Path:
    return Path(raw)


def _prefix(name: str, raw: str) -> str:
    return raw.strip("/")


def _ints(low: int, high: int) -> Parser:
    return lambda name, raw: _parse_int(name, raw, low, high)


def _floats(low: float, high: float) -> Parser:
    return lambda name, raw: _parse_float(name, raw, low, high)


def _hosts(name: str, raw: str) -> tuple[str, ...]:
    hosts = tuple(h.strip().lower() for h in raw.split(",") if h.strip())
    for host in hosts:
        if host != "*" and not re.fullmatch(r"(\*\.)?[a-z0-9.\-]+|\[[0-9a-f:.]+\]", host):
            raise SettingsError(
                f"{name}: {host!r} is not a host name; use a comma-separated list such as "
                "example.org,www.example.org (no scheme, no port)."
            )
    if not hosts:
        raise SettingsError(f"{name} is empty: list at least one host name.")
    return hosts


def _networks(name: str, raw: str) -> str:
    # Kept as text (app/auth/clientaddr.py parses it per policy); checked here so a typo
    # stops the start instead of silently trusting no proxy.
    items = [item.strip() for item in raw.split(",") if item.strip()]
    if not items:
        raise SettingsError(f"{name} is empty: list networks such as 127.0.0.1,10.0.0.0/16, or *.")
    for item in items:
        if item == "*":
            continue
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise SettingsError(
                f"{name}: {item!r} is not an IP address or network; use a comma-separated "
                "list such as 127.0.0.1,10.0.0.0/16, or * for any peer."
            ) from None
    return ",".join(items)


def _duration(name: str, raw: str) -> str:
    # Litestream's own syntax; validated here so a typo stops the start, not the replicator.
    if not re.fullmatch(r"\d+(\.\d+)?(ms|s|m|h)", raw.strip()):
        raise SettingsError(f"{name}={raw!r}: use a duration such as 1s, 500ms or 5m.")
    return raw.strip()


def _choice(*allowed: str) -> Parser:
    def parse(name: str, raw: str) -> str:
        value = raw.strip().lower()
        if value not in allowed:
            raise SettingsError(f"{name}={raw!r}: use {' or '.join(allowed)}.")
        return value

    return parse


def _log_level(name: str, raw: str) -> str:
    value = raw.strip().upper()
    if value not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise SettingsError(f"{name}={raw!r}: use DEBUG, INFO, WARNING or ERROR.")
    return value


def _s3_url(name: str, raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme != "s3" or not parts.netloc:
        raise SettingsError(f"{name}={raw!r}: use s3://BUCKET/PREFIX.")
    return raw


def _http_url(name: str, raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SettingsError(f"{name}={raw!r}: use an http(s) URL such as http://127.0.0.1:5000.")
    return raw


def _base_url(name: str, raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
        raise SettingsError(f"{name}={raw!r}: use an absolute URL such as https://example.org.")
    return raw.rstrip("/")


def _setting(var: str, parse: Parser, default: object) -> Any:
    """A field read from the environment variable `var` by `parse` (which names `var` in
    its error); the one table the docs and the start-up check are tested against."""
    return field(default=default, metadata={"var": var, "parse": parse})


_ENVIRONMENTS = _choice("local", "production")
_LOCAL_DIR = Path(DEFAULT_LOCAL_DATA_DIR)


@dataclass(frozen=True)
class Settings:
    env: Environment = _setting("CRAYON_ENV", _ENVIRONMENTS, "local")  # noqa: RUF009 - field()
    host: str = _setting("CRAYON_HOST", _text, "127.0.0.1")
    port: int = _setting("CRAYON_PORT", _ints(1, 65535), 8000)
    data_dir: Path = _setting("CRAYON_DATA_DIR", _path, _LOCAL_DIR)  # noqa: RUF009 - field()
    s3_bucket: str | None = _setting("CRAYON_S3_BUCKET", _text, None)
    s3_prefix: str = _setting("CRAYON_S3_PREFIX", _prefix, "")
    admin_password: str | None = _setting("CRAYON_ADMIN_PASSWORD", _text, None)
    admin_secret_id: str | None = _setting("CRAYON_ADMIN_SECRET_ID", _text, None)
    session_key: str | None = _setting("CRAYON_SESSION_KEY", _text, None)
    session_secret_id: str | None = _setting("CRAYON_SESSION_SECRET_ID", _text, None)
    replica_url: str | None = _setting("CRAYON_REPLICA_URL", _s3_url, None)
    durable_writes: bool = _setting("CRAYON_DURABLE_WRITES", _parse_bool, False)
    origin_secret: str | None = _setting("CRAYON_ORIGIN_SECRET", _text, None)
    # Secrets Manager id of the origin secret; fetched by the app, wins over origin_secret.
    origin_secret_id: str | None = _setting("CRAYON_ORIGIN_SECRET_ID", _text, None)
    aws_region: str = _setting("AWS_REGION", _text, "us-east-1")
    aws_endpoint_url: str | None = _setting("AWS_ENDPOINT_URL", _http_url, None)
    session_idle_minutes: int = _setting("CRAYON_SESSION_IDLE_MINUTES", _ints(1, 24 * 60), 30)
    session_absolute_hours: int = _setting("CRAYON_SESSION_ABSOLUTE_HOURS", _ints(1, 720), 8)
    login_attempts_per_client: int = _setting("CRAYON_LOGIN_ATTEMPTS_PER_CLIENT", _ints(1, 1000), 5)
    login_attempts_global: int = _setting("CRAYON_LOGIN_ATTEMPTS_GLOBAL", _ints(1, 100000), 50)
    login_window_seconds: int = _setting("CRAYON_LOGIN_WINDOW_SECONDS", _ints(1, 86400), 300)
    # Password checks (argon2, 19 MiB each) running at once, and waiting; more get 503.
    login_hash_concurrency: int = _setting("CRAYON_LOGIN_HASH_CONCURRENCY", _ints(1, 8), 2)
    login_hash_queue: int = _setting("CRAYON_LOGIN_HASH_QUEUE", _ints(0, 64), 4)
    max_upload_mb: int = _setting("CRAYON_MAX_UPLOAD_MB", _ints(1, 10), 10)
    anomaly_threshold: float = _setting("CRAYON_ANOMALY_THRESHOLD", _floats(0.0, 1.0), 0.5)
    source_url: str = _setting(
        "CRAYON_SOURCE_URL", _base_url, "https://github.com/crayon-demo/crayon"
    )
    replica_sync_interval: str = _setting("CRAYON_REPLICA_SYNC_INTERVAL", _duration, "1s")
    reload: bool = _setting("CRAYON_RELOAD", _parse_bool, False)
    log_level: str = _setting("CRAYON_LOG_LEVEL", _log_level, "INFO")
    # Proxies in front of the app (CloudFront: 1; CloudFront then an ALB: 2). The login rate
    # limit believes that many X-Forwarded-For entries from the right, and no more.
    trusted_proxy_hops: int = _setting("CRAYON_TRUSTED_PROXY_HOPS", _ints(0, 5), 0)
    # Peers whose X-Forwarded-Proto/For uvicorn believes (for https links behind a proxy).
    forwarded_allow_ips: str = _setting("CRAYON_FORWARDED_ALLOW_IPS", _networks, "127.0.0.1")
    # Memory the process may use, in MB; None: the cgroup's limit, else 512. The number of
    # analyses run at once is derived from it (app/analysis/budget.py).
    memory_budget_mb: int | None = _setting("CRAYON_MEMORY_BUDGET_MB", _ints(64, 1024 * 1024), None)
    # Metrics timing.
    heartbeat_seconds: int = _setting("CRAYON_HEARTBEAT_SECONDS", _ints(1, 3600), 60)
    metrics_flush_seconds: float = _setting(
        "CRAYON_METRICS_FLUSH_SECONDS", _floats(0.05, 60.0), 1.0
    )
    sse_heartbeat_seconds: float = _setting(
        "CRAYON_SSE_HEARTBEAT_SECONDS", _floats(0.2, 60.0), 15.0
    )
    # Replication (Litestream).
    durable_timeout: float = _setting("CRAYON_DURABLE_TIMEOUT", _floats(0.1, 300.0), 10.0)
    replication_stale_s: float = _setting("CRAYON_REPLICATION_STALE_S", _floats(0.0, 86400.0), 0.0)
    replica_verify_s: float = _setting("CRAYON_REPLICA_VERIFY_S", _floats(1.0, 86400.0), 300.0)
    restore_timeout: float = _setting("CRAYON_RESTORE_TIMEOUT", _floats(1.0, 86400.0), 300.0)
    litestream_bin: str | None = _setting("CRAYON_LITESTREAM_BIN", _text, None)
    litestream_config: str | None = _setting("CRAYON_LITESTREAM_CONFIG", _text, None)
    litestream_socket: str | None = _setting("CRAYON_LITESTREAM_SOCKET", _text, None)
    # Set by `crayon serve --replicate` for its own child (Litestream's `-exec`), not by people.
    litestream_lock_fd: int | None = _setting("CRAYON_LITESTREAM_LOCK_FD", _ints(0, 65535), None)
    replicated_child: bool = _setting("CRAYON_REPLICATED_CHILD", _parse_bool, False)
    # The HTTP server's limits (uvicorn, set by `crayon serve`).
    header_timeout_seconds: float = _setting(
        "CRAYON_HEADER_TIMEOUT_SECONDS", _floats(1.0, 120.0), 10.0
    )
    keep_alive_seconds: int = _setting("CRAYON_KEEP_ALIVE_SECONDS", _ints(1, 300), 5)
    max_header_bytes: int = _setting("CRAYON_MAX_HEADER_BYTES", _ints(4096, 1048576), 16384)
    # Requests the app works on at once (app/web/limits.py; /healthz and the event streams are
    # not counted); more get 503. Idle sockets are bounded by max_connections instead.
    limit_concurrency: int = _setting("CRAYON_LIMIT_CONCURRENCY", _ints(10, 100000), 400)
    max_event_streams: int = _setting("CRAYON_MAX_EVENT_STREAMS", _ints(1, 10000), 200)
    # Open connections; at the cap a new one displaces the longest-waiting unfinished head.
    max_connections: int = _setting("CRAYON_MAX_CONNECTIONS", _ints(64, 1000000), 4096)
    backlog: int = _setting("CRAYON_BACKLOG", _ints(16, 65535), 1024)
    # Host names the app answers to (Host header); absolute links use public_url when set.
    # None: local runs allow LOCAL_HOSTS; production allows the host of public_url, or any
    # host (with a warning at start) when neither is set.
    allowed_hosts: tuple[str, ...] | None = _setting("CRAYON_ALLOWED_HOSTS", _hosts, None)
    public_url: str | None = _setting("CRAYON_PUBLIC_URL", _base_url, None)
    # /readyz caches its storage check this long (a probe must not cost an S3 call each time).
    ready_cache_seconds: float = _setting("CRAYON_READY_CACHE_SECONDS", _floats(0.0, 3600.0), 30.0)

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def database_path(self) -> Path:
        return self.data_dir / "crayon.db"

    @property
    def local_storage_dir(self) -> Path:
        return self.data_dir / "files"

    @property
    def spool_dir(self) -> Path:
        return self.data_dir / "spool"

    @property
    def storage_backend(self) -> Literal["local", "s3"]:
        return "s3" if self.s3_bucket else "local"

    @property
    def cookie_secure(self) -> bool:
        return self.is_production

    @property
    def hosts(self) -> tuple[str, ...]:
        """The Host header values the app answers to (TrustedHostMiddleware)."""
        if self.allowed_hosts is not None:
            return self.allowed_hosts
        if self.public_url is not None:
            return (urlsplit(self.public_url).hostname or "",)
        if self.is_production:
            # Deploys that set neither variable yet still start; `host_unpinned` makes the
            # start log say so, and no link is ever built from the Host header.
            return ("*",)
        return LOCAL_HOSTS

    @property
    def host_unpinned(self) -> bool:
        """Production without CRAYON_ALLOWED_HOSTS or CRAYON_PUBLIC_URL: any Host is accepted."""
        return self.is_production and self.allowed_hosts is None and self.public_url is None

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    @classmethod
    def variables(cls) -> dict[str, str]:
        """Field name -> the environment variable it is read from."""
        return {f.name: f.metadata["var"] for f in fields(cls)}

    @classmethod
    def unknown_variables(cls, environ: Mapping[str, str]) -> list[str]:
        """`CRAYON_*` names in `environ` that no field reads (a typo, or a deploy-kit variable);
        logged at start so a misspelt setting is not silently the default."""
        known = set(cls.variables().values())
        return sorted(k for k in environ if k.startswith("CRAYON_") and k not in known)

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, env_file: Path | None = Path(".env")
    ) -> Settings:
        """Build settings from `environ` (default: the process's) over a `.env` file.

        Real environment variables win over the file, so a deploy can override anything.
        """
        source: dict[str, str] = {}
        if env_file is not None:
            source.update(read_env_file(env_file))
        source.update(os.environ if environ is None else environ)
        if not source.get("AWS_REGION") and source.get("AWS_DEFAULT_REGION"):
            source["AWS_REGION"] = source["AWS_DEFAULT_REGION"]
        kwargs: dict[str, object] = {}
        for f in fields(cls):
            raw = source.get(f.metadata["var"])
            if raw is None or raw == "":
                continue
            kwargs[f.name] = f.metadata["parse"](f.metadata["var"], raw)
        if "data_dir" not in kwargs and kwargs.get("env") == "production":
            kwargs["data_dir"] = Path(DEFAULT_PRODUCTION_DATA_DIR)
        settings = cls(**kwargs)  # type: ignore[arg-type]
        settings.check()
        return settings

    def check(self) -> None:
        """Refuse settings that are incomplete for the environment or would mix data."""
        if self.log_level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise SettingsError(
                f"CRAYON_LOG_LEVEL={self.log_level!r}: use DEBUG, INFO, WARNING or ERROR."
            )
        if self.replica_url is not None:
            parts = urlsplit(self.replica_url)
            if parts.scheme != "s3" or not parts.netloc:
                raise SettingsError(
                    f"CRAYON_REPLICA_URL={self.replica_url!r}: use s3://BUCKET/PREFIX."
                )
        if self.is_production:
            missing = []
            if not self.s3_bucket:
                missing.append("CRAYON_S3_BUCKET (the data bucket)")
            if not self.admin_secret_id:
                missing.append("CRAYON_ADMIN_SECRET_ID (the Secrets Manager secret with the hash)")
            if missing:
                raise SettingsError(
                    "Production needs " + " and ".join(missing) + "; set them, or run with "
                    "CRAYON_ENV=local for development."
                )
            if self.admin_password:
                raise SettingsError(
                    "CRAYON_ADMIN_PASSWORD is for local use only; in production the password "
                    "hash comes from Secrets Manager (CRAYON_ADMIN_SECRET_ID). Unset it."
                )
            self._refuse_marked("production", _LOCAL_MARKERS)
            if str(self.data_dir).startswith(DEFAULT_LOCAL_DATA_DIR):
                raise SettingsError(
                    f"CRAYON_DATA_DIR={self.data_dir} is the local development folder; "
                    "production must not use local data. Point it elsewhere."
                )
        else:
            self._refuse_marked("local", _PRODUCTION_MARKERS)
            if self.data_dir.resolve() == Path(DEFAULT_PRODUCTION_DATA_DIR):
                raise SettingsError(
                    f"CRAYON_DATA_DIR={self.data_dir} is the production data folder and "
                    "CRAYON_ENV is local. Use a local folder, or set CRAYON_ENV=production."
                )

    def _refuse_marked(self, env: str, foreign: tuple[str, ...]) -> None:
        names = {
            "CRAYON_S3_BUCKET": self.s3_bucket,
            "CRAYON_REPLICA_URL": urlsplit(self.replica_url).netloc if self.replica_url else None,
        }
        for var, value in names.items():
            if not value:
                continue
            words = set(value.lower().replace("_", "-").replace(".", "-").split("-"))
            hit = words.intersection(foreign)
            if hit:
                other = "production" if env == "local" else "local"
                raise SettingsError(
                    f"{var}={value!r} looks like a {other} resource ({sorted(hit)[0]!r} in its "
                    f"name) but CRAYON_ENV is {env}. Local and production data never mix: "
                    f"use a {env} bucket, or set CRAYON_ENV={other} if that is what you meant."
                )
