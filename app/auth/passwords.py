"""Argon2id password hashing and verification (argon2-cffi).

`verify` spends the same work whether the stored hash is good, malformed or missing, so the
response time says nothing about why a login failed.
"""

from __future__ import annotations

import secrets
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# argon2-cffi's defaults (RFC 9106 "low memory" profile: t=3, m=64 MiB, p=4): about 50 ms
# on one core, affordable at the login rate limits, expensive for an offline attacker.
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(24))


def looks_like_argon2(value: str) -> bool:
    return value.startswith(("$argon2id$", "$argon2i$", "$argon2d$"))


def verify(stored_hash: str | None, password: str) -> bool:
    """True only when `password` matches `stored_hash`; never raises for bad input."""
    candidate = stored_hash if stored_hash and looks_like_argon2(stored_hash) else None
    try:
        return _hasher.verify(candidate or _dummy_hash(), password) and candidate is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's defaults."""
    try:
        return _hasher.check_needs_rehash(stored_hash)
    except (InvalidHashError, ValueError):
        return True
