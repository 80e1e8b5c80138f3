"""Invalidating a user's kinds reaches every instance at once, and voids running loads."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
import redis
from redis.crc import key_slot

from tests.shared.cache.support import MakeCache, Source, eventually, get, stored_names

pytestmark = pytest.mark.anyio


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
        "orders-1": first.user_key("alice", "orders", "cursor-1"),
        "orders-2": first.user_key("alice", "orders", "cursor-2"),
        "home": first.user_key("alice", "home"),
        "profile": first.user_key("alice", "profile"),
        "bob-orders": first.user_key("bob", "orders", "cursor-1"),
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
    key = second.user_key("alice", "orders")
    loading = asyncio.create_task(get(second, key, source))
    await eventually(lambda: source.calls == 1)

    await first.invalidate_user_kinds("alice", "orders")
    source.released.set()
    await loading
    source.value = "after the order"

    for cache in (first, second):
        assert (await get(cache, key, source)).value == "after the order"
