"""The standalone client's cheaper round trips (``redis_round_trip``): a plain pipeline answers
what redis-py's own would, on one pooled connection; the pipelines of one turn of the loop
share one round trip, each with its own replies; and a round trip that times out, or whose
caller is cancelled, never leaves a reply on the wire for the next caller."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio.client import Pipeline
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from shared.platform.redis import create_redis_client
from shared.platform.redis_round_trip import LeanConnectionPool, OneTripPipeline, StandaloneRedis

pytestmark = pytest.mark.anyio


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[StandaloneRedis]:
    made = create_redis_client(redis_url)
    assert isinstance(made, StandaloneRedis)
    assert isinstance(made.connection_pool, LeanConnectionPool)
    yield made
    await made.aclose()


def in_use(client: StandaloneRedis) -> int:
    return len(client.connection_pool._in_use_connections)


async def assert_the_next_round_trip_reads_its_own_replies(client: StandaloneRedis) -> None:
    """The blocked BLPOP's reply, had it been left on a pooled connection, would come first."""
    await client.rpush("nothing", "late")
    pipe = client.pipeline(transaction=False)
    pipe.get("here")
    pipe.lpop("nothing")
    assert await pipe.execute() == [b"yes", b"late"]


async def test_a_plain_pipeline_answers_as_redis_py_does(client: StandaloneRedis) -> None:
    """Reply callbacks applied (SET gives True, HGETALL a dict), an error reply in its place,
    and the connection back in the pool with its own socket timeout."""
    pipe = client.pipeline(transaction=False)
    assert isinstance(pipe, OneTripPipeline)
    pipe.set("text", "value", px=10_000)
    pipe.hset("hash", mapping={"a": "1"})
    pipe.hgetall("hash")
    pipe.incr("text")  # not an integer: an error reply
    pipe.get("missing")
    answers = await pipe.execute(raise_on_error=False)

    assert answers[:3] == [True, 1, {b"a": b"1"}]
    assert isinstance(answers[3], ResponseError)
    assert answers[4] is None
    assert in_use(client) == 0
    (connection,) = client.connection_pool._available_connections
    assert connection.socket_timeout == 2.0
    assert len(pipe) == 0  # the commands were sent; the pipeline can be filled again


async def test_an_error_reply_is_raised_by_default_after_every_reply_is_read(
    client: StandaloneRedis,
) -> None:
    await client.set("text", "value")
    pipe = client.pipeline(transaction=False)
    pipe.incr("text")
    pipe.get("text")
    with pytest.raises(ResponseError, match="Command # 1"):
        await pipe.execute()
    assert await client.get("text") == b"value"  # the connection was left clean


async def test_a_transaction_runs_as_redis_py_runs_it(client: StandaloneRedis) -> None:
    pipe = client.pipeline(transaction=True)
    assert type(pipe) is Pipeline
    pipe.set("a", "1")
    pipe.incr("a")
    assert await pipe.execute() == [True, 2]


async def test_a_round_trip_past_its_timeout_closes_its_connection(
    client: StandaloneRedis,
) -> None:
    """The reply that comes after the timeout goes nowhere: the next round trip reads its own."""
    client.round_trip_timeout_s = 0.2
    await client.set("here", "yes")
    pipe = client.pipeline(transaction=False)
    pipe.blpop(["nothing"], timeout=1)
    with pytest.raises(RedisTimeoutError):
        await pipe.execute()
    assert in_use(client) == 0

    await assert_the_next_round_trip_reads_its_own_replies(client)


async def test_a_cancelled_caller_leaves_no_reply_for_the_next(client: StandaloneRedis) -> None:
    """The round trip goes on without its cancelled caller; its late reply is read and
    dropped, and the next round trip reads its own on another connection."""
    await client.set("here", "yes")

    async def blocked() -> list[object]:
        pipe = client.pipeline(transaction=False)
        pipe.blpop(["nothing"], timeout=1)
        return await pipe.execute()

    task = asyncio.create_task(blocked())
    for _ in range(20):  # a few turns of the loop: the BLPOP is on the wire
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await client.rpush("nothing", "late")  # the blocked BLPOP's, answered to nobody
    pipe = client.pipeline(transaction=False)
    pipe.get("here")
    pipe.lpop("nothing")
    assert await pipe.execute() == [b"yes", None]
    for _ in range(100):
        if in_use(client) == 0:
            break
        await asyncio.sleep(0.01)
    assert in_use(client) == 0


async def test_the_pipelines_of_one_turn_share_one_round_trip(client: StandaloneRedis) -> None:
    """Ten callers at once: each gets its own replies, an error reply only its own caller's,
    and one connection carried them all."""
    await client.set("text", "not a number")

    async def caller(n: int) -> list[object]:
        pipe = client.pipeline(transaction=False)
        pipe.set(f"key-{n}", n)
        pipe.get(f"key-{n}")
        if n == 3:
            pipe.incr("text")
        return await pipe.execute(raise_on_error=n != 3)

    answers = await asyncio.gather(*(caller(n) for n in range(10)))
    for n, answer in enumerate(answers):
        assert answer[:2] == [True, str(n).encode()]
    assert isinstance(answers[3][2], ResponseError)
    pool = client.connection_pool
    assert len(pool._available_connections) + in_use(client) == 1


async def test_an_error_reply_raised_for_one_caller_spares_the_others(
    client: StandaloneRedis,
) -> None:
    await client.set("text", "not a number")

    async def caller(fails: bool) -> list[object]:
        pipe = client.pipeline(transaction=False)
        pipe.incr("text" if fails else "counter")
        return await pipe.execute()

    failing = asyncio.create_task(caller(True))
    fine = asyncio.create_task(caller(False))
    with pytest.raises(ResponseError):
        await failing
    assert await fine == [1]
