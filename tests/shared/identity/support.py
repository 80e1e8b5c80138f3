"""What the identity store tests share: keys, records, and every store on both backends."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest
from redis.asyncio import Redis

from shared.identity.records import SessionKind, SessionRecord, TokenSet
from shared.identity.session_codec import SessionCodec
from shared.identity.session_store import SessionStore
from shared.identity.session_store_redis import RedisSessionStore
from shared.identity.stores import IdentityStores, build_stores
from shared.platform.clock import Clock
from shared.platform.crypto import TokenCipher
from shared.platform.keys import KeyedHasher
from shared.platform.redis import create_redis_client
from tests.fixtures.clock import FakeClock

OLD_KEY = "old-secret-key-0123456789-abcdefghijklmnop"
NEW_KEY = "new-secret-key-9876543210-zyxwvutsrqponmlk"
IDLE = 300.0
ABSOLUTE = 3600.0
ALICE = "alice@example.com"
BOB = "bob@example.com"
KEYS = KeyedHasher(OLD_KEY)


def token_set(n: int = 1) -> TokenSet:
    return TokenSet(
        access_token=f"ACCESS-TOKEN-{n}-do-not-store",
        refresh_token=f"REFRESH-TOKEN-{n}-do-not-store",
        id_token=f"ID-TOKEN-{n}",
        access_token_expires_at=2_000_000_000.0 + n,
    )


def new_record(
    store: SessionStore,
    sub: str = ALICE,
    *,
    idp_sid: str | None = "idp-sid-1",
    kind: SessionKind = "web",
    idle: float = IDLE,
    absolute: float = ABSOLUTE,
    n: int = 1,
) -> SessionRecord:
    return store.codec.new_record(
        kind=kind,
        sub=sub,
        tokens=token_set(n),
        claims={"name": "Alice", "email": sub},
        idle_timeout=idle,
        absolute_timeout=absolute,
        now=store.clock.time(),
        idp_sid=idp_sid,
        user_agent="pytest",
        extra={"family": "f-1"},
    )


def rotate_keys(store: SessionStore, current: str, previous: str | None = None) -> None:
    """What a restart with other secrets does to a store: new cipher and hashing keys."""
    store.codec = SessionCodec(TokenCipher(current, previous))
    if isinstance(store, RedisSessionStore):
        store._keys = KeyedHasher(current, previous)


@pytest.fixture(params=["memory", "redis"])
async def stores(request: pytest.FixtureRequest) -> AsyncIterator[IdentityStores]:
    """The three identity stores on one backend, reading a clock the test moves."""
    cipher, clock = TokenCipher(OLD_KEY), FakeClock()
    if request.param == "memory":
        yield build_stores(None, cipher, KEYS, clock)
        return
    client = create_redis_client(request.getfixturevalue("redis_url"))
    try:
        yield build_stores(client, cipher, KEYS, clock)
    finally:
        await client.aclose()


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def redis_stores(redis: Redis) -> IdentityStores:
    return build_stores(redis, TokenCipher(OLD_KEY), KEYS, FakeClock())


async def pass_time(clock: Clock, seconds: float) -> None:
    """Let ``seconds`` pass for both backends: the store's fake clock moves at once; Redis,
    which expires keys by its own clock, needs them to pass for real."""
    assert isinstance(clock, FakeClock)
    clock.advance(seconds)
    await anyio.sleep(seconds)


async def dump(redis: Redis) -> dict[bytes, bytes]:
    """Every key with its value(s) as one blob of bytes."""

    def b(value: bytes | str) -> bytes:
        return value.encode() if isinstance(value, str) else value

    found: dict[bytes, bytes] = {}
    async for key in redis.scan_iter():
        kind = await redis.type(key)
        if kind == b"hash":
            fields = await redis.hgetall(key)
            found[key] = b"|".join(b(k) + b"=" + b(v) for k, v in fields.items())
        elif kind == b"set":
            found[key] = b"|".join(b(m) for m in await redis.smembers(key))
        else:
            found[key] = b(await redis.get(key) or b"")
    return found
