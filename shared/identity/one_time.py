"""One-time values and replay markers: what a login in progress and a one-time code need.

* ``put`` / ``take``: a value kept sealed for at most its lifetime, taken once (an atomic
  GETDEL in Redis): a second take, or one after the lifetime, gets nothing. The lifetime is
  sealed with the value and checked against the clock, so an injected clock ends it too.
  ``peek`` reads it within its lifetime without taking it (a pair kept for a reuse window).
* ``remember_once``: a marker that says a value (a login ``state``, a logout token's ``jti``)
  was seen, so its replay is refused.

Keys are keyed hashes of the caller's key (:mod:`shared.platform.keys`, purpose ``one-time``),
so key names reveal nothing; whoever knows a key can take its value, so a key that *is* the
secret (a one-time code) must be unguessable.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import msgspec

from shared.identity.session_codec import text
from shared.platform.clock import Clock
from shared.platform.crypto import DecryptionError, TokenCipher
from shared.platform.keys import KeyedHasher
from shared.platform.redis import RedisClient

_ONE_TIME_AD = b"bff one-time value\x00"


class _Sealed(msgspec.Struct, array_like=True, frozen=True):
    expires_at: float
    value: bytes


class OneTimeStore(ABC):
    """Values taken once, and markers seen once."""

    def __init__(self, cipher: TokenCipher, clock: Clock) -> None:
        self._cipher = cipher
        self.clock = clock

    @abstractmethod
    async def put(self, key: str, value: bytes, ttl: float) -> None:
        """Keep ``value`` (sealed) for at most ``ttl`` seconds, for one :meth:`take`."""

    @abstractmethod
    async def take(self, key: str) -> bytes | None:
        """Return the value and delete it atomically: a second take gets None."""

    @abstractmethod
    async def peek(self, key: str) -> bytes | None:
        """The value of a :meth:`put` within its lifetime, left in place for others."""

    @abstractmethod
    async def remember_once(self, key: str, ttl: float) -> bool:
        """True the first time ``key`` is seen within ``ttl`` seconds, False on a replay."""

    @abstractmethod
    async def seen(self, key: str) -> bool:
        """Whether ``key`` is remembered now; reads only, so it leaves nothing behind."""

    def _seal(self, key: str, value: bytes, ttl: float) -> bytes:
        sealed = _Sealed(self.clock.time() + ttl, value)
        plain = msgspec.msgpack.encode(sealed)
        return self._cipher.encrypt(plain, _ONE_TIME_AD + key.encode()).encode()

    def _open(self, key: str, sealed: bytes | str) -> bytes | None:
        try:
            plain = self._cipher.decrypt(text(sealed), _ONE_TIME_AD + key.encode())
            entry = msgspec.msgpack.decode(plain, type=_Sealed)
        except (DecryptionError, UnicodeError, msgspec.DecodeError):
            return None
        return entry.value if entry.expires_at > self.clock.time() else None


class RedisOneTimeStore(OneTimeStore):
    def __init__(
        self,
        redis: RedisClient,
        cipher: TokenCipher,
        keys: KeyedHasher,
        clock: Clock,
        *,
        prefix: str = "bff:sess",
    ) -> None:
        super().__init__(cipher, clock)
        self._redis = redis
        self._keys = keys
        self._prefix = prefix

    async def put(self, key: str, value: bytes, ttl: float) -> None:
        await self._redis.set(self._name("once", key), self._seal(key, value, ttl), px=_ms(ttl))

    async def take(self, key: str) -> bytes | None:
        sealed = await self._redis.getdel(self._name("once", key))
        return None if sealed is None else self._open(key, sealed)

    async def peek(self, key: str) -> bytes | None:
        sealed = await self._redis.get(self._name("once", key))
        return None if sealed is None else self._open(key, sealed)

    async def remember_once(self, key: str, ttl: float) -> bool:
        return bool(await self._redis.set(self._name("seen", key), b"1", nx=True, px=_ms(ttl)))

    async def seen(self, key: str) -> bool:
        return bool(await self._redis.exists(self._name("seen", key)))

    def _name(self, kind: str, key: str) -> str:
        return f"{self._prefix}:{kind}:{self._keys.hex('one-time', key)}"


class MemoryOneTimeStore(OneTimeStore):
    """In this process; values are swept once they are past their lifetime."""

    def __init__(self, cipher: TokenCipher, clock: Clock) -> None:
        super().__init__(cipher, clock)
        self._values: dict[str, tuple[bytes, float]] = {}  # key -> (sealed, expiry)
        self._seen: dict[str, float] = {}  # key -> expiry
        self._next_sweep = 0.0

    async def put(self, key: str, value: bytes, ttl: float) -> None:
        self._sweep()
        self._values[key] = (self._seal(key, value, ttl), self.clock.time() + ttl)

    async def take(self, key: str) -> bytes | None:
        item = self._values.pop(key, None)
        return None if item is None else self._open(key, item[0])

    async def peek(self, key: str) -> bytes | None:
        item = self._values.get(key)
        return None if item is None else self._open(key, item[0])

    async def remember_once(self, key: str, ttl: float) -> bool:
        self._sweep()
        now = self.clock.time()
        if self._seen.get(key, 0.0) > now:
            return False
        self._seen[key] = now + ttl
        return True

    async def seen(self, key: str) -> bool:
        return self._seen.get(key, 0.0) > self.clock.time()

    def _sweep(self) -> None:
        now = self.clock.time()
        if now < self._next_sweep:
            return
        self._next_sweep = now + 60.0
        self._values = {k: v for k, v in self._values.items() if v[1] > now}
        self._seen = {k: t for k, t in self._seen.items() if t > now}


def _ms(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))
