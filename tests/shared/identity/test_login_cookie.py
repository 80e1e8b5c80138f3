"""The sealed login cookie: bounded in bytes, oldest dropped, anything foreign read as empty."""

from __future__ import annotations

from shared.identity.login import LoginAttempt
from shared.identity.login_cookie import (
    LOGIN_COOKIE_MAX_BYTES,
    MAX_PENDING_LOGINS,
    PendingLogin,
    PendingLoginCookie,
    find_pending,
)
from shared.platform.crypto import TokenCipher
from tests.fixtures.clock import FakeClock
from tests.fixtures.gateways import TEST_SECRET_KEY


class Pending(PendingLogin, frozen=True):
    note: str = ""


def _codec(clock: FakeClock, purpose: bytes = b"test login cookie") -> PendingLoginCookie[Pending]:
    return PendingLoginCookie(TokenCipher(TEST_SECRET_KEY), clock, Pending, purpose)


def _entry(clock: FakeClock, state: str, note: str = "") -> Pending:
    attempt = LoginAttempt(state=state, nonce="n" * 43, code_verifier="v" * 64)
    return Pending(attempt=attempt, expires_at=clock.time() + 600, note=note)


def test_the_oldest_entries_are_dropped_until_the_newest_fit() -> None:
    clock = FakeClock()
    codec = _codec(clock)
    bulky = [_entry(clock, f"state-{i}", note="x" * 900) for i in range(MAX_PENDING_LOGINS)]
    sealed = codec.seal(bulky)
    assert len(sealed) <= LOGIN_COOKIE_MAX_BYTES
    kept = codec.read(sealed)
    assert 1 <= len(kept) < MAX_PENDING_LOGINS
    assert kept == bulky[-len(kept) :]
    small = [_entry(clock, f"s{i}") for i in range(MAX_PENDING_LOGINS + 2)]
    assert codec.read(codec.seal(small)) == small[-MAX_PENDING_LOGINS:]


def test_a_planted_oversized_foreign_or_expired_cookie_reads_as_empty() -> None:
    clock = FakeClock()
    codec = _codec(clock)
    sealed = codec.seal([_entry(clock, "mine")])
    assert find_pending(codec.read(sealed), "mine") is not None
    assert codec.read("x" * (LOGIN_COOKIE_MAX_BYTES + 1)) == []
    assert codec.read(sealed[:-2] + "AA") == []
    assert _codec(clock, b"the other gateway").read(sealed) == []
    assert codec.read("") == []
    assert codec.read(None) == []
    clock.advance(601)
    assert codec.read(sealed) == []
    assert codec.seal([]) == ""
