"""The two-level cache against a real Redis: freshness, single flight, isolation, outages."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import msgspec
import pytest
import redis
import structlog
from redis.crc import key_slot

from shared.cache.two_level import Cache, CacheKey, CacheResult
from shared.platform.errors import CoreNotFound, CoreUnavailable
from shared.platform.redis import RedisClient, create_redis_client
from tests.fixtures.servers import free_port

pytestmark = pytest.mark.anyio

TTL = 0.2  # short freshness so that tests can let entries go stale with a sleep
SLACK_S = 5.0  # generous bound for anything that waits on another task


class Product(msgspec.Struct, frozen=True):
    id: str
    name: str


class Source:
    """A stand-in core service: counts calls, can be held (so callers pile up) or fail."""

    def __init__(self, value: Any = "v1") -> None:
        self.value = value
        self.error: Exception | None = None
        self.calls = 0
        self.released = asyncio.Event()
        self.released.set()

    def hold(self) -> None:
        self.released.clear()

    async def load(self) -> Any:
        self.calls += 1
        await self.released.wait()
        if self.error is not None:
            raise self.error
        return self.value


async def eventually(condition: Callable[[], bool]) -> None:
    """Wait (bounded) until ``condition`` holds; behaviour, not speed, is under test."""
    async with asyncio.timeout(SLACK_S):
        while True:
            if condition():
                return
            await asyncio.sleep(0.01)


MakeCache = Callable[..., Cache]


@pytest.fixture
async def make_cache(redis_url: str) -> AsyncIterator[MakeCache]:
    """Cache instances, each with its own Redis client and level 1 (like separate processes)."""
    made: list[tuple[Cache, RedisClient | None]] = []

    def make(*, url: str | None = redis_url, **options: Any) -> Cache:
        client = create_redis_client(url) if url is not None else None
        cache = Cache(client, **options)
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


def stored_names(client: redis.Redis) -> list[bytes]:
    """Every key name in the test's Redis."""
    return [name if isinstance(name, bytes) else name.encode() for name in client.keys("*")]


async def get(cache: Cache, key: CacheKey, source: Source, **options: Any) -> CacheResult[Any]:
    options = {"ttl": TTL, "stale_ttl": 5.0, "type": Any, **options}
    return await cache.get_or_load(key, source.load, **options)


async def test_a_miss_loads_and_stores_then_hits(make_cache: MakeCache) -> None:
    """The first read loads and stores the value; later reads, here or on another instance,
    hit without calling the source, and get the value back in its own type."""
    first, second = make_cache(), make_cache()
    source = Source(Product("p1", "Lamp"))
    key = CacheKey.shared("product", "p1")

    loaded = await get(first, key, source, type=Product)
    again = await get(first, key, source, type=Product)
    elsewhere = await get(second, key, source, type=Product)

    assert (loaded.status, again.status, elsewhere.status) == ("miss", "hit", "hit")
    assert loaded.value == again.value == elsewhere.value == Product("p1", "Lamp")
    assert isinstance(elsewhere.value, Product)
    assert source.calls == 1
    assert not loaded.degraded


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
    value_keys = set(stored_names(raw_redis)) - set(lock_keys)

    assert len(lock_keys) == 1
    assert len(value_keys) == 1
    assert key_slot(lock_keys[0]) == key_slot(value_keys.pop())


async def test_a_stale_value_is_served_at_once_and_refreshed_once(
    make_cache: MakeCache,
) -> None:
    """Past its ttl a value is still served, without waiting, while one background load (for
    all instances) refreshes it; then the new value is served."""
    first, second = make_cache(lock_wait_s=SLACK_S), make_cache(lock_wait_s=SLACK_S)
    source = Source("v1")
    key = CacheKey.shared("product", "p1")
    await get(first, key, source)
    await get(second, key, source)
    await asyncio.sleep(TTL + 0.1)

    source.value = "v2"
    source.hold()  # the refresh cannot finish while the stale answers are given
    results = await asyncio.gather(
        *(get(c, key, source) for _ in range(25) for c in (first, second))
    )

    assert {(r.value, r.status) for r in results} == {("v1", "stale")}
    await eventually(lambda: source.calls == 2)
    source.released.set()
    for cache in (first, second):
        result = await _wait_for_value(cache, key, source, "v2")
        assert result.status == "hit"
    assert source.calls == 2  # one refresh for 50 stale reads on two instances


