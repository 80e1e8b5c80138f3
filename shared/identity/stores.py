"""The identity layer's three stores, by job, built for Redis or for one process.

* sessions (:mod:`shared.identity.session_store`): who is logged in, by id, user and IdP sid;
* one-time values (:mod:`shared.identity.one_time`): logins in progress, one-time codes, replay
  markers;
* the token index (:mod:`shared.identity.token_index`): the mobile gateway's bearer tokens.

Each is replaceable on its own; ``build_stores`` picks Redis when it is configured.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.identity.one_time import MemoryOneTimeStore, OneTimeStore, RedisOneTimeStore
from shared.identity.session_codec import SessionCodec
from shared.identity.session_store import SessionStore
from shared.identity.session_store_memory import MemorySessionStore
from shared.identity.session_store_redis import RedisSessionStore
from shared.identity.token_index import MemoryTokenIndex, RedisTokenIndex, TokenIndex
from shared.platform.clock import Clock
from shared.platform.crypto import TokenCipher
from shared.platform.keys import KeyedHasher
from shared.platform.redis import RedisClient


@dataclass(frozen=True, slots=True)
class IdentityStores:
    sessions: SessionStore
    one_time: OneTimeStore
    tokens: TokenIndex


def build_stores(
    redis: RedisClient | None, cipher: TokenCipher, keys: KeyedHasher, clock: Clock
) -> IdentityStores:
    codec = SessionCodec(cipher)
    if redis is None:
        return IdentityStores(
            sessions=MemorySessionStore(codec, clock),
            one_time=MemoryOneTimeStore(cipher, clock),
            tokens=MemoryTokenIndex(cipher, clock),
        )
    return IdentityStores(
        sessions=RedisSessionStore(redis, codec, keys, clock),
        one_time=RedisOneTimeStore(redis, cipher, keys, clock),
        # Access entries are remembered: MobileTokenHandler checks every access token against
        # the session record (read from Redis each time), which refuses one rotated or expired.
        tokens=RedisTokenIndex(redis, cipher, clock, remembered=frozenset({"access"})),
    )
