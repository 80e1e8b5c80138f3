"""Keys: a per-user key is made only for a user, and names that user only by a keyed hash."""

from __future__ import annotations

import hashlib
from urllib.parse import quote

import pytest
import redis

from shared.cache import CacheKey
from shared.platform.keys import KeyedHasher
from tests.shared.cache.support import OTHER_SECRET, MakeCache, Source, get, stored_names

pytestmark = pytest.mark.anyio


async def test_users_never_see_each_others_data(
    make_cache: MakeCache, raw_redis: redis.Redis
) -> None:
    """The same kind and parts for two users are two entries, on every instance, and no
    Redis key name contains a user's sub."""
    first, second = make_cache(), make_cache()
    alice, bob = Source("alice's orders"), Source("bob's orders")
    alice_key = first.user_key("alice@example.com", "orders", "page", 1)
    bob_key = first.user_key("bob@example.com", "orders", "page", 1)

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


async def test_the_user_part_of_a_key_is_keyed_not_a_plain_hash(
    make_cache: MakeCache, raw_redis: redis.Redis
) -> None:
    """Whoever reads Redis cannot tell whose entry it is by hashing candidate subs: the user
    part is not SHA-256 of the sub, and another secret gives another user part."""
    sub = "alice@example.com"
    plain = hashlib.sha256(sub.encode()).hexdigest()
    deployment, other_deployment = make_cache(), make_cache(hasher=KeyedHasher(OTHER_SECRET))
    for cache in (deployment, other_deployment):
        await get(cache, cache.user_key(sub, "orders"), Source())
        await cache.writes_done()  # the value is written behind the answer

    names = [name.decode() for name in stored_names(raw_redis)]
    user_parts = {name.split("{", 1)[1].split("}", 1)[0] for name in names}

    assert len(user_parts) == 2, "one user part per secret"
    for part in user_parts:
        digits = part.removeprefix("u:")
        assert digits
        assert digits not in plain
        assert plain[:16] not in part


async def test_keys_are_made_only_by_their_factories(make_cache: MakeCache) -> None:
    """No key can be built from a raw string, and a user's key only through a cache."""
    cache = make_cache(url=None)
    with pytest.raises(TypeError):
        CacheKey("s:product", "product", "")
    assert not hasattr(CacheKey, "for_user")
    with pytest.raises(ValueError, match="sub"):
        cache.user_key("", "orders")
    with pytest.raises(ValueError, match="kinds"):
        CacheKey.shared("Products:all")
    with pytest.raises(TypeError, match="parts"):
        CacheKey.shared("product", 1.5)  # type: ignore[arg-type]
    assert CacheKey.shared("product", "a:b") != CacheKey.shared("product", "a", "b")
    assert cache.user_key("alice", "orders", 1) == cache.user_key("alice", "orders", "1")
    assert cache.user_key("alice", "orders") != cache.user_key("bob", "orders")
    assert cache.user_key("alice", "orders").per_user
    assert not CacheKey.shared("orders").per_user
    assert "alice" not in repr(cache.user_key("alice", "orders"))


@pytest.mark.parametrize(
    "part", ["7", "abc-DEF_1.2~3", "", "a:b", "a/b", "{tag}", "50%", "café", "a b", "x\ny"]
)
def test_a_part_is_written_as_percent_encoding_writes_it(part: str) -> None:
    """Ids that need no quoting skip it; every other part is quoted exactly as before."""
    assert repr(CacheKey.shared("kind", part)) == f"CacheKey({{s:kind:{quote(part, safe='')}}})"