async def _wait_for_value(
    cache: Cache, key: CacheKey, source: Source, value: str
) -> CacheResult[Any]:
    async with asyncio.timeout(SLACK_S):
        while True:
            result = await get(cache, key, source)
            if result.value == value:
                return result
            await asyncio.sleep(0.02)


async def test_a_stale_value_is_served_while_the_source_fails(make_cache: MakeCache) -> None:
    """When the refresh fails, the stale value keeps being served, marked "stale_error",
    without asking the failing source again per request; past its stale window the error
    reaches the caller."""
    cache = make_cache()
    source = Source("v1")
    key = CacheKey.shared("product", "p1")
    await get(cache, key, source, stale_ttl=0.6)
    await asyncio.sleep(TTL + 0.05)
    source.error = CoreUnavailable("catalog")

    with structlog.testing.capture_logs() as logs:
        first = await get(cache, key, source, stale_ttl=0.6)
        await eventually(lambda: source.calls == 2)
        await asyncio.sleep(0.05)
        second = await get(cache, key, source, stale_ttl=0.6)

    assert (first.value, first.status) == ("v1", "stale")
    assert (second.value, second.status) == ("v1", "stale_error")
    assert source.calls == 2
    assert [e["event"] for e in logs] == ["cache_serving_stale_on_error"]

    await asyncio.sleep(0.6)
    with pytest.raises(CoreUnavailable):
        await get(cache, key, source, stale_ttl=0.6)


async def test_a_not_found_answer_is_remembered(make_cache: MakeCache) -> None:
    """A listed "not found" error is cached for negative_ttl: later reads, on any instance,
    raise the same error (same class and attributes) without calling the source."""
    first, second = make_cache(negative_exceptions=(CoreNotFound,)), make_cache()
    source = Source()
    source.error = CoreNotFound("catalog", "no product p404")
    key = CacheKey.shared("product", "p404")
    options = {"negative_ttl": 0.3, "negative_exceptions": (CoreNotFound,)}

    with pytest.raises(CoreNotFound):
        await get(first, key, source, negative_ttl=0.3)
    with pytest.raises(CoreNotFound) as here:
        await get(first, key, source, negative_ttl=0.3)
    with pytest.raises(CoreNotFound) as elsewhere:
        await get(second, key, source, **options)

    assert source.calls == 1
    for error in (here.value, elsewhere.value):
        assert (error.service, error.detail, error.status) == ("catalog", "no product p404", 404)
    assert first.stats.negative_hits == 1

    await asyncio.sleep(0.35)
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


async def test_users_never_see_each_others_data(
    make_cache: MakeCache, raw_redis: redis.Redis
) -> None:
    """The same kind and parts for two users are two entries, on every instance, and no
    Redis key name contains a user's sub."""
    first, second = make_cache(), make_cache()
    alice, bob = Source("alice's orders"), Source("bob's orders")
    alice_key = CacheKey.for_user("alice@example.com", "orders", "page", 1)
    bob_key = CacheKey.for_user("bob@example.com", "orders", "page", 1)

    assert (await get(first, alice_key, alice)).value == "alice's orders"
    assert (await get(first, bob_key, bob)).value == "bob's orders"
    from_second = [await get(second, k, s) for k, s in ((bob_key, bob), (alice_key, alice))]

    assert [(r.value, r.status) for r in from_second] == [
        ("bob's orders", "hit"),
        ("alice's orders", "hit"),
    ]
    assert (alice.calls, bob.calls) == (1, 1)
    names = [name.decode() for name in stored_names(raw_redis)]
    assert names
    assert all(n.startswith("bff:cache:") for n in names)
    assert not any("alice" in n or "bob" in n for n in names)


