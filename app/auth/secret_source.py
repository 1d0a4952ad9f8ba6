"""Where the admin password hash and the session signing key come from.

Local: `CRAYON_ADMIN_PASSWORD` (plain text, hashed at start). When it is unset, a random
password is generated once per data folder, kept in `<data dir>/local-admin-password` (0600)
and printed in the log the first time, so `make run` works with no set-up and the developer
knows how to log in.

Production: the argon2 hash lives in the Secrets Manager secret `CRAYON_ADMIN_SECRET_ID`, as
JSON `{"password_hash": "$argon2id$..."}` or as the bare hash. It is read with short timeouts,
cached for `SECRET_TTL_SECONDS` and re-read after that; a failed read drops the cached value
(fail closed) and is retried no more than every `RETRY_SECONDS`. When it cannot be read the
login page says why and protected pages stay closed (seed 001 opens them; Crayon does not).

Session signing key: the secret `CRAYON_SESSION_SECRET_ID` (JSON `{"session_key": "..."}` or
the bare key), else `CRAYON_SESSION_KEY`, else a random key kept in `<data dir>/session.key`
(0600). The secret id wins: a secret the app fetches itself is not in the process's
environment, where every child process and crash dump would see it.

Origin secret (the X-Origin-Verify value CloudFront adds): the secret
`CRAYON_ORIGIN_SECRET_ID` (a plain string, or JSON `{"origin_secret": "..."}`), re-read like
the admin hash, else `CRAYON_ORIGIN_SECRET`.

`CRAYON_ADMIN_PASSWORD_HASH` is not read by the app (it fetches the hash by id); when it is
present the app logs a warning, since it is a secret sitting in the environment for nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from app.auth.passwords import hash_password, looks_like_argon2
from app.settings import Settings, SettingsError

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

log = logging.getLogger("crayon.auth")

SECRET_TTL_SECONDS = 300.0
RETRY_SECONDS = 5.0
MIN_SESSION_KEY_CHARS = 32
LOCAL_PASSWORD_FILE = "local-admin-password"  # noqa: S105 (a file name)
SESSION_KEY_FILE = "session.key"

T = TypeVar("T")


class SecretUnavailable(RuntimeError):
    """The secret cannot be read right now; the message says why, for the login page."""


def parse_admin_hash(raw: str) -> str:
    text = raw.strip()
    value: Any = text
    if text.startswith("{"):
        try:
            value = json.loads(text).get("password_hash")
        except (ValueError, AttributeError):
            value = None
    if not isinstance(value, str) or not looks_like_argon2(value.strip()):
        raise ValueError(
            'it does not hold an argon2 hash: store {"password_hash": "$argon2id$..."} '
            "(make one with `crayon hash-password`)"
        )
    return value.strip()


def parse_session_key(raw: str) -> str:
    text = raw.strip()
    value: Any = text
    if text.startswith("{"):
        try:
            value = json.loads(text).get("session_key")
        except (ValueError, AttributeError):
            value = None
    if not isinstance(value, str) or len(value.strip()) < MIN_SESSION_KEY_CHARS:
        raise ValueError(
            f"it does not hold a session key of at least {MIN_SESSION_KEY_CHARS} characters: "
            'store {"session_key": "<random text>"}'
        )
    return value.strip()


def _describe_aws_error(exc: BaseException, secret_id: str, settings: Settings) -> str:
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        ReadTimeoutError,
    )

    where = settings.aws_endpoint_url or f"Secrets Manager in {settings.aws_region}"
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        if code == "ResourceNotFoundException":
            return f"the secret {secret_id!r} does not exist ({where})"
        if code in {"AccessDeniedException", "AccessDenied"}:
            return f"the app is not allowed to read the secret {secret_id!r} ({code})"
        if code in {"DecryptionFailure", "KMSAccessDeniedException"}:
            return f"the secret {secret_id!r} cannot be decrypted ({code})"
        return f"reading the secret {secret_id!r} failed: {code or exc}"
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError | ReadTimeoutError):
        return f"Secrets Manager cannot be reached ({where})"
    if isinstance(exc, NoCredentialsError):
        return "the app has no AWS credentials to read Secrets Manager"
    if isinstance(exc, BotoCoreError):
        return f"reading the secret {secret_id!r} failed: {exc}"
    return f"reading the secret {secret_id!r} failed: {type(exc).__name__}: {exc}"


def secrets_client(settings: Settings) -> SecretsManagerClient:
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=2,
        read_timeout=3,
        retries={"max_attempts": 2, "mode": "standard"},
    )
    return boto3.client(
        "secretsmanager",
        region_name=settings.aws_region,
        endpoint_url=settings.aws_endpoint_url,
        config=config,
    )


class SecretsManagerValue(Generic[T]):
    """One secret, parsed, cached for `ttl` seconds (None: until the process ends)."""

    def __init__(
        self,
        settings: Settings,
        secret_id: str,
        parse: Callable[[str], T],
        *,
        ttl: float | None = SECRET_TTL_SECONDS,
        retry_seconds: float = RETRY_SECONDS,
    ) -> None:
        self.settings = settings
        self.secret_id = secret_id
        self.parse = parse
        self.ttl = ttl
        self.retry_seconds = retry_seconds
        self._value: T | None = None
        self._fetched_at = 0.0
        self._error: str | None = None
        self._failed_at = -1e18
        self._lock = asyncio.Lock()
        self._client: SecretsManagerClient | None = None

    @property
    def description(self) -> str:
        return f"the Secrets Manager secret {self.secret_id!r}"

    def _fresh(self, now: float) -> bool:
        if self._value is None:
            return False
        return self.ttl is None or now - self._fetched_at < self.ttl

    def age(self) -> float | None:
        return None if self._value is None else time.monotonic() - self._fetched_at

    def _fetch_sync(self) -> T:
        if self._client is None:
            self._client = secrets_client(self.settings)
        response = self._client.get_secret_value(SecretId=self.secret_id)
        raw = response.get("SecretString")
        if raw is None:
            raise ValueError("it holds binary data, not text")
        return self.parse(raw)

    async def get(self, *, refresh: bool = False) -> T:
        """The value; re-read when stale (or `refresh`); SecretUnavailable when unreadable.

        A forced refresh that fails keeps a value that is still within its TTL.
        """
        now = time.monotonic()
        if self._fresh(now) and not refresh:
            assert self._value is not None
            return self._value
        async with self._lock:
            now = time.monotonic()
            if self._fresh(now) and not refresh:
                assert self._value is not None
                return self._value
            if self._error is not None and now - self._failed_at < self.retry_seconds:
                if self._fresh(now):
                    assert self._value is not None
                    return self._value
                raise SecretUnavailable(self._error)
            try:
                value = await asyncio.to_thread(self._fetch_sync)
            except Exception as exc:
                if isinstance(exc, ValueError):
                    reason = f"the secret {self.secret_id!r} is unusable: {exc}"
                else:
                    reason = _describe_aws_error(exc, self.secret_id, self.settings)
                self._failed_at = time.monotonic()
                if self._error != reason:
                    log.error(
                        "secret unreadable", extra={"secret": self.secret_id, "reason": reason}
                    )
                self._error = reason
                if self._fresh(self._failed_at) and refresh:
                    assert self._value is not None
                    return self._value
                self._value = None
                raise SecretUnavailable(reason) from None
            if self._error is not None:
                log.info("secret readable again", extra={"secret": self.secret_id})
            self._value = value
            self._fetched_at = time.monotonic()
            self._error = None
            return value

    def status(self) -> dict[str, Any]:
        age = self.age()
        return {
            "source": self.description,
            "ok": self._error is None and age is not None,
            "error": self._error,
            "cached_age_s": None if age is None else round(age, 1),
        }


class FixedValue(Generic[T]):
    """A value known at start (local password hash, key from the environment or a file)."""

    def __init__(self, value: T, description: str) -> None:
        self.value = value
        self.description = description

    async def get(self, *, refresh: bool = False) -> T:
        return self.value

    def age(self) -> float | None:
        return 0.0

    def status(self) -> dict[str, Any]:
        return {"source": self.description, "ok": True, "error": None}


ValueSource = SecretsManagerValue[str] | FixedValue[str]


def _write_private(path: Path, text: str) -> bool:
    """Create `path` with mode 0600 holding `text`; False when it already exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text + "\n")
    return True


