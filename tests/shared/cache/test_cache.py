"""The cache against a real Redis: loads, freshness, stale answers, remembered errors."""

from __future__ import annotations

import asyncio

import pytest
import structlog

from shared.cache import CacheKey
from shared.platform.errors import CoreNotFound, CoreUnavailable
from tests.fixtures.clock import FakeClock
from tests.shared.cache.support import (
    SLACK_S,
    TTL,
    MakeCache,
    Product,
    Source,
    eventually,
    get,
    wait_for_value,
)

pytestmark = pytest.mark.anyio


async def test_a_miss_loads_and_stores_then_hits(make_cache: MakeCache) -> None:
    """The first read loads and stores the value; later reads, here or on another instance,
    hit without calling the source, and get the value back in its own type. The Redis write
    goes on behind the first answer (``writes_done`` waits for it)."""
    first, second = make_cache(), make_cache()
    source = Source(Product("p1", "Lamp"))
    key = CacheKey.shared("product", "p1")

    loaded = await get(first, key, source, type=Product)
    again = await get(first, key, source, type=Product)
    await first.writes_done()
    elsewhere = await get(second, key, source, type=Product)

    assert (loaded.status, again.status, elsewhere.status) == ("miss", "hit", "hit")
    assert loaded.value == again.value == elsewhere.value == Product("p1", "Lamp")
    assert isinstance(elsewhere.value, Product)
    assert source.calls == 1
    assert not loaded.degraded


async def test_a_stale_value_is_served_at_once_and_refreshed_once(
    make_cache: MakeCache, clock: FakeClock
) -> None:
    """Past its ttl a value is still served, without waiting, while one background load (for
    all instances) refreshes it; then the new value is served."""
    first, second = make_cache(lock_wait_s=SLACK_S), make_cache(lock_wait_s=SLACK_S)
    source = Source("v1")
    key = CacheKey.shared("product", "p1")
    await get(first, key, source)
    await get(second, key, source)
    clock.advance(TTL + 1)

    source.value = "v2"
    source.hold()  # the refresh cannot finish while the stale answers are given
    results = await asyncio.gather(
        *(get(c, key, source) for _ in range(25) for c in (first, second))
    )

    assert {(r.value, r.status) for r in results} == {("v1", "stale")}
    await eventually(lambda: source.calls == 2)
    source.released.set()
    for cache in (first, second):
        result = await wait_for_value(cache, key, source, "v2")
        assert result.status == "hit"
    assert source.calls == 2  # one refresh for 50 stale reads on two instances


async def test_a_stale_value_is_served_while_the_source_fails(
    make_cache: MakeCache, clock: FakeClock
) -> None:
    """When the refresh fails, the stale value keeps being served, marked "stale_error",
    without asking the failing source again per request; past its stale window the error
    reaches the caller."""
    cache = make_cache()
    source = Source("v1")
    key = CacheKey.shared("product", "p1")
    await get(cache, key, source, stale_ttl=30)
    clock.advance(TTL + 1)
    source.error = CoreUnavailable("catalog")

    with structlog.testing.capture_logs() as logs:
        first = await get(cache, key, source, stale_ttl=30)
        await eventually(lambda: source.calls == 2)
        await asyncio.sleep(0.05)  # the failed refresh is noted
        second = await get(cache, key, source, stale_ttl=30)

    assert (first.value, first.status) == ("v1", "stale")
    assert (second.value, second.status) == ("v1", "stale_error")
    assert source.calls == 2
    assert [e["event"] for e in logs] == ["cache_serving_stale_on_error"]

    clock.advance(30)
    with pytest.raises(CoreUnavailable):
        await get(cache, key, source, stale_ttl=30)


async def test_a_not_found_answer_is_remembered(make_cache: MakeCache, clock: FakeClock) -> None:
    """A listed "not found" error is cached for negative_ttl: later reads, on any instance,
    raise the same error (same class and attributes) without calling the source."""
    first, second = make_cache(negative_exceptions=(CoreNotFound,)), make_cache()
    source = Source()
    source.error = CoreNotFound("catalog", "no product p404")
    key = CacheKey.shared("product", "p404")
    options = {"negative_ttl": 30, "negative_exceptions": (CoreNotFound,)}

    with pytest.raises(CoreNotFound):
        await get(first, key, source, negative_ttl=30)
    with pytest.raises(CoreNotFound) as here:
        await get(first, key, source, negative_ttl=30)
    with pytest.raises(CoreNotFound) as elsewhere:
        await get(second, key, source, **options)

    assert source.calls == 1
    for error in (here.value, elsewhere.value):
        assert (error.service, error.detail, error.status) == ("catalog", "no product p404", 404)
    assert first.stats.negative_hits == 1

    clock.advance(31)
    source.error = None
    result = await get(second, key, source, **options)
    assert (result.value, result.status) == ("v1", "miss")
    assert source.calls == 2


async def test_errors_that_are_not_listed_are_not_remembered(make_cache: MakeCache) -> None:
    cache = make_cache(negative_exceptions=(CoreNotFound,))
    source = Source()
    source.error = CoreUnavailable("catalog")
    key = CacheKey.shared("product", "p1")
    for _ in range(2):
        with pytest.raises(CoreUnavailable):
            await get(cache, key, source)
    assert source.calls == 2


async def test_invalidating_a_shared_key(make_cache: MakeCache, clock: FakeClock) -> None:
    """invalidate() drops the entry at once on this instance; another instance's level 1
    may serve it for at most local_ttl."""
    first, second = make_cache(local_ttl=1.0), make_cache(local_ttl=1.0)
    source = Source("v1")
    key = CacheKey.shared("product", "p1")
    await get(first, key, source)
    assert (await get(second, key, source)).status == "hit"

    await first.invalidate(key)
    source.value = "v2"

    assert (await get(first, key, source)).value == "v2"
    assert (await get(second, key, source)).value == "v1"  # its level 1, within local_ttl
    clock.advance(1.0)
    assert (await get(second, key, source)).value == "v2"


async def test_without_redis_the_process_memory_is_the_cache(
    make_cache: MakeCache, clock: FakeClock
) -> None:
    """The one-process mode keeps every rule: single flight, staleness, negative answers and
    invalidation of a user's kinds."""
    cache = make_cache(url=None, negative_exceptions=(CoreNotFound,))
    source = Source("v1")
    source.hold()
    key = cache.user_key("alice", "orders", "cursor-1")

    callers = [asyncio.create_task(get(cache, key, source)) for _ in range(50)]
    await eventually(lambda: source.calls == 1)
    source.released.set()
    assert {r.status for r in await asyncio.gather(*callers)} == {"miss"}
    assert (await get(cache, key, source)).status == "hit"

    clock.advance(TTL + 1)
    source.value = "v2"
    assert (await get(cache, key, source)).status == "stale"
    assert (await wait_for_value(cache, key, source, "v2")).status == "hit"

    await cache.invalidate_user_kinds("alice", "orders")
    assert (await get(cache, key, source)).status == "miss"

    missing = Source()
    missing.error = CoreNotFound("orders")
    for _ in range(2):
        with pytest.raises(CoreNotFound):
            await get(cache, cache.user_key("alice", "order", "o404"), missing)
    assert missing.calls == 1
    assert not (await get(cache, key, source)).degraded


async def test_raw_string_keys_are_refused(make_cache: MakeCache) -> None:
    cache = make_cache(url=None)
    with pytest.raises(TypeError):
        await cache.get_or_load("orders", Source().load, ttl=1, stale_ttl=1, type=str)  # type: ignore[arg-type]
