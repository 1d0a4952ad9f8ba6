"""The backend's settings, read once from the environment (names start with BACKEND_)."""

from __future__ import annotations

import os
from dataclasses import dataclass


class SettingsError(ValueError):
    """A setting that cannot be used; the message names the variable and what it accepts."""


def _number(env: dict[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number (expected {low}..{high})") from None
    if not low <= value <= high:
        raise SettingsError(f"{name}={raw!r} is out of range (expected {low}..{high})")
    return value


def _int(env: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    value = _number(env, name, default, low, high)
    if value != int(value):
        raise SettingsError(f"{name}={env.get(name)!r} is not a whole number")
    return int(value)


def _flag(env: dict[str, str], name: str) -> bool:
    return env.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _folder(env: dict[str, str], name: str) -> str | None:
    raw = env.get(name) or None
    if raw is not None and not os.path.isfile(os.path.join(raw, "index.html")):
        raise SettingsError(f"{name}={raw!r} has no index.html (expected a `next export` folder)")
    return raw


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    # Seconds of silence before a heartbeat comment. Must stay below every idle timeout on the
    # path (ALB: 60 s by default; CloudFront origin read timeout: 30 s by default).
    heartbeat_s: float = 15.0
    # Seconds between the simulated workflow's steps (a stand-in for model latency).
    step_interval_s: float = 1.0
    # Events kept per run for Last-Event-ID resume; older ones are gone (an explicit gap event).
    ring_size: int = 256
    max_streams: int = 100
    max_runs: int = 200
    max_body_bytes: int = 16_384
    # The reconnection delay sent to EventSource clients in the `retry:` field.
    retry_ms: int = 3000
    proxy_headers: bool = False
    forwarded_allow_ips: str = "127.0.0.1"
    gemini_secret_id: str | None = None
    log_level: str = "info"
    # Dev mode: a `next export`-style folder served on the same origin as /api.
    static_dir: str | None = None

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        return cls(
            host=env.get("BACKEND_HOST", cls.host),
            port=_int(env, "BACKEND_PORT", cls.port, 1, 65535),
            heartbeat_s=_number(env, "BACKEND_HEARTBEAT_S", cls.heartbeat_s, 0.05, 55),
            step_interval_s=_number(env, "BACKEND_STEP_INTERVAL_S", cls.step_interval_s, 0, 60),
            ring_size=_int(env, "BACKEND_RING_SIZE", cls.ring_size, 1, 100_000),
            max_streams=_int(env, "BACKEND_MAX_STREAMS", cls.max_streams, 1, 100_000),
            max_runs=_int(env, "BACKEND_MAX_RUNS", cls.max_runs, 1, 100_000),
            max_body_bytes=_int(env, "BACKEND_MAX_BODY_BYTES", cls.max_body_bytes, 64, 1 << 20),
            retry_ms=_int(env, "BACKEND_RETRY_MS", cls.retry_ms, 100, 600_000),
            proxy_headers=_flag(env, "BACKEND_PROXY_HEADERS"),
            forwarded_allow_ips=env.get("BACKEND_FORWARDED_ALLOW_IPS", cls.forwarded_allow_ips),
            gemini_secret_id=env.get("BACKEND_GEMINI_SECRET_ID") or None,
            log_level=env.get("BACKEND_LOG_LEVEL", cls.log_level).lower(),
            static_dir=_folder(env, "BACKEND_STATIC_DIR"),
        )