def _read_private(path: Path) -> str:
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        os.chmod(path, 0o600)
        log.warning("tightened permissions", extra={"file": str(path), "was": oct(mode)})
    return path.read_text(encoding="utf-8").strip()


UNUSED_SECRET_VARIABLES = ("CRAYON_ADMIN_PASSWORD_HASH",)


def warn_about_secrets_in_environment(settings: Settings) -> list[str]:
    """Log (and return) the secret-bearing variables the app ignores or overrides."""
    found = [name for name in UNUSED_SECRET_VARIABLES if os.environ.get(name)]
    if settings.session_secret_id and settings.session_key:
        found.append("CRAYON_SESSION_KEY")
    if settings.origin_secret_id and settings.origin_secret:
        found.append("CRAYON_ORIGIN_SECRET")
    for name in found:
        log.warning(
            f"{name} is set in the environment but not used: the app reads that secret from "
            "Secrets Manager by id. Remove it from the environment (task definition or "
            "env file) so the secret does not sit there.",
            extra={"variable": name},
        )
    return found


def parse_origin_secret(raw: str) -> str:
    text = raw.strip()
    value: Any = text
    if text.startswith("{"):
        try:
            value = json.loads(text).get("origin_secret")
        except (ValueError, AttributeError):
            value = None
    if not isinstance(value, str) or len(value.strip()) < 16:
        raise ValueError(
            "it does not hold an origin secret of at least 16 characters: store a plain "
            'random string or {"origin_secret": "..."}'
        )
    return value.strip()


