"""The one settings object: read from CRAYON_* environment variables and a local `.env`.

Everything that differs between a developer's laptop and production is decided here, once,
at start-up. Local and production data never mix: `Settings.check()` refuses combinations
that would let one environment touch the other's database or bucket.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

Environment = Literal["local", "production"]

# Names that mark a bucket or path as belonging to one environment. A local run pointed at a
# bucket whose name says "prod" (or the reverse) is almost always a mistake worth stopping.
_PRODUCTION_MARKERS = ("prod", "production", "live")
_LOCAL_MARKERS = ("local", "dev", "test")

DEFAULT_LOCAL_DATA_DIR = "data/local"
DEFAULT_PRODUCTION_DATA_DIR = "/var/lib/crayon"


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


@dataclass(frozen=True)
class Settings:
    env: Environment = "local"
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path(DEFAULT_LOCAL_DATA_DIR)
    s3_bucket: str | None = None
    s3_prefix: str = ""
    admin_password: str | None = None
    admin_secret_id: str | None = None
    session_key: str | None = None
    session_secret_id: str | None = None
    replica_url: str | None = None
    durable_writes: bool = False
    origin_secret: str | None = None
    # Secrets Manager id of the origin secret; fetched by the app, wins over origin_secret.
    origin_secret_id: str | None = None
    aws_region: str = "us-east-1"
    aws_endpoint_url: str | None = None
    session_idle_minutes: int = 30
    session_absolute_hours: int = 8
    login_attempts_per_client: int = 5
    login_attempts_global: int = 50
    login_window_seconds: int = 300
    # Password checks (argon2, 19 MiB each) running at once, and waiting; more get 503.
    login_hash_concurrency: int = 2
    login_hash_queue: int = 4
    max_upload_mb: int = 10
    anomaly_threshold: float = 0.5
    source_url: str = "https://github.com/crayon-demo/crayon"
    replica_sync_interval: str = "1s"
    reload: bool = False
    log_level: str = "INFO"
    # Proxies in front of the app (CloudFront: 1; CloudFront then an ALB: 2). The login rate
    # limit believes that many X-Forwarded-For entries from the right, and no more.
    trusted_proxy_hops: int = 0
    # Peers whose X-Forwarded-Proto/For uvicorn believes (for https links behind a proxy).
    forwarded_allow_ips: str = "127.0.0.1"
    # Memory the process may use, in MB; None: the cgroup's limit, else 512. The number of
    # analyses run at once is derived from it (app/analysis/budget.py).
    memory_budget_mb: int | None = None
    extra: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

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

        def get(name: str) -> str | None:
            value = source.get(f"CRAYON_{name}")
            return value if value not in (None, "") else None

        raw_env = (get("ENV") or "local").lower()
        if raw_env not in ("local", "production"):
            raise SettingsError(f"CRAYON_ENV={raw_env!r}: use 'local' or 'production'.")
        env: Environment = "production" if raw_env == "production" else "local"
        default_dir = DEFAULT_PRODUCTION_DATA_DIR if env == "production" else DEFAULT_LOCAL_DATA_DIR
        kwargs: dict[str, object] = {
            "env": env,
            "host": get("HOST") or "127.0.0.1",
            "data_dir": Path(get("DATA_DIR") or default_dir),
            "s3_bucket": get("S3_BUCKET"),
            "s3_prefix": (get("S3_PREFIX") or "").strip("/"),
            "admin_password": get("ADMIN_PASSWORD"),
            "admin_secret_id": get("ADMIN_SECRET_ID"),
            "session_key": get("SESSION_KEY"),
            "session_secret_id": get("SESSION_SECRET_ID"),
            "replica_url": get("REPLICA_URL"),
            "origin_secret": get("ORIGIN_SECRET"),
            "origin_secret_id": get("ORIGIN_SECRET_ID"),
            "aws_region": source.get("AWS_REGION")
            or source.get("AWS_DEFAULT_REGION")
            or "us-east-1",
            "aws_endpoint_url": source.get("AWS_ENDPOINT_URL") or None,
            "source_url": get("SOURCE_URL") or cls.source_url,
            "replica_sync_interval": get("REPLICA_SYNC_INTERVAL") or "1s",
            "log_level": (get("LOG_LEVEL") or "INFO").upper(),
            "forwarded_allow_ips": get("FORWARDED_ALLOW_IPS") or "127.0.0.1",
            "extra": {k: v for k, v in source.items() if k.startswith("CRAYON_")},
        }
        ints = {
            "PORT": ("port", 1, 65535),
            "SESSION_IDLE_MINUTES": ("session_idle_minutes", 1, 24 * 60),
            "SESSION_ABSOLUTE_HOURS": ("session_absolute_hours", 1, 24 * 30),
            "LOGIN_ATTEMPTS_PER_CLIENT": ("login_attempts_per_client", 1, 1000),
            "LOGIN_ATTEMPTS_GLOBAL": ("login_attempts_global", 1, 100000),
            "LOGIN_WINDOW_SECONDS": ("login_window_seconds", 1, 86400),
            "LOGIN_HASH_CONCURRENCY": ("login_hash_concurrency", 1, 8),
            "LOGIN_HASH_QUEUE": ("login_hash_queue", 0, 64),
            "MAX_UPLOAD_MB": ("max_upload_mb", 1, 10),
            "TRUSTED_PROXY_HOPS": ("trusted_proxy_hops", 0, 5),
            "MEMORY_BUDGET_MB": ("memory_budget_mb", 64, 1024 * 1024),
        }
        for name, (attr, low, high) in ints.items():
            raw = get(name)
            if raw is not None:
                kwargs[attr] = _parse_int(f"CRAYON_{name}", raw, low, high)
        if (raw := get("ANOMALY_THRESHOLD")) is not None:
            kwargs["anomaly_threshold"] = _parse_float("CRAYON_ANOMALY_THRESHOLD", raw, 0.0, 1.0)
        if (raw := get("DURABLE_WRITES")) is not None:
            kwargs["durable_writes"] = _parse_bool("CRAYON_DURABLE_WRITES", raw)
        if (raw := get("RELOAD")) is not None:
            kwargs["reload"] = _parse_bool("CRAYON_RELOAD", raw)
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
