"""Single flight: a cold key is loaded once, in a process and across instances."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
import redis
from redis.crc import key_slot

from shared.cache import CacheKey
from tests.shared.cache.support import SLACK_S, MakeCache, Source, eventually, get, stored_names

pytestmark = pytest.mark.anyio


async def test_two_hundred_callers_on_a_cold_key_load_it_once(make_cache: MakeCache) -> None:
    """However many requests wait on a cold key, the source is called once."""
    cache = make_cache()
    source = Source()
    source.hold()
    key = CacheKey.shared("product", "p1")

    callers = [asyncio.create_task(get(cache, key, source)) for _ in range(200)]
    await eventually(lambda: source.calls == 1)
    await asyncio.sleep(0.1)  # every caller is waiting now
    source.released.set()
    results = await asyncio.gather(*callers)

    assert source.calls == 1
    assert {r.value for r in results} == {"v1"}
    assert {r.status for r in results} == {"miss"}


async def test_two_instances_load_a_cold_key_once_between_them(make_cache: MakeCache) -> None:
    """Two instances (own clients, own level 1) share one load through the Redis lock: the
    other instance waits for the value instead of calling the source too."""
    first, second = make_cache(lock_wait_s=SLACK_S), make_cache(lock_wait_s=SLACK_S)
    source = Source()
    source.hold()
    key = CacheKey.shared("product", "p1")

    callers = [
        asyncio.create_task(get(cache, key, source))
        for _ in range(100)
        for cache in (first, second)
    ]
    await eventually(lambda: source.calls == 1)
    await asyncio.sleep(0.2)  # the instance without the lock is polling for the value
    source.released.set()
    results = await asyncio.gather(*callers)

    assert source.calls == 1
    assert len(results) == 200
    assert {r.value for r in results} == {"v1"}


async def test_lock_and_value_share_a_cluster_slot(
    make_cache: MakeCache, raw_redis: redis.Redis
) -> None:
    """The lock taken during a load sits in the same hash slot as the value it guards."""
    cache = make_cache()
    source = Source()
    source.hold()
    loading = asyncio.create_task(get(cache, CacheKey.shared("product", "p1"), source))
    await eventually(lambda: source.calls == 1)
    lock_keys = stored_names(raw_redis)
    source.released.set()
    await loading
    await cache.writes_done()  # the value is written behind the answer
    value_keys = set(stored_names(raw_redis)) - set(lock_keys)

    assert len(lock_keys) == 1
    assert len(value_keys) == 1
    assert key_slot(lock_keys[0]) == key_slot(value_keys.pop())


async def test_a_lock_holder_that_vanished_delays_others_only_briefly(
    make_cache: MakeCache,
) -> None:
    """If the instance holding the lock never stores the value (it hangs or died), the
    others load by themselves once the lock expires, and so the request still answers."""
    stuck = make_cache(lock_ttl_ms=300)
    waiting = make_cache(lock_wait_s=SLACK_S)
    hung, healthy = Source("never"), Source("v1")
    hung.hold()
    key = CacheKey.shared("product", "p1")
    hanging = asyncio.create_task(get(stuck, key, hung))
    await eventually(lambda: hung.calls == 1)

    result = await get(waiting, key, healthy)

    assert (result.value, result.status, healthy.calls) == ("v1", "miss", 1)
    hanging.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await hanging


async def test_waiting_for_another_instance_is_bounded(make_cache: MakeCache) -> None:
    """A slow lock holder costs the others at most lock_wait_s, then they load themselves."""
    slow_instance = make_cache(lock_ttl_ms=10_000)
    impatient = make_cache(lock_wait_s=0.3)
    slow, fast = Source("slow"), Source("fast")
    slow.hold()
    key = CacheKey.shared("product", "p1")
    slow_load = asyncio.create_task(get(slow_instance, key, slow))
    await eventually(lambda: slow.calls == 1)

    result = await get(impatient, key, fast)

    assert (result.value, fast.calls) == ("fast", 1)
    slow.released.set()
    await slow_load