def origin_secret_source(settings: Settings) -> ValueSource | None:
    """Where the X-Origin-Verify value comes from, or None when no origin check is set."""
    if settings.origin_secret_id:
        return SecretsManagerValue(settings, settings.origin_secret_id, parse_origin_secret)
    if settings.origin_secret:
        return FixedValue(settings.origin_secret, "CRAYON_ORIGIN_SECRET")
    return None


def admin_hash_source(settings: Settings) -> ValueSource:
    if settings.is_production:
        if not settings.admin_secret_id:
            raise SettingsError("CRAYON_ADMIN_SECRET_ID is required in production.")
        return SecretsManagerValue(settings, settings.admin_secret_id, parse_admin_hash)
    if settings.admin_password:
        return FixedValue(hash_password(settings.admin_password), "CRAYON_ADMIN_PASSWORD")
    path = settings.data_dir / LOCAL_PASSWORD_FILE
    password = secrets.token_urlsafe(12)
    if _write_private(path, password):
        log.warning(
            "CRAYON_ADMIN_PASSWORD is not set: generated a local admin password for this data "
            f"folder: {password} (kept in {path}; set CRAYON_ADMIN_PASSWORD in .env to choose "
            "your own)",
            extra={"file": str(path)},
        )
    else:
        password = _read_private(path)
        log.info(
            f"CRAYON_ADMIN_PASSWORD is not set: the local admin password is in {path}",
            extra={"file": str(path)},
        )
    return FixedValue(hash_password(password), f"the generated local password in {path}")


def session_key_source(settings: Settings) -> ValueSource:
    if settings.session_secret_id:
        return SecretsManagerValue(
            settings, settings.session_secret_id, parse_session_key, ttl=None
        )
    if settings.session_key:
        if len(settings.session_key) < MIN_SESSION_KEY_CHARS:
            raise SettingsError(
                f"CRAYON_SESSION_KEY is too short: use at least {MIN_SESSION_KEY_CHARS} random "
                'characters (python3 -c "import secrets; print(secrets.token_urlsafe(48))").'
            )
        return FixedValue(settings.session_key, "CRAYON_SESSION_KEY")
    path = settings.data_dir / SESSION_KEY_FILE
    _write_private(path, secrets.token_urlsafe(48))
    key = _read_private(path)
    if len(key) < MIN_SESSION_KEY_CHARS:
        raise SettingsError(
            f"{path} holds a session key shorter than {MIN_SESSION_KEY_CHARS} chars."
        )
    return FixedValue(key, f"the key file {path}")
