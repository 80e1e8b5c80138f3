"""The gateway's standalone Redis pool: a worker with every connection busy refuses one more
command at once (the error handler makes it a 503) rather than queueing it behind them."""

from __future__ import annotations

import asyncio

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import DataError

from shared.platform import redis as platform_redis
from shared.platform import redis_round_trip

pytestmark = pytest.mark.anyio


async def test_a_command_past_the_pool_is_refused_while_the_others_still_run(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(platform_redis, "_MAX_CONNECTIONS", 2)
    client = platform_redis.create_redis_client(redis_url)
    try:
        busy = [asyncio.create_task(client.blpop([f"nothing-{n}"], timeout=1)) for n in range(2)]
        for _ in range(20):  # a few turns of the loop: both have taken their connection
            await asyncio.sleep(0)
        with pytest.raises(RedisConnectionError, match="Too many connections"):
            await client.get("one-more")
        assert not any(task.done() for task in busy)
        assert await asyncio.gather(*busy) == [None, None]
        assert await client.get("one-more") is None  # connections back in the pool
    finally:
        await client.aclose()


async def test_commands_packed_by_hiredis_mean_what_redis_py_would_send(redis_url: str) -> None:
    """Text, bytes, numbers, non-ASCII, a bytearray (which hiredis refuses: redis-py packs it),
    a command of two words; a bool is refused as redis-py refuses it."""
    client = platform_redis.create_redis_client(redis_url)
    try:
        connection = await client.connection_pool.get_connection()
        try:
            assert type(connection).pack_command is redis_round_trip.packed_by_hiredis
        finally:
            await client.connection_pool.release(connection)
        await client.set("text", "café")
        await client.set("bytes", b"\x00\xff")
        await client.set("number", 12)
        await client.set("float", 1.5)
        await client.set("bytearray", bytearray(b"ba"))
        assert await client.mget("text", "bytes", "number", "float", "bytearray") == [
            "café".encode(),
            b"\x00\xff",
            b"12",
            b"1.5",
            b"ba",
        ]
        assert await client.execute_command("CONFIG GET", "maxmemory-policy") == {
            "maxmemory-policy": "noeviction"
        }
        with pytest.raises(DataError):
            await client.set("bool", True)  # type: ignore[arg-type]
    finally:
        await client.aclose()
