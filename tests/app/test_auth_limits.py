"""Login under attack: password checks bounded in number, limits before hashing, argon2 choice,
one client address for the limiter, the metrics and the access log."""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from argon2.exceptions import VerifyMismatchError

from app.auth import passwords
from app.auth.clientaddr import INVALID, ProxyPolicy, limit_key, normalise, resolve
from app.settings import SettingsError
from tests.app.authsupport import PASSWORD, client_for, login_token, make_settings, post_login


class CountingVerify:
    """Wraps argon2's real verify: counts calls and the most that ran at once; can hold them."""

    def __init__(self, hold: bool = False) -> None:
        self.original = PasswordHasher.verify
        self.lock = threading.Lock()
        self.running = 0
        self.peak = 0
        self.calls = 0
        self.release = threading.Event()
        if not hold:
            self.release.set()

    def install(self, monkeypatch: pytest.MonkeyPatch) -> CountingVerify:
        def verify(hasher: PasswordHasher, hashed: Any, password: Any) -> bool:
            return self(hasher, hashed, password)

        monkeypatch.setattr(PasswordHasher, "verify", verify)
        return self

    def __call__(self, hasher: PasswordHasher, hashed: Any, password: Any) -> bool:
        with self.lock:
            self.calls += 1
            self.running += 1
            self.peak = max(self.peak, self.running)
        try:
            self.release.wait(10)
            return self.original(hasher, hashed, password)
        finally:
            with self.lock:
                self.running -= 1


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> CountingVerify:
    return CountingVerify(hold=True).install(monkeypatch)


def test_concurrent_wrong_logins_run_a_bounded_number_of_hashes(
    tmp_path: Path, counting: CountingVerify
) -> None:
    settings = make_settings(
        tmp_path,
        login_attempts_per_client=100,
        login_attempts_global=100,
        login_hash_concurrency=2,
        login_hash_queue=1,
    )
    attempts = 8
    results: list[Any] = []
    with client_for(settings) as c:
        token = login_token(c)

        def attempt() -> None:
            r = c.post(
                "/login",
                data={"password": "wrong-password", "csrf_token": token},
                follow_redirects=False,
            )
            results.append(r)

        threads = [threading.Thread(target=attempt) for _ in range(attempts)]
        for t in threads:
            t.start()
        # The excess is refused while the admitted checks are still held inside argon2.
        deadline = time.monotonic() + 10
        while len(results) < attempts - 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        refused_while_busy = len(results)
        counting.release.set()
        for t in threads:
            t.join(20)
    statuses = Counter(r.status_code for r in results)
    assert counting.peak <= 2, f"{counting.peak} argon2 verifications ran at once"
    assert refused_while_busy == attempts - 3
    assert statuses == {401: 3, 503: attempts - 3}, statuses
    for r in results:
        if r.status_code == 503:
            assert int(r.headers["retry-after"]) >= 1
            assert "Too many logins are being checked" in r.text
    assert counting.calls == 3


def test_refused_attempts_cost_no_hash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    counter = CountingVerify().install(monkeypatch)
    settings = make_settings(tmp_path, login_attempts_per_client=2, login_window_seconds=60)
    with client_for(settings) as c:
        codes = [post_login(c, "wrong-password").status_code for _ in range(5)]
    assert codes == [401, 401, 429, 429, 429]
    assert counter.calls == 2


def test_argon2_parameters_are_owasps_and_old_hashes_still_verify() -> None:
    made = passwords.hash_password("correct horse battery")
    assert made.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert not passwords.needs_rehash(made)
    # A hash stored with argon2-cffi's old defaults (m=64 MiB, t=3, p=4) keeps working and is
    # flagged for re-hashing.
    old = PasswordHasher(time_cost=3, memory_cost=65536, parallelism=4).hash("old password 123")
    assert passwords.verify(old, "old password 123")
    assert not passwords.verify(old, "another password")
    assert passwords.needs_rehash(old)


def test_the_verifier_frees_its_slot_only_when_the_hash_ends() -> None:
    import asyncio

    verifier = passwords.BoundedVerifier(concurrency=1, queue=0)
    gate = threading.Event()

    def slow() -> int:
        gate.wait(5)
        return 1

    async def scenario() -> tuple[bool, bool]:
        task = asyncio.create_task(verifier.run(slow))
        await asyncio.sleep(0.05)
        task.cancel()  # the client went away; the thread is still hashing
        await asyncio.sleep(0.05)
        try:
            await verifier.run(slow)
        except passwords.VerifierBusy:
            busy_while_running = True
        else:
            busy_while_running = False
        gate.set()
        for _ in range(100):
            if verifier.admitted == 0:
                break
            await asyncio.sleep(0.02)
        return busy_while_running, await verifier.run(lambda: True)

    try:
        assert asyncio.run(scenario()) == (True, True)
    finally:
        verifier.close()


