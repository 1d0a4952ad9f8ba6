"""Argon2id password hashing and verification (argon2-cffi), bounded in memory.

Parameters: OWASP's argon2id minimum, m=19 MiB, t=2, p=1, chosen for the 512 MiB ECS task.
One verification holds `m` of memory while it runs, so the work an attacker can start is
what must be bounded: `BoundedVerifier` runs at most `CRAYON_LOGIN_HASH_CONCURRENCY` (2)
verifications at once on its own threads, lets at most `CRAYON_LOGIN_HASH_QUEUE` (4) more
wait, and refuses the rest at once (`VerifierBusy`: the route answers 503 with Retry-After).
Worst case: 2 x 19 MiB with today's parameters, 2 x 64 MiB for a hash still made with
argon2-cffi's old defaults (m=64 MiB, t=3, p=4), which keeps verifying: argon2 reads the
parameters from the stored hash. `needs_rehash` says when a stored hash should be replaced
(the app logs it at login; the hash lives in Secrets Manager, which the app cannot write).

`verify` spends the same work whether the stored hash is good, malformed or missing, so the
response time says nothing about why a login failed.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Final, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

TIME_COST: Final = 2
MEMORY_COST_KIB: Final = 19 * 1024
PARALLELISM: Final = 1
BUSY_RETRY_AFTER_S: Final = 2

_hasher = PasswordHasher(time_cost=TIME_COST, memory_cost=MEMORY_COST_KIB, parallelism=PARALLELISM)

T = TypeVar("T")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(24))


def looks_like_argon2(value: str) -> bool:
    return value.startswith(("$argon2id$", "$argon2i$", "$argon2d$"))


def _argon2_verify(hashed: str, password: str) -> bool:
    # The one place a real argon2 computation runs (tests count calls through here).
    return _hasher.verify(hashed, password)


def verify(stored_hash: str | None, password: str) -> bool:
    """True only when `password` matches `stored_hash`; never raises for bad input."""
    candidate = stored_hash if stored_hash and looks_like_argon2(stored_hash) else None
    try:
        return _argon2_verify(candidate or _dummy_hash(), password) and candidate is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """True when the hash was made with other parameters than today's (m=19 MiB, t=2, p=1)."""
    try:
        return _hasher.check_needs_rehash(stored_hash)
    except (InvalidHashError, ValueError):
        return True


class VerifierBusy(RuntimeError):
    """Too many password checks are running or waiting; try again after `retry_after` s."""

    def __init__(self, retry_after: int = BUSY_RETRY_AFTER_S) -> None:
        super().__init__("too many password checks at once")
        self.retry_after = retry_after


class BoundedVerifier:
    """At most `concurrency` checks at once, at most `queue` waiting, the rest refused.

    The work runs on a dedicated pool of `concurrency` threads, so the bound holds even when a
    client disconnects mid-check (its thread finishes the hash; its slot is freed only then),
    and the hash memory stays in that many malloc arenas instead of one per pool thread.
    """

    def __init__(self, *, concurrency: int, queue: int) -> None:
        self.concurrency = concurrency
        self.capacity = concurrency + queue
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="argon2")
        self._admitted = 0
        self._lock = threading.Lock()
        self.refused = 0

    @property
    def admitted(self) -> int:
        return self._admitted

    def _release(self, _future: object) -> None:
        with self._lock:
            self._admitted -= 1

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        with self._lock:
            if self._admitted >= self.capacity:
                self.refused += 1
                raise VerifierBusy()
            self._admitted += 1
        try:
            future = self._pool.submit(fn, *args)
        except BaseException:
            self._release(None)
            raise
        future.add_done_callback(self._release)
        # shield: a cancelled request stops waiting, the hash (and its slot) runs to the end.
        return await asyncio.shield(asyncio.wrap_future(future))

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        return await self.run(verify, stored_hash, password)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
