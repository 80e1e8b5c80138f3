"""Sessions, one-time values, the token index and the cache on a real three-node Redis Cluster:
every multi-key operation must stay inside one hash slot, or these calls fail with CROSSSLOT."""

from __future__ import annotations

import time

import httpx
import pytest

from shared.cache import Cache
from shared.identity.records import TokenSet
from shared.identity.stores import build_stores
from shared.platform.clock import SYSTEM_CLOCK
from shared.platform.crypto import TokenCipher
from shared.platform.keys import KeyedHasher
from shared.platform.metrics import ActiveSessions
from shared.platform.redis import create_redis_client
from tests.fixtures.gateways import StartGateway, log_in_browser
from tests.fixtures.idp import IdpServer

pytestmark = pytest.mark.anyio
CIPHER_KEY = "Tz5Qm1Xc7Vb3Nk9Lw2Hp6Rd4Gf8Js0Ya"


async def test_the_session_store_works_unchanged_on_a_cluster(redis_cluster_url: str) -> None:
    redis = create_redis_client(redis_cluster_url, "cluster")
    keys = KeyedHasher(CIPHER_KEY)
    stores = build_stores(redis, TokenCipher(CIPHER_KEY), keys, SYSTEM_CLOCK)
    store = stores.sessions
    try:
        records = [
            store.codec.new_record(
                kind="web",
                sub=sub,
                tokens=TokenSet(access_token=f"at-{n}", access_token_expires_at=time.time() + 60),
                claims={"sub": sub},
                idle_timeout=60,
                absolute_timeout=120,
                idp_sid=f"idp-{n % 2}",
                now=time.time(),
            )
            for n, sub in enumerate(["alice", "alice", "bob", "carol"])
        ]
        for record in records:
            await store.create(record)
        assert (await store.get(records[0].id)) is not None
        assert await store.touch(records[0].id, time.time(), 60)
        assert len(await store.list_for_user("alice")) == 2
        assert await store.end_by_idp_sid("idp-1") == 2  # alice's second and carol's
        assert await store.end_all_for_user("alice") == 1
        assert await store.get(records[2].id) is not None  # bob untouched

        await stores.one_time.put("code-1", b"value", 30)
        assert await stores.one_time.take("code-1") == b"value"
        assert await stores.one_time.take("code-1") is None
        assert await stores.one_time.remember_once("jti-1", 30)
        assert not await stores.one_time.remember_once("jti-1", 30)

        token_hash = keys.hex("token", "opaque-access-token-value-0123456789")
        await stores.tokens.add("access", token_hash, records[2].id, 30)
        assert await stores.tokens.lookup("access", token_hash) == records[2].id
    finally:
        await redis.aclose()


async def test_the_cache_works_unchanged_on_a_cluster(redis_cluster_url: str) -> None:
    clients = [create_redis_client(redis_cluster_url, "cluster") for _ in range(2)]
    first, second = (
        Cache(client, hasher=KeyedHasher(CIPHER_KEY), name="cluster") for client in clients
    )
    loads = 0

    async def load() -> str:
        nonlocal loads
        loads += 1
        return f"orders-{loads}"

    key = first.user_key("alice", "orders", "-", 10)
    try:
        one = await first.get_or_load(key, load, ttl=30, stale_ttl=60, type=str)
        two = await second.get_or_load(key, load, ttl=30, stale_ttl=60, type=str)
        assert (one.value, two.value, two.status, loads) == ("orders-1", "orders-1", "hit", 1)
        await first.invalidate_user_kinds("alice", "orders", "home")
        three = await second.get_or_load(key, load, ttl=30, stale_ttl=60, type=str)
        assert (three.value, three.status) == ("orders-2", "miss")
        assert not one.degraded
        assert not three.degraded
    finally:
        for cache in (first, second):
            await cache.aclose()
        for client in clients:
            await client.aclose()


def test_a_gateway_logs_in_and_out_on_a_cluster(
    idp: IdpServer, start_gateway: StartGateway, redis_cluster_url: str
) -> None:
    web = start_gateway(
        "web", idp_url=idp.url, redis_url=redis_cluster_url, BFF_REDIS_MODE="cluster"
    )
    log_in_and_out(web.url)
    assert httpx.get(f"{web.url}/health/ready").status_code == 200


async def test_the_active_sessions_counter_works_on_a_cluster(redis_cluster_url: str) -> None:
    """One HyperLogLog per minute, counted over the window with one PFCOUNT (one slot)."""
    redis = create_redis_client(redis_cluster_url, "cluster")
    tracker = ActiveSessions("web", redis)
    try:
        for session_id in ("s1", "s2", "s1"):
            tracker.seen(session_id)
        await tracker.flush()
        assert tracker.count == 2
    finally:
        await redis.aclose()


def log_in_and_out(url: str) -> None:
    with httpx.Client(headers={"X-CSRF": "1"}, timeout=20) as browser:
        assert log_in_browser(browser, url).status_code == 302
        user = browser.get(f"{url}/bff/user")
        assert user.status_code == 200
        assert browser.get(f"{url}{user.json()['logoutUrl']}").status_code == 302
        assert browser.get(f"{url}/bff/user").status_code == 401


def test_rate_limits_count_on_a_cluster(
    idp: IdpServer, start_gateway: StartGateway, redis_cluster_url: str
) -> None:
    """The limiter's two window keys share a slot: counting works, and refuses, on a Cluster."""
    web = start_gateway(
        "web",
        idp_url=idp.url,
        redis_url=redis_cluster_url,
        BFF_REDIS_MODE="cluster",
        BFF_RATE_LIMIT_LOGIN="2/minute",
    )
    assert [httpx.get(f"{web.url}/bff/login").status_code for _ in range(3)] == [302, 302, 429]
