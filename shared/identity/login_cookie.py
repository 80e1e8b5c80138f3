"""Logins in progress, kept in the browser that started them: one sealed cookie, bounded in bytes.

Both gateways keep a pending login (the attempt's ``state``, ``nonce`` and PKCE verifier, and what
to do once it completes) in an HttpOnly cookie sealed with AES-GCM, never on the server: a caller
who starts logins by the thousand fills only its own cookie jar, and the cookie is what binds the
IdP's answer to the browser that asked for it.

A browser keeps at most 4,096 bytes per cookie and silently ignores a ``Set-Cookie`` that is
larger, so the cookie is bounded in bytes, not in entries alone:

* at most ``MAX_PENDING_LOGINS`` entries and ``LOGIN_COOKIE_MAX_BYTES`` of value; the oldest are
  dropped until the rest fit, and the newest is always kept, so a new login always gets in;
* a cookie that is larger than that, does not open (tampered, planted, sealed with a retired
  key) or holds only expired entries reads as empty: it can never block a new login.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

import msgspec

from shared.identity.login import LoginAttempt
from shared.platform.clock import Clock
from shared.platform.crypto import DecryptionError, TokenCipher

MAX_PENDING_LOGINS = 5
LOGIN_COOKIE_MAX_BYTES = 3_584
"""Of the sealed value; with the cookie's name it stays well under the browsers' 4,096."""


class PendingLogin(msgspec.Struct, frozen=True):
    """One login at the IdP, until its callback; each gateway adds what it needs afterwards."""

    attempt: LoginAttempt
    expires_at: float


EntryT = TypeVar("EntryT", bound=PendingLogin)


class PendingLoginCookie(Generic[EntryT]):
    """Reads and seals one gateway's login cookie; ``purpose`` keeps the gateways' apart."""

    def __init__(
        self, cipher: TokenCipher, clock: Clock, entry_type: type[EntryT], purpose: bytes
    ) -> None:
        self._cipher = cipher
        self._clock = clock
        self._list_type: Any = list[entry_type]  # type: ignore[valid-type]
        self._associated_data = purpose + b"\x00"

    def read(self, sealed: str | None) -> list[EntryT]:
        """The live entries, oldest first; anything oversized, foreign or expired is none."""
        if not sealed or len(sealed) > LOGIN_COOKIE_MAX_BYTES:
            return []
        try:
            plain = self._cipher.decrypt(sealed, self._associated_data)
            entries: list[EntryT] = msgspec.msgpack.decode(plain, type=self._list_type)
        except (DecryptionError, msgspec.DecodeError):
            return []
        now = self._clock.time()
        return [entry for entry in entries if entry.expires_at > now][-MAX_PENDING_LOGINS:]

    def seal(self, entries: Sequence[EntryT]) -> str:
        """The cookie value for ``entries`` (oldest first), "" for none: the oldest are dropped
        until the value fits ``LOGIN_COOKIE_MAX_BYTES``; the newest always stays."""
        kept = list(entries[-MAX_PENDING_LOGINS:])
        while kept:
            sealed = self._cipher.encrypt(msgspec.msgpack.encode(kept), self._associated_data)
            if len(sealed) <= LOGIN_COOKIE_MAX_BYTES or len(kept) == 1:
                return sealed
            kept = kept[1:]
        return ""


def find_pending(entries: Sequence[EntryT], state: str) -> EntryT | None:
    """The entry the IdP's ``state`` belongs to (compared in constant time)."""
    for entry in entries:
        if hmac.compare_digest(entry.attempt.state.encode(), state.encode()):
            return entry
    return None
