"""Redis round trips on the way to a load: a cold key's core call waits for as few as there
can be (the read, then the lock taken with the value read again, in one pipeline); and the
ones after it (the value's write, the lock's release) wait until the answer has been sent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
import redis

from shared.cache import Cache, CacheKey
from shared.cache.batch import RedisBatch
from shared.cache.entries import Envelope, envelope_decoder, value_envelope
from shared.cache.flight import RedisLocks
from shared.cache.health import RedisHealth
from shared.cache.results import CacheStats
from shared.platform.after_answer import answer_pending
from shared.platform.keys import KeyedHasher
from shared.platform.redis import RedisPipeline
from tests.fixtures.clock import FakeClock
from tests.fixtures.servers import free_port
from tests.shared.cache.support import (
    SECRET,
    CountingRedis,
    Source,
    counting_redis,
    eventually,
    get,
    stored_names,
)

pytestmark = pytest.mark.anyio

LOCK, VALUE = "bff:cache:t:l:{s:product:p1}", "bff:cache:t:v:{s:product:p1}"


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[CountingRedis]:
    client = counting_redis(redis_url)
    yield client
    await client.aclose()


class ValueRead:
    """A ``GuardedRead`` of ``VALUE``: any entry there is servable."""

    def queue(self, pipe: RedisPipeline) -> None:
        pipe.get(VALUE)

    def ready(self, replies: Sequence[Any]) -> Envelope | None:
        return envelope_decoder.decode(replies[0]) if replies[0] else None


def locks(client: CountingRedis, clock: FakeClock, health: RedisHealth | None = None) -> RedisLocks:
    health = health or RedisHealth("t", backoff_s=5.0, clock=clock, stats=CacheStats())
    return RedisLocks(client, RedisBatch(client), ttl_ms=5_000, wait_s=1.0, health=health, name="t")


@pytest.mark.parametrize(
    ("per_user", "expected"),
    [
        (False, [("GET",), ("SET", "GET")]),
        (True, [("HGET", "GET"), ("SET", "HGET", "GET")]),
    ],
)
async def test_a_cold_key_costs_two_round_trips_before_its_load(
    client: CountingRedis,
    clock: FakeClock,
    raw_redis: redis.Redis,
    per_user: bool,
    expected: list[tuple[str, ...]],
) -> None:
    """A cold lookup reads the key, then takes the load's lock and reads the key again (in
    case another instance stored it meanwhile) in one pipeline; only then is the source
    called. The value's write and the lock's release come after the answer."""
    cache = Cache(client, hasher=KeyedHasher(SECRET), clock=clock, name="t")
    key = cache.user_key("alice", "account") if per_user else CacheKey.shared("product", "p1")
    source = Source()
    source.hold()
    try:
        loading = asyncio.create_task(get(cache, key, source))
        await eventually(lambda: source.calls == 1)
        before_load = list(client.round_trips)
        source.released.set()
        result = await loading
        await cache.writes_done()
    finally:
        await cache.aclose()

    assert before_load == expected
    assert (result.value, result.status) == ("v1", "miss")
    after_load = client.round_trips[len(expected) :]  # (a first release loads its script)
    assert (after_load[0], after_load[-1]) == (("SET",), ("EVALSHA",))
    assert [name for name in stored_names(raw_redis) if b":l:" in name] == []  # released


async def test_a_screens_cold_keys_share_their_round_trips(
    client: CountingRedis, clock: FakeClock
) -> None:
    """A screen's cold keys looked up together (a product, its inventory, the user's account)
    cost two round trips between them before their loads: every read in one pipeline, then
    every lock with its read again in one pipeline. So their core calls start together."""
    cache = Cache(client, hasher=KeyedHasher(SECRET), clock=clock, name="t")
    keys = [
        CacheKey.shared("product", "p1"),
        CacheKey.shared("inventory", "p1"),
        cache.user_key("alice", "account"),
    ]
    sources = [Source(), Source(), Source()]
    for source in sources:
        source.hold()
    try:
        loads = [asyncio.create_task(get(cache, k, s)) for k, s in zip(keys, sources, strict=True)]
        await eventually(lambda: all(source.calls == 1 for source in sources))
        before_load = list(client.round_trips)
        for source in sources:
            source.released.set()
        await asyncio.gather(*loads)
    finally:
        await cache.aclose()

    assert [sorted(trip) for trip in before_load] == [
        sorted(["GET", "GET", "HGET", "GET"]),
        sorted(["SET", "GET", "SET", "GET", "SET", "HGET", "GET"]),
    ]


async def test_a_value_stored_meanwhile_is_taken_and_the_lock_given_back(
    client: CountingRedis, clock: FakeClock, raw_redis: redis.Redis
) -> None:
    """If the read under the lock finds the value (another instance stored it after this
    one's first read), the value is the answer and the lock is released at once."""
    stored, payload = value_envelope("v1", "", clock.time())
    raw_redis.set(VALUE, payload)

    lock, ready = await locks(client, clock).take_or_wait(LOCK, ValueRead())

    assert (lock, ready) == (None, stored)
    assert client.round_trips[0] == ("SET", "GET")
    assert client.round_trips[-1] == ("EVALSHA",)  # (after a SCRIPT LOAD, on a fresh Redis)
    assert raw_redis.get(LOCK) is None


async def test_a_lock_held_elsewhere_with_the_value_stored_needs_no_poll(
    client: CountingRedis, clock: FakeClock, raw_redis: redis.Redis
) -> None:
    """The holder stored the value but has not released its lock yet: the read that went
    with the refused ``SET NX`` already has the value, so there is no wait and no poll, and
    the holder's lock is left alone."""
    stored, payload = value_envelope("v1", "", clock.time())
    raw_redis.set(VALUE, payload)
    raw_redis.set(LOCK, b"another-instance", px=5_000)

    lock, ready = await locks(client, clock).take_or_wait(LOCK, ValueRead())

    assert (lock, ready) == (None, stored)
    assert client.round_trips == [("SET", "GET")]
    assert raw_redis.get(LOCK) == b"another-instance"


async def test_redis_failing_at_the_lock_means_loading_without_it(clock: FakeClock) -> None:
    """Redis unreachable when the lock is to be taken: the load goes ahead without the lock
    (``(None, None)``), and the cache's health hears of the failure."""
    client = counting_redis(f"redis://127.0.0.1:{free_port()}")  # nothing listens there
    health = RedisHealth("t", backoff_s=5.0, clock=clock, stats=CacheStats())
    try:
        assert await locks(client, clock, health).take_or_wait(LOCK, ValueRead()) == (None, None)
    finally:
        await client.aclose()
    assert not health.up


async def test_a_lock_taken_in_the_pipeline_is_released_only_with_its_token(
    client: CountingRedis, clock: FakeClock, raw_redis: redis.Redis
) -> None:
    """The lock handed back holds the token its ``SET NX`` wrote: its release deletes that
    lock, and a lock that expired and went to another instance meanwhile is not touched."""
    redis_locks = locks(client, clock)
    lock, ready = await redis_locks.take_or_wait(LOCK, ValueRead())
    assert lock is not None
    assert ready is None
    assert len(raw_redis.get(LOCK) or b"") == 32  # a random token of its own

    raw_redis.set(LOCK, b"another-instance", px=5_000)  # ours expired; someone took it
    await redis_locks.release(lock)
    assert raw_redis.get(LOCK) == b"another-instance"

    raw_redis.delete(LOCK)
    lock, _ = await redis_locks.take_or_wait(LOCK, ValueRead())
    assert lock is not None
    await redis_locks.release(lock)
    assert raw_redis.get(LOCK) is None


async def test_in_a_request_the_write_and_release_wait_for_the_answer(
    client: CountingRedis, clock: FakeClock, raw_redis: redis.Redis
) -> None:
    """Inside a request, a loaded value reaches Redis (and the lock is released) only once
    the answer has been sent, so those round trips never delay it; an invalidation in the
    same request starts them first, so its delete still comes after the write."""
    cache = Cache(client, hasher=KeyedHasher(SECRET), clock=clock, name="t")
    first, second = CacheKey.shared("product", "p1"), CacheKey.shared("product", "p2")
    try:
        with answer_pending():
            result = await get(cache, first, Source())
            await asyncio.sleep(0.05)
            held = list(stored_names(raw_redis))
        await cache.writes_done()
        after = sorted(stored_names(raw_redis))

        with answer_pending():
            await get(cache, second, Source())
            await cache.invalidate(second)
        await cache.writes_done()
    finally:
        await cache.aclose()

    assert (result.value, result.status) == ("v1", "miss")
    assert len(held) == 1  # the lock only
    assert b":l:" in held[0]
    assert len(after) == 1  # the value only: the lock is released
    assert b":v:" in after[0]
    assert sorted(stored_names(raw_redis)) == after  # the second value: written, then deleted
