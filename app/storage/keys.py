"""Object keys, built by the app from ids it made: never from a name a user gave.

Every key lives under one of the design's prefixes; `validate_key` is the last line of
defence for anything that reaches a backend.
"""

from __future__ import annotations

import re
import uuid

PREFIXES = ("drawings/", "models/", "saliency_maps/", "exports/", "demo/")

_KEY = re.compile(
    r"^(drawings|models|saliency_maps|exports|demo)/[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
)
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_EXTENSIONS = {"png", "json", "csv"}


class InvalidKey(ValueError):
    pass


def new_id() -> str:
    return uuid.uuid4().hex


def _check_id(value: str) -> str:
    if not _ID.match(value):
        raise InvalidKey(f"not a valid id: {value!r}")
    return value


def _check_ext(ext: str) -> str:
    if ext not in _EXTENSIONS:
        raise InvalidKey(f"not an allowed extension: {ext!r}")
    return ext


def drawing_key(analysis_id: str) -> str:
    return f"drawings/{_check_id(analysis_id)}.png"


def heatmap_key(analysis_id: str) -> str:
    return f"saliency_maps/{_check_id(analysis_id)}.png"


def model_key(version: str) -> str:
    return f"models/{_check_id(version)}.json"


def export_key(name: str, ext: str = "csv") -> str:
    return f"exports/{_check_id(name)}.{_check_ext(ext)}"


def demo_key(name: str, ext: str = "png") -> str:
    return f"demo/{_check_id(name)}.{_check_ext(ext)}"


def validate_key(key: str) -> str:
    """Raise InvalidKey unless `key` is one the app could have built."""
    if not _KEY.match(key) or ".." in key:
        raise InvalidKey(f"refusing storage key {key!r}")
    return key
