"""When Redis fails the cache passes through to the loaders, backs off, and comes back."""

from __future__ import annotations

import asyncio

import pytest
import structlog

from shared.cache import CacheKey
from tests.fixtures.clock import FakeClock
from tests.fixtures.servers import free_port
from tests.shared.cache.support import MakeCache, RedisProcess, Source, eventually, get

pytestmark = pytest.mark.anyio


async def test_requests_pass_through_when_redis_is_down(make_cache: MakeCache) -> None:
    """With Redis unreachable, loads still work (once per key in the process), the result
    says "degraded", and the outage is logged once and counted."""
    cache = make_cache(url=f"redis://127.0.0.1:{free_port()}/0")
    source = Source()
    source.hold()
    key = cache.user_key("alice", "orders")

    with structlog.testing.capture_logs() as logs:
        callers = [asyncio.create_task(get(cache, key, source)) for _ in range(20)]
        await eventually(lambda: source.calls == 1)
        await asyncio.sleep(0.05)
        source.released.set()
        results = await asyncio.gather(*callers)
        again = await get(cache, key, source)

    assert source.calls == 2  # once for the 20 concurrent callers, once for the later one
    assert {(r.value, r.status, r.degraded) for r in [*results, again]} == {("v1", "miss", True)}
    assert [e["event"] for e in logs] == ["cache_redis_unavailable"]
    assert cache.stats.redis_failures >= 1


async def test_a_burst_larger_than_the_redis_pool_is_not_an_outage(
    make_cache: MakeCache,
) -> None:
    """More concurrent keys than the client has pooled connections: callers wait for a
    connection, and the cache neither backs off nor reports Redis as unavailable."""
    cache = make_cache()
    source = Source()
    source.hold()
    keys = [CacheKey.shared("product", n) for n in range(600)]  # the pool holds 512

    with structlog.testing.capture_logs() as logs:
        callers = [asyncio.create_task(get(cache, key, source)) for key in keys]
        await eventually(lambda: source.calls == len(keys))
        source.released.set()
        results = await asyncio.gather(*callers)
        later = await get(cache, keys[0], source)

    assert {(r.value, r.degraded) for r in results} == {("v1", False)}
    assert cache.stats.redis_failures == 0
    assert not [e for e in logs if e["event"] == "cache_redis_unavailable"]
    assert later.status == "hit"


async def test_the_cache_recovers_when_redis_comes_back(
    make_cache: MakeCache, own_redis: RedisProcess, clock: FakeClock
) -> None:
    """After an outage the cache uses Redis again (after its back-off) and says so once."""
    cache = make_cache(url=own_redis.url, redis_backoff_s=5.0)
    source = Source()
    key = cache.user_key("alice", "orders")
    assert (await get(cache, key, source)).status == "miss"
    await cache.writes_done()  # stored before the outage

    with structlog.testing.capture_logs() as logs:
        own_redis.stop()
        down = [await get(cache, key, source) for _ in range(3)]
        own_redis.start()
        backing_off = await get(cache, key, source)  # Redis is back, but not tried yet
        clock.advance(5.0)
        stored = await get(cache, key, source)  # the restarted Redis is empty
        cached = await get(cache, key, source)

    assert [(r.status, r.degraded) for r in down] == [("miss", True)] * 3
    assert (backing_off.status, backing_off.degraded) == ("miss", True)
    assert (stored.status, stored.degraded) == ("miss", False)
    assert (cached.status, cached.degraded) == ("hit", False)
    assert [e["event"] for e in logs] == ["cache_redis_unavailable", "cache_redis_recovered"]
    assert cache.stats.redis_failures == 1  # the back-off spared Redis the later lookups
