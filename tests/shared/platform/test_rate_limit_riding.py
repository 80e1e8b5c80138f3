"""A request's ``api`` count sent in another round trip (``SessionHit``) is the library's own
count: same keys, same window, same refusal; and it falls back to the library's call when it
could not be sent or Redis forgot the script."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from redis.asyncio import Redis

from shared.platform.client_address import ClientAddresses
from shared.platform.errors import TooManyRequests
from shared.platform.keys import KeyedHasher
from shared.platform.rate_limits import (
    NOT_LANDED,
    RateLimits,
    close_rate_limit_storage,
    rate_limit_storage,
)
from shared.platform.redis import create_redis_client
from shared.platform.settings import load_settings

pytestmark = pytest.mark.anyio

SESSION = "a-session-id-for-the-rate-tests-0123456789"


@asynccontextmanager
async def limits_for(redis_url: str | None, api_rate: str) -> AsyncIterator[RateLimits]:
    """The gateway's limits over its own Redis pool (or in memory without a URL)."""
    environ = {"BFF_RATE_LIMIT_API": api_rate} | ({"BFF_REDIS_URL": redis_url} if redis_url else {})
    settings = load_settings("web", environ)
    client = create_redis_client(redis_url) if redis_url else None
    storage = rate_limit_storage(settings, client)
    addresses = ClientAddresses(settings.trusted_proxies, settings.trusted_proxy_header)
    try:
        yield RateLimits(storage, settings, KeyedHasher(settings.secret_key), addresses)
    finally:
        await close_rate_limit_storage(storage)
        if client is not None:
            await client.aclose()


@pytest.fixture
async def limits(redis_url: str) -> AsyncIterator[RateLimits]:
    async with limits_for(redis_url, "2/minute") as limits:
        yield limits


async def ridden(limits: RateLimits, redis_url: str, session_id: str = SESSION) -> Any:
    """One count sent the way the session store sends it: after a command of its own."""
    hit = limits.session_hit()
    assert hit is not None
    client = Redis.from_url(redis_url)
    try:
        async with client.pipeline(transaction=False) as pipe:
            pipe.echo("the session's own command")
            queued = hit.board(pipe, session_id)
            answers = await pipe.execute(raise_on_error=False)
        hit.land(answers[1:])
        assert queued == len(answers) - 1
    finally:
        await client.aclose()
    return hit


async def test_ridden_and_direct_counts_are_one_count(limits: RateLimits, redis_url: str) -> None:
    """One count ridden, one the library's own: the third is refused either way."""
    await limits.check_session(SESSION, hit=await ridden(limits, redis_url))
    await limits.check_session(SESSION)
    third = await ridden(limits, redis_url)
    assert third.answer is not NOT_LANDED
    assert not third.answer  # the library's script refused it without counting
    with pytest.raises(TooManyRequests) as refused:
        await limits.check_session(SESSION, hit=third)
    assert 1 <= int(refused.value.headers["Retry-After"]) <= 60
    fourth = await ridden(limits, redis_url)
    assert fourth.answer is NOT_LANDED  # refused just now: not sent again
    with pytest.raises(TooManyRequests):
        await limits.check_session(SESSION, hit=fourth)


async def test_a_count_for_another_session_is_not_taken_for_this_one(
    limits: RateLimits, redis_url: str
) -> None:
    other = await ridden(limits, redis_url, session_id="some-other-session-id-000000000000")
    await limits.check_session(SESSION, hit=other)  # counted for SESSION by the library
    await limits.check_session(SESSION)
    with pytest.raises(TooManyRequests):
        await limits.check_session(SESSION)


async def test_after_redis_forgot_the_script_the_library_counts(
    limits: RateLimits, redis_url: str
) -> None:
    client = Redis.from_url(redis_url)
    await client.script_flush()
    await client.aclose()
    hit = await ridden(limits, redis_url)
    assert type(hit.answer).__name__ == "NoScriptError"
    await limits.check_session(SESSION, hit=hit)  # the library's own call, which loads it
    await limits.check_session(SESSION, hit=await ridden(limits, redis_url))
    with pytest.raises(TooManyRequests):
        await limits.check_session(SESSION, hit=await ridden(limits, redis_url))


async def test_a_hit_that_never_landed_is_counted_by_the_library(limits: RateLimits) -> None:
    hit = limits.session_hit()
    assert hit is not None
    assert hit.answer is NOT_LANDED
    await limits.check_session(SESSION, hit=hit)
    await limits.check_session(SESSION, hit=hit)
    with pytest.raises(TooManyRequests):
        await limits.check_session(SESSION, hit=hit)


async def test_counters_of_their_own_cannot_ride() -> None:
    """Without Redis (or with the library's own Cluster/Sentinel client) nothing rides."""
    async with limits_for(None, "2/minute") as limits:
        assert limits.session_hit() is None


async def test_an_api_rule_set_to_off_sends_nothing(redis_url: str) -> None:
    async with limits_for(redis_url, "off") as limits:
        assert limits.session_hit() is None