async def test_invalidating_a_users_kinds_drops_only_those_on_every_instance(
    make_cache: MakeCache, raw_redis: redis.Redis
) -> None:
    """Placing an order drops that user's "orders" (every page) and "home", seen at once by
    the other instance; their profile and other users' orders stay cached."""
    first, second = make_cache(), make_cache()
    sources = {
        name: Source(name) for name in ("orders-1", "orders-2", "home", "profile", "bob-orders")
    }
    keys = {
        "orders-1": CacheKey.for_user("alice", "orders", "cursor-1"),
        "orders-2": CacheKey.for_user("alice", "orders", "cursor-2"),
        "home": CacheKey.for_user("alice", "home"),
        "profile": CacheKey.for_user("alice", "profile"),
        "bob-orders": CacheKey.for_user("bob", "orders", "cursor-1"),
    }
    for name, key in keys.items():
        await get(first, key, sources[name])

    await first.invalidate_user_kinds("alice", "orders", "home")

    statuses = {name: (await get(second, key, sources[name])).status for name, key in keys.items()}
    assert statuses == {
        "orders-1": "miss",
        "orders-2": "miss",
        "home": "miss",
        "profile": "hit",
        "bob-orders": "hit",
    }
    assert (await get(first, keys["orders-1"], sources["orders-1"])).status == "hit"
    # Alice's four entries and her generations share one Cluster slot; Bob's entry has his own.
    slots = Counter(key_slot(name) for name in stored_names(raw_redis))
    assert sorted(slots.values()) == [1, 5]


async def test_a_load_running_during_an_invalidation_is_not_kept(make_cache: MakeCache) -> None:
    """An answer loaded before the user's write but stored after it is never served later."""
    first, second = make_cache(), make_cache()
    source = Source("before the order")
    source.hold()
    key = CacheKey.for_user("alice", "orders")
    loading = asyncio.create_task(get(second, key, source))
    await eventually(lambda: source.calls == 1)

    await first.invalidate_user_kinds("alice", "orders")
    source.released.set()
    await loading
    source.value = "after the order"

    for cache in (first, second):
        assert (await get(cache, key, source)).value == "after the order"


async def test_invalidating_a_shared_key(make_cache: MakeCache) -> None:
    """invalidate() drops the entry at once on this instance; another instance's level 1
    may serve it for at most local_ttl."""
    first, second = make_cache(local_ttl=0.2), make_cache(local_ttl=0.2)
    source = Source("v1")
    key = CacheKey.shared("product", "p1")
    await get(first, key, source, ttl=5.0)
    assert (await get(second, key, source, ttl=5.0)).status == "hit"

    await first.invalidate(key)
    source.value = "v2"

    assert (await get(first, key, source, ttl=5.0)).value == "v2"
    await asyncio.sleep(0.25)
    assert (await get(second, key, source, ttl=5.0)).value == "v2"


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


async def test_requests_pass_through_when_redis_is_down(make_cache: MakeCache) -> None:
    """With Redis unreachable, loads still work (once per key in the process), the result
    says "degraded", and the outage is logged once and counted."""
    cache = make_cache(url=f"redis://127.0.0.1:{free_port()}/0")
    source = Source()
    source.hold()
    key = CacheKey.for_user("alice", "orders")

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
        # A long TTL: on a busy machine the burst itself may take longer than the usual one.
        callers = [asyncio.create_task(get(cache, key, source, ttl=60)) for key in keys]
        await eventually(lambda: source.calls == len(keys))
        source.released.set()
        results = await asyncio.gather(*callers)
        later = await get(cache, keys[0], source, ttl=60)

    assert {(r.value, r.degraded) for r in results} == {("v1", False)}
    assert cache.stats.redis_failures == 0
    assert not [e for e in logs if e["event"] == "cache_redis_unavailable"]
    assert later.status == "hit"


