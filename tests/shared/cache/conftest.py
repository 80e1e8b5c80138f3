"""Caches for the tests: each with its own Redis client and level 1 (like separate processes),
all on one fake clock and one keyed hasher, as the instances of one deployment are."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import redis

from shared.cache import Cache
from shared.platform.keys import KeyedHasher
from shared.platform.redis import RedisClient, create_redis_client
from tests.fixtures.clock import FakeClock
from tests.shared.cache.support import SECRET, MakeCache, RedisProcess


@pytest.fixture
async def make_cache(redis_url: str, clock: FakeClock) -> AsyncIterator[MakeCache]:
    made: list[tuple[Cache, RedisClient | None]] = []
    hasher = KeyedHasher(SECRET)

    def make(*, url: str | None = redis_url, **options: Any) -> Cache:
        client = create_redis_client(url) if url is not None else None
        cache = Cache(client, **{"hasher": hasher, "clock": clock, **options})
        made.append((cache, client))
        return cache

    yield make
    for cache, client in made:
        await cache.aclose()
        if client is not None:
            await client.aclose()


@pytest.fixture
def raw_redis(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def own_redis() -> Iterator[RedisProcess]:
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not on PATH", pytrace=False)
    server = RedisProcess()
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.workdir, ignore_errors=True)
