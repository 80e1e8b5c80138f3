"""Bearer tokens the gateway hands out, pointing at their session: what the mobile gateway needs.

A copy of the store must not yield a bearer token: an entry is named by the token's keyed hash
(:mod:`shared.platform.keys`, purpose ``token``), never the token, and the session id it points
at is sealed, bound to the entry's kind and hash. ``kind`` (``access``, ``refresh``…) keeps one
kind of token from being accepted as another. Lookups try the hashes under the current and the
previous secret (the caller passes each candidate), so a key rotation logs nobody out.
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod

from shared.cache.local import Lru
from shared.identity.session_codec import text
from shared.platform.clock import Clock
from shared.platform.crypto import DecryptionError, TokenCipher
from shared.platform.keys import KeyedHasher
from shared.platform.logging import get_logger
from shared.platform.redis import RedisClient

_TOKEN_INDEX_AD = b"bff token index\x00"
_TOKEN_KIND = re.compile(r"[a-z][a-z0-9-]{0,31}")
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")
# What new_opaque_id() makes is 43 characters; a little room either way, nothing else.
OPAQUE_FORMAT = re.compile(r"[A-Za-z0-9_-]{32,128}")
REMEMBERED_ENTRIES = 10_000
"""Access tokens whose entry one instance keeps (about 200 bytes each)."""

_logger = get_logger("bff.sessions")


class TokenIndex(ABC):
    """Token hash -> session id, for a limited time."""

    def __init__(self, cipher: TokenCipher, clock: Clock) -> None:
        self._cipher = cipher
        self.clock = clock

    @abstractmethod
    async def add(self, kind: str, token_hash: str, session_id: str, ttl: float) -> None:
        """Point a bearer token at its session for ``ttl`` seconds; ``ValueError`` if the entry
        exists."""

    @abstractmethod
    async def lookup(self, kind: str, token_hash: str) -> str | None:
        """The session id a live entry points at, or None (missing, expired, bad data)."""

    @abstractmethod
    async def drop(self, kind: str, token_hash: str) -> bool:
        """Remove an entry; True for exactly one caller if several race (atomic delete)."""

    def _seal(self, kind: str, token_hash: str, session_id: str, ttl: float) -> bytes:
        check_entry_name(kind, token_hash)
        if ttl <= 0:
            raise ValueError("a token index entry needs a positive TTL")
        return self._cipher.encrypt(session_id.encode(), _entry_ad(kind, token_hash)).encode()

    def _open(self, kind: str, token_hash: str, sealed: bytes | str) -> str | None:
        try:
            return self._cipher.decrypt(text(sealed), _entry_ad(kind, token_hash)).decode()
        except (DecryptionError, UnicodeError):
            _logger.warning("token_index_entry_discarded")
            return None


class RedisTokenIndex(TokenIndex):
    """``<prefix>:tok:<kind>:<hash>`` STRING: the sealed session id, with the entry's TTL.

    Entries of the ``remembered`` kinds are kept in this process once read (sealed, as Redis
    holds them, in a bounded LRU), so a request presenting the same access token again costs no
    round trip for it. A remembered entry can outlive its Redis entry (expired, or dropped by
    another instance when the pair rotated): that is safe only for kinds whose every lookup is
    followed by a check against the session record, read from Redis on every request, which
    refuses such a token (``MobileTokenHandler``: the family's current access hash and expiry;
    an ended session has no record). The refresh kind is not remembered: its lookups decide
    rotation and reuse.
    """

    def __init__(
        self,
        redis: RedisClient,
        cipher: TokenCipher,
        clock: Clock,
        *,
        prefix: str = "bff:sess",
        remembered: frozenset[str] = frozenset(),
    ) -> None:
        super().__init__(cipher, clock)
        self._redis = redis
        self._prefix = prefix
        self._remembered_kinds = remembered
        self._remembered: Lru[bytes | str] = Lru(REMEMBERED_ENTRIES)

    async def add(self, kind: str, token_hash: str, session_id: str, ttl: float) -> None:
        sealed = self._seal(kind, token_hash, session_id, ttl)
        if not await self._redis.set(self._key(kind, token_hash), sealed, nx=True, px=_ms(ttl)):
            raise ValueError("this token is already indexed")

    async def lookup(self, kind: str, token_hash: str) -> str | None:
        check_entry_name(kind, token_hash)
        key = self._key(kind, token_hash)
        remember = kind in self._remembered_kinds
        sealed = self._remembered.get(key) if remember else None
        if sealed is None:
            sealed = await self._redis.get(key)
            if sealed is None:
                return None
        session_id = self._open(kind, token_hash, sealed)
        if session_id is None:
            self._remembered.pop(key)
            await self._redis.delete(key)
        elif remember:
            self._remembered.put(key, sealed)
        return session_id

    async def drop(self, kind: str, token_hash: str) -> bool:
        check_entry_name(kind, token_hash)
        key = self._key(kind, token_hash)
        self._remembered.pop(key)
        return bool(await self._redis.delete(key))

    def _key(self, kind: str, token_hash: str) -> str:
        return f"{self._prefix}:tok:{kind}:{token_hash}"


class MemoryTokenIndex(TokenIndex):
    def __init__(self, cipher: TokenCipher, clock: Clock) -> None:
        super().__init__(cipher, clock)
        self._entries: dict[str, tuple[bytes, float]] = {}  # kind:hash -> (sealed, expiry)
        self._next_sweep = 0.0

    async def add(self, kind: str, token_hash: str, session_id: str, ttl: float) -> None:
        sealed = self._seal(kind, token_hash, session_id, ttl)
        now = self.clock.time()
        self._sweep(now)
        key = f"{kind}:{token_hash}"
        existing = self._entries.get(key)
        if existing is not None and existing[1] > now:
            raise ValueError("this token is already indexed")
        self._entries[key] = (sealed, now + ttl)

    async def lookup(self, kind: str, token_hash: str) -> str | None:
        check_entry_name(kind, token_hash)
        key = f"{kind}:{token_hash}"
        item = self._entries.get(key)
        if item is None:
            return None
        live = item[1] > self.clock.time()
        session_id = self._open(kind, token_hash, item[0]) if live else None
        if session_id is None:
            del self._entries[key]
        return session_id

    async def drop(self, kind: str, token_hash: str) -> bool:
        check_entry_name(kind, token_hash)
        item = self._entries.pop(f"{kind}:{token_hash}", None)
        return item is not None and item[1] > self.clock.time()

    def _sweep(self, now: float) -> None:
        if now < self._next_sweep:
            return
        self._next_sweep = now + 60.0
        self._entries = {k: v for k, v in self._entries.items() if v[1] > now}


def check_entry_name(kind: str, token_hash: str) -> None:
    """Only well-formed names reach a key: a raw token passed by mistake is refused."""
    if not _TOKEN_KIND.fullmatch(kind):
        raise ValueError("a token kind is a short lower-case name such as 'access'")
    if not _HEX_DIGEST.fullmatch(token_hash):
        raise ValueError("index tokens by their keyed hash (purpose 'token'), never in clear")


def _entry_ad(kind: str, token_hash: str) -> bytes:
    return _TOKEN_INDEX_AD + kind.encode() + b"\x00" + token_hash.encode()


def _ms(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))


async def find_token(
    index: TokenIndex, keys: KeyedHasher, kind: str, token: str
) -> tuple[str, str] | None:
    """``(session id, matching hash)`` of a presented token, trying its hash under each secret
    (``keys``' candidates); None for anything not shaped like a token the gateway makes."""
    if not OPAQUE_FORMAT.fullmatch(token):
        return None
    for token_hash in keys.hex_candidates("token", token):
        session_id = await index.lookup(kind, token_hash)
        if session_id is not None:
            return session_id, token_hash
    return None
