"""What every crayon.aws module shares: the AnsibleAWSModule and botocore imports, one boto3
session for all of a module's clients, the error-code checks, tag lists as dicts and a
waiting loop.

A module imports from here instead of repeating the boilerplate:

    from ansible_collections.crayon.aws.plugins.module_utils.common import (
        AWS_ERRORS, AnsibleAWSModule, is_missing,
    )
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from ansible_collections.amazon.aws.plugins.module_utils.botocore import (
    get_aws_connection_info,
)
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

try:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError, WaiterError
except ImportError:  # AnsibleAWSModule fails with a clear message when the module starts

    class BotoCoreError(Exception):  # type: ignore[no-redef]
        """Stands in for botocore's so `except AWS_ERRORS` still compiles."""

    class ClientError(Exception):  # type: ignore[no-redef]
        """Stands in for botocore's so `except AWS_ERRORS` still compiles."""

    class WaiterError(BotoCoreError):  # type: ignore[no-redef]
        """Stands in for botocore's so `except WaiterError` still compiles."""


__all__ = [
    "AWS_ERRORS",
    "AnsibleAWSModule",
    "BotoCoreError",
    "ClientError",
    "Clients",
    "WaiterError",
    "error_code",
    "is_missing",
    "tags_dict",
    "wait_for",
    "wait_for_status",
]

# What a failed AWS call raises: the service's answer, or botocore's own (network, waiter).
AWS_ERRORS = (ClientError, BotoCoreError)

T = TypeVar("T")


def error_code(e: Exception) -> str:
    """The AWS error code of a failed call ("NoSuchEntity", "404", ...); "" when it has none."""
    return str(getattr(e, "response", {}).get("Error", {}).get("Code", ""))


def is_missing(e: Exception, *codes: str) -> bool:
    """Whether the call failed with one of `codes` (each service names "not found" its own way)."""
    return error_code(e) in codes


def tags_dict(
    items: list[dict[str, str]] | None, key: str = "Key", value: str = "Value"
) -> dict[str, str]:
    """AWS's tag list ([{Key, Value}], or {key, value} for ECS) as one dict."""
    return {t[key]: t[value] for t in items or []}


class Clients:
    """One boto3 session and one client per service, with the module's region, endpoint,
    credentials and retry config. module.client() builds a new session for every client, and
    each new session parses botocore's endpoint and service data again (~0.25 s a service).
    Make the clients in one thread (a session is not thread-safe); use them from any."""

    def __init__(self, module: AnsibleAWSModule) -> None:
        region, endpoint, params = get_aws_connection_info(module)
        self._session = boto3.session.Session(profile_name=params.pop("profile_name", None))
        config = params.pop("aws_config", None)
        self._kwargs = {"region_name": region, "endpoint_url": endpoint, "config": config, **params}
        self._made: dict[str, Any] = {}

    def __call__(self, service: str) -> Any:
        if service not in self._made:
            self._made[service] = self._session.client(service, **self._kwargs)
        return self._made[service]


def wait_for(
    read: Callable[[], T],
    done: Callable[[T], bool],
    *,
    timeout: float,
    interval: float,
    timed_out: Callable[[T], None],
    first_interval: float | None = None,
) -> T:
    """read() until done(value); timed_out(value) once `timeout` seconds have passed (it is
    expected to fail the module). Sleeps `interval` seconds between reads; with
    `first_interval`, starts there and doubles up to `interval` (a fresh resource is often
    ready at once). `done` may itself fail the module on a state that will never settle."""
    deadline = time.monotonic() + timeout
    delay = interval if first_interval is None else first_interval
    while True:
        value = read()
        if done(value):
            return value
        if time.monotonic() > deadline:
            timed_out(value)
            raise TimeoutError(f"still waiting after {timeout} s")
        time.sleep(delay)
        delay = min(float(interval), delay * 2)


def wait_for_status(
    module: AnsibleAWSModule,
    read: Callable[[], dict[str, Any]],
    status: str,
    what: str,
    interval: float,
) -> dict[str, Any]:
    """read() until the resource's Status is `status` (CloudFront's "Deployed"); fails the
    module, naming `what`, after the module's wait_timeout seconds."""
    return wait_for(
        read,
        lambda found: found.get("Status") == status,
        timeout=module.params["wait_timeout"],
        interval=interval,
        timed_out=lambda found: module.fail_json(
            msg=f"{what} is still {found.get('Status')}, not {status}: timed out"
        ),
    )
