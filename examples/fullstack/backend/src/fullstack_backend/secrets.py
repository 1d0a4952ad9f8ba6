"""The Gemini API key: from the environment (ECS `secrets: valueFrom` injects it there), or read
from Secrets Manager by id once at start. The key itself is never logged; only where it came
from."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field

log = logging.getLogger("fullstack_backend.secrets")

KEY_ENV = "GEMINI_API_KEY"


class SecretError(RuntimeError):
    """The configured secret could not be read; the message never contains the secret."""


@dataclass(frozen=True)
class ApiKey:
    source: str  # "env", "secretsmanager" or "none"
    value: str | None = field(default=None, repr=False)

    @property
    def offline(self) -> bool:
        return self.value is None


def _from_secret_string(text: str) -> str:
    # Either the bare key, or a JSON object holding it (the console's "key/value" secrets).
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError:
            raise SecretError("the secret looks like JSON but does not parse") from None
        for name in (KEY_ENV, "api_key", "apiKey"):
            if isinstance(data, dict) and isinstance(data.get(name), str) and data[name]:
                return str(data[name])
        raise SecretError(f"the secret is a JSON object without a {KEY_ENV} or api_key field")
    if not stripped:
        raise SecretError("the secret is empty")
    return stripped


def load_api_key(secret_id: str | None, environ: dict[str, str] | None = None) -> ApiKey:
    env = os.environ if environ is None else environ
    value = env.get(KEY_ENV, "").strip()
    if value:
        return ApiKey("env", value)
    if not secret_id:
        return ApiKey("none")
    try:
        import boto3  # only this path needs it (the `aws` extra)
    except ImportError:
        raise SecretError(
            "BACKEND_GEMINI_SECRET_ID is set but boto3 is not installed: "
            "install fullstack-backend[aws], or inject GEMINI_API_KEY with ECS `valueFrom`"
        ) from None
    try:
        reply = boto3.client("secretsmanager").get_secret_value(SecretId=secret_id)
    except Exception as error:  # botocore's errors carry no secret material
        raise SecretError(f"cannot read secret {secret_id!r}: {error}") from None
    return ApiKey("secretsmanager", _from_secret_string(str(reply.get("SecretString") or "")))