# -- client addresses ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2001:DB8::1", "2001:db8::1"),
        ("2001:0db8:0000::0001", "2001:db8::1"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("::FFFF:c000:0201", "192.0.2.1"),
        (" 192.0.2.1:5555 ", "192.0.2.1"),
        ("fe80::1%eth0", "fe80::1"),
        ("not-an-address", INVALID),
        ("", INVALID),
    ],
)
def test_addresses_are_normalised(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


def test_ipv6_limits_group_a_64() -> None:
    assert limit_key("2001:db8:1:2::1") == limit_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert limit_key("2001:db8:1:3::1") != limit_key("2001:db8:1:2::1")
    assert limit_key("192.0.2.1") == "192.0.2.1"


def _scope(peer: str, forwarded: str | None = None) -> dict[str, Any]:
    headers = [] if forwarded is None else [(b"x-forwarded-for", forwarded.encode())]
    return {"type": "http", "client": (peer, 1234), "headers": headers}


def test_forwarding_headers_count_only_from_trusted_proxy_peers() -> None:
    policy = ProxyPolicy(hops=2, networks=(ipaddress.ip_network("10.0.0.0/16"),))
    via_alb = resolve(_scope("10.0.3.4", "6.6.6.6, 198.51.100.7, 130.176.0.1"), policy)
    assert (via_alb.address, via_alb.via_proxy) == ("198.51.100.7", True)
    direct = resolve(_scope("203.0.113.9", "198.51.100.7, 130.176.0.1"), policy)
    assert (direct.address, direct.via_proxy) == ("203.0.113.9", False)
    short = resolve(_scope("10.0.3.4", "198.51.100.7"), policy)
    assert (short.address, short.via_proxy) == ("10.0.3.4", False)
    none = resolve(_scope("127.0.0.1", "198.51.100.7"), ProxyPolicy())
    assert (none.address, none.via_proxy) == ("127.0.0.1", False)


def test_bad_forwarded_allow_ips_is_a_clear_error(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, trusted_proxy_hops=1, forwarded_allow_ips="10.0.0.0/33")
    with pytest.raises(SettingsError, match="CRAYON_FORWARDED_ALLOW_IPS"):
        client_for(settings)


def test_spellings_of_one_ipv6_address_share_one_limit(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path, login_attempts_per_client=3, trusted_proxy_hops=1, forwarded_allow_ips="*"
    )
    with client_for(settings) as c:
        codes = []
        for spelling in ("2001:db8::1", "2001:DB8::1", "2001:0db8::0001", "2001:db8::abcd"):
            c.headers["X-Forwarded-For"] = spelling
            codes.append(post_login(c, "wrong-password").status_code)
        assert codes == [401, 401, 401, 429]
        c.headers["X-Forwarded-For"] = "2001:db8:0:1::1"  # another /64: another client
        assert post_login(c, "wrong-password").status_code == 401


def test_ipv4_mapped_spelling_is_the_ipv4_client(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path, login_attempts_per_client=2, trusted_proxy_hops=1, forwarded_allow_ips="*"
    )
    with client_for(settings) as c:
        c.headers["X-Forwarded-For"] = "192.0.2.1"
        assert post_login(c, "wrong-password").status_code == 401
        c.headers["X-Forwarded-For"] = "::ffff:192.0.2.1"
        assert post_login(c, "wrong-password").status_code == 401
        c.headers["X-Forwarded-For"] = "::ffff:c000:201"
        assert post_login(c, "wrong-password").status_code == 429


def test_a_peer_outside_the_proxy_networks_is_the_client(tmp_path: Path) -> None:
    # TestClient's peer is not in 10.0.0.0/8: its X-Forwarded-For is the client's own words.
    settings = make_settings(
        tmp_path,
        login_attempts_per_client=2,
        trusted_proxy_hops=1,
        forwarded_allow_ips="10.0.0.0/8",
    )
    with client_for(settings) as c:
        for i in range(2):
            c.headers["X-Forwarded-For"] = f"198.51.100.{i}"
            assert post_login(c, "wrong-password").status_code == 401
        c.headers["X-Forwarded-For"] = "198.51.100.77"
        assert post_login(c, "wrong-password").status_code == 429


def test_the_access_log_names_the_client_the_limiter_counts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(tmp_path, trusted_proxy_hops=1, forwarded_allow_ips="*")
    with client_for(settings) as c, caplog.at_level(logging.INFO):
        c.headers["X-Forwarded-For"] = "6.6.6.6, 2001:DB8::0001"
        assert post_login(c, "wrong-password").status_code == 401
    access = [r for r in caplog.records if r.name == "crayon.access"]
    failed = [r for r in caplog.records if r.getMessage() == "login failed: wrong password"]
    assert access and failed
    assert {getattr(r, "client", None) for r in access} == {"2001:db8::1"}
    assert failed[0].client == "2001:db8::1"  # type: ignore[attr-defined]


def test_login_with_the_right_password_still_works_after_refusals(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, login_hash_concurrency=1, login_hash_queue=0)
    with client_for(settings) as c:
        assert post_login(c, PASSWORD).status_code == 303


def test_verify_mismatch_is_not_an_error() -> None:
    stored = passwords.hash_password("right one here")
    assert passwords.verify(stored, "wrong one here") is False
    with pytest.raises(VerifyMismatchError):
        PasswordHasher().verify(stored, "wrong one here")
