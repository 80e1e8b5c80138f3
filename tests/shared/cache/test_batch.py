"""The cache's Redis commands started in the same turn of the loop share one round trip."""

from __future__ import annotations

import asyncio

import pytest
import redis
from redis.exceptions import ResponseError

from shared.cache.batch import RedisBatch
from shared.platform.redis import create_redis_client
from tests.fixtures.servers import free_port
from tests.shared.cache.support import counting_redis

pytestmark = pytest.mark.anyio


async def test_commands_started_together_share_one_round_trip(
    redis_url: str, raw_redis: redis.Redis
) -> None:
    """Callers that send in the same turn of the loop go out in one pipeline, and each gets
    the replies to its own commands, in order; a later caller goes in the next batch."""
    raw_redis.set("bff:test:a", b"A")
    raw_redis.hset("bff:test:h", "f", b"F")
    client = counting_redis(redis_url)
    batch = RedisBatch(client)
    try:
        one, two, missing = await asyncio.gather(
            batch.send(lambda pipe: pipe.get("bff:test:a")),
            batch.send(lambda pipe: (pipe.hget("bff:test:h", "f"), pipe.get("bff:test:a"))),
            batch.send(lambda pipe: pipe.get("bff:test:none")),
        )
        later = await batch.send(lambda pipe: pipe.get("bff:test:a"))
    finally:
        await client.aclose()
    assert (one, two, missing, later) == ([b"A"], [b"F", b"A"], [None], [b"A"])
    assert client.round_trips == [("GET", "HGET", "GET", "GET"), ("GET",)]


async def test_an_error_reply_fails_only_the_caller_it_answers(
    redis_url: str, raw_redis: redis.Redis
) -> None:
    """A command Redis refuses (here a hash read of a string) fails its own caller; the
    others in the same pipeline get their replies."""
    raw_redis.set("bff:test:a", b"A")
    client = counting_redis(redis_url)
    batch = RedisBatch(client)
    try:
        refused, answered = await asyncio.gather(
            batch.send(lambda pipe: (pipe.get("bff:test:a"), pipe.hget("bff:test:a", "f"))),
            batch.send(lambda pipe: pipe.get("bff:test:a")),
            return_exceptions=True,
        )
    finally:
        await client.aclose()
    assert isinstance(refused, ResponseError)
    assert answered == [b"A"]
    assert len(client.round_trips) == 1


async def test_a_failed_batch_fails_every_caller_in_it() -> None:
    client = create_redis_client(f"redis://127.0.0.1:{free_port()}")  # nothing listens there
    batch = RedisBatch(client)
    try:
        results = await asyncio.gather(
            batch.send(lambda pipe: pipe.get("a")),
            batch.send(lambda pipe: pipe.get("b")),
            return_exceptions=True,
        )
    finally:
        await client.aclose()
    assert [type(result).__name__ for result in results] == ["ConnectionError"] * 2