async def test_the_cache_recovers_when_redis_comes_back(
    make_cache: MakeCache, own_redis: RedisProcess
) -> None:
    """After an outage the cache uses Redis again (after its back-off) and says so once."""
    cache = make_cache(url=own_redis.url, redis_backoff_s=0.1)
    source = Source()
    key = CacheKey.for_user("alice", "orders")
    assert (await get(cache, key, source)).status == "miss"

    with structlog.testing.capture_logs() as logs:
        own_redis.stop()
        down = [await get(cache, key, source) for _ in range(3)]
        own_redis.start()
        await asyncio.sleep(0.15)
        stored = await get(cache, key, source)  # the restarted Redis is empty
        cached = await get(cache, key, source)

    assert [(r.status, r.degraded) for r in down] == [("miss", True)] * 3
    assert (stored.status, stored.degraded) == ("miss", False)
    assert (cached.status, cached.degraded) == ("hit", False)
    assert [e["event"] for e in logs] == ["cache_redis_unavailable", "cache_redis_recovered"]


async def test_without_redis_the_process_memory_is_the_cache(make_cache: MakeCache) -> None:
    """The one-process mode keeps every rule: single flight, staleness, negative answers and
    invalidation of a user's kinds."""
    cache = make_cache(url=None, negative_exceptions=(CoreNotFound,))
    source = Source("v1")
    source.hold()
    key = CacheKey.for_user("alice", "orders", "cursor-1")

    callers = [asyncio.create_task(get(cache, key, source)) for _ in range(50)]
    await eventually(lambda: source.calls == 1)
    source.released.set()
    assert {r.status for r in await asyncio.gather(*callers)} == {"miss"}
    assert (await get(cache, key, source)).status == "hit"

    await asyncio.sleep(TTL + 0.05)
    source.value = "v2"
    assert (await get(cache, key, source)).status == "stale"
    assert (await _wait_for_value(cache, key, source, "v2")).status == "hit"

    await cache.invalidate_user_kinds("alice", "orders")
    assert (await get(cache, key, source)).status == "miss"

    missing = Source()
    missing.error = CoreNotFound("orders")
    for _ in range(2):
        with pytest.raises(CoreNotFound):
            await get(cache, CacheKey.for_user("alice", "order", "o404"), missing)
    assert missing.calls == 1
    assert not (await get(cache, key, source)).degraded


def test_keys_are_made_only_by_their_factories() -> None:
    with pytest.raises(TypeError):
        CacheKey("s:product", "product", "")
    with pytest.raises(ValueError, match="sub"):
        CacheKey.for_user("", "orders")
    with pytest.raises(ValueError, match="kinds"):
        CacheKey.shared("Products:all")
    assert CacheKey.shared("product", "a:b") != CacheKey.shared("product", "a", "b")
    assert CacheKey.for_user("alice", "orders", 1) == CacheKey.for_user("alice", "orders", "1")
    assert CacheKey.for_user("alice", "orders") != CacheKey.for_user("bob", "orders")
    assert "alice" not in repr(CacheKey.for_user("alice", "orders"))


async def test_raw_string_keys_are_refused(make_cache: MakeCache) -> None:
    cache = make_cache(url=None)
    with pytest.raises(TypeError):
        await cache.get_or_load("orders", Source().load, ttl=1, stale_ttl=1, type=str)  # type: ignore[arg-type]


# --- a Redis of the test's own, to stop and start --------------------------------------------


class RedisProcess:
    """A redis-server that a test may stop and start again on the same port."""

    def __init__(self) -> None:
        self.url = f"redis://127.0.0.1:{free_port()}/0"
        self.workdir = tempfile.mkdtemp(prefix="bff-test-cache-redis-")
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        port = self.url.rsplit(":", 1)[1].split("/")[0]
        self._process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                port,
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.workdir,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        try:
            for _ in range(200):
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    time.sleep(0.02)
            raise RuntimeError("redis-server did not start")
        finally:
            client.close()

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(10)
            self._process = None


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
