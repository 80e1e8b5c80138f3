"""A user's generations read in their session's round trip: their entries come from level 1
under the generations that request read, and from Redis otherwise; an invalidation on another
instance is seen on the next request; one user's generations never serve another's entries."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import pytest

from shared.cache import Cache
from shared.cache.generations import SessionUsers
from shared.cache.keys import RedisNames, UserKeys
from shared.platform.keys import KeyedHasher
from shared.platform.redis import ride_together
from tests.fixtures.clock import FakeClock
from tests.shared.cache.support import (
    SECRET,
    CountingRedis,
    Source,
    counting_redis,
    eventually,
    get,
)

pytestmark = pytest.mark.anyio

T = TypeVar("T")
ALICE_SESSION = "alice-session-id-0123456789abcdef"
BOB_SESSION = "bob-session-id-0123456789abcdef00"


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[CountingRedis]:
    client = counting_redis(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def cache(client: CountingRedis, clock: FakeClock) -> AsyncIterator[Cache]:
    cache = Cache(client, hasher=KeyedHasher(SECRET), clock=clock, name="t")
    yield cache
    await cache.aclose()


async def as_request(step: Callable[[], Awaitable[T]]) -> T:
    """A step in a context of its own, as a server runs each request in a task of its own."""
    return await asyncio.create_task(step())  # type: ignore[arg-type]


async def session_read(cache: Cache, client: CountingRedis, session_id: str, sub: str) -> int:
    """What an API request's session read does: the session's command, the generations rider
    boarded after it in one pipeline, then the record's user learned. How many it boarded."""
    rider = cache.generations_rider()
    assert rider is not None
    async with client.pipeline(transaction=False) as pipe:
        pipe.echo("the session's own read")
        boarded = rider.board(pipe, session_id)
        answers = await pipe.execute(raise_on_error=False)
    rider.land(answers[1:])
    rider.learn(sub)
    return boarded


def screen(
    cache: Cache, client: CountingRedis, session_id: str, sub: str, source: Source
) -> Callable[[], Awaitable[tuple[Any, list[tuple[str, ...]]]]]:
    """One request: the session read, then the user's account; the value and the round trips
    the lookup made after the session's."""

    async def request() -> tuple[Any, list[tuple[str, ...]]]:
        await session_read(cache, client, session_id, sub)
        before = len(client.round_trips)
        result = await get(cache, cache.user_key(sub, "account"), source)
        await cache.writes_done()
        return result.value, client.round_trips[before:]

    return request


async def test_a_users_entry_comes_from_level_1_under_the_generations_read_with_the_session(
    cache: Cache, client: CountingRedis
) -> None:
    source = Source()
    first = await as_request(screen(cache, client, ALICE_SESSION, "alice", source))
    assert first[0] == "v1"
    assert first[1][0] == ("HGET", "GET")  # the session was new here: read from Redis
    second = await as_request(screen(cache, client, ALICE_SESSION, "alice", source))
    assert second == ("v1", [("HGET", "GET")])  # generations known: read, now kept here
    third = await as_request(screen(cache, client, ALICE_SESSION, "alice", source))
    assert third == ("v1", [])  # from level 1: no round trip after the session's
    assert source.calls == 1


async def test_the_generations_ride_only_once_the_session_is_known_here(
    cache: Cache, client: CountingRedis
) -> None:
    assert await as_request(lambda: session_read(cache, client, ALICE_SESSION, "alice")) == 0
    assert await as_request(lambda: session_read(cache, client, ALICE_SESSION, "alice")) == 1
    assert client.round_trips[-1] == ("ECHO", "HGETALL")
    assert await as_request(lambda: session_read(cache, client, BOB_SESSION, "bob")) == 0


async def test_without_the_generations_a_users_entry_is_read_from_redis(
    cache: Cache, client: CountingRedis
) -> None:
    """A request that read no generations (a route without the riding session read) is served
    from Redis, whatever level 1 holds."""
    source = Source()
    for _ in range(3):
        await as_request(screen(cache, client, ALICE_SESSION, "alice", source))

    async def without_rider() -> list[tuple[str, ...]]:
        before = len(client.round_trips)
        await get(cache, cache.user_key("alice", "account"), source)
        return client.round_trips[before:]

    assert await as_request(without_rider) == [("HGET", "GET")]


async def test_an_invalidation_on_another_instance_is_seen_on_the_next_request(
    cache: Cache, client: CountingRedis, redis_url: str, clock: FakeClock
) -> None:
    source = Source()
    for _ in range(3):
        await as_request(screen(cache, client, ALICE_SESSION, "alice", source))
    other_client = counting_redis(redis_url)
    other = Cache(other_client, hasher=KeyedHasher(SECRET), clock=clock, name="t")
    try:
        source.value = "v2"
        await other.invalidate_user_kinds("alice", "account")
    finally:
        await other.aclose()
        await other_client.aclose()
    value, round_trips = await as_request(screen(cache, client, ALICE_SESSION, "alice", source))
    assert value == "v2"
    assert round_trips[0] == ("HGET", "GET")
    assert source.calls == 2


async def test_an_entry_another_instance_stored_while_this_one_waited_is_kept_here(
    cache: Cache, client: CountingRedis, redis_url: str, clock: FakeClock
) -> None:
    """A lookup that waited on another instance's load (its Redis lock) is served what that
    instance stored, and keeps it like any entry it read: the next request needs no read."""
    await as_request(screen(cache, client, ALICE_SESSION, "alice", Source()))  # session known
    other_client = counting_redis(redis_url)
    other = Cache(other_client, hasher=KeyedHasher(SECRET), clock=clock, name="t")
    elsewhere, never = Source("orders from the other instance"), Source("loaded here")
    elsewhere.hold()

    async def orders() -> tuple[Any, list[tuple[str, ...]]]:
        await session_read(cache, client, ALICE_SESSION, "alice")
        before = len(client.round_trips)
        result = await get(cache, cache.user_key("alice", "orders"), never)
        return result.value, client.round_trips[before:]

    try:
        loading = asyncio.create_task(get(other, other.user_key("alice", "orders"), elsewhere))
        await eventually(lambda: elsewhere.calls == 1)  # the other instance holds the lock
        sent = len(client.round_trips)
        waiting = asyncio.create_task(as_request(orders))
        await eventually(lambda: any("SET" in trip for trip in client.round_trips[sent:]))
        elsewhere.released.set()
        assert (await waiting)[0] == "orders from the other instance"
        await loading
        await other.writes_done()
    finally:
        await other.aclose()
        await other_client.aclose()
    assert await as_request(orders) == ("orders from the other instance", [])
    assert never.calls == 0


async def test_one_users_generations_never_serve_another_users_entry(
    cache: Cache, client: CountingRedis
) -> None:
    alice, bob = Source("alice's"), Source("bob's")
    for _ in range(3):
        await as_request(screen(cache, client, ALICE_SESSION, "alice", alice))
        await as_request(screen(cache, client, BOB_SESSION, "bob", bob))

    async def bobs_entry_on_alices_request() -> tuple[Any, list[tuple[str, ...]]]:
        await session_read(cache, client, ALICE_SESSION, "alice")
        before = len(client.round_trips)
        result = await get(cache, cache.user_key("bob", "account"), bob)
        return result.value, client.round_trips[before:]

    assert await as_request(bobs_entry_on_alices_request) == ("bob's", [("HGET", "GET")])


async def test_a_failed_generations_read_keeps_nothing(cache: Cache, client: CountingRedis) -> None:
    source = Source()
    for _ in range(3):
        await as_request(screen(cache, client, ALICE_SESSION, "alice", source))

    async def request_after_an_error_reply() -> list[tuple[str, ...]]:
        rider = cache.generations_rider()
        assert rider is not None
        async with client.pipeline(transaction=False) as pipe:
            pipe.echo("the session's own read")
            rider.board(pipe, ALICE_SESSION)
            await pipe.execute(raise_on_error=False)
        rider.land([RuntimeError("an error in place of the generations")])
        rider.learn("alice")
        before = len(client.round_trips)
        await get(cache, cache.user_key("alice", "account"), source)
        return client.round_trips[before:]

    assert await as_request(request_after_an_error_reply) == [("HGET", "GET")]


async def test_riders_together_each_land_their_own_answers(client: CountingRedis) -> None:
    class Echo:
        def __init__(self, *words: str) -> None:
            self.words = words
            self.answers: list[Any] = []

        def board(self, pipe: Any, subject: str) -> int:
            for word in self.words:
                pipe.echo(f"{word} {subject}")
            return len(self.words)

        def land(self, answers: list[Any]) -> None:
            self.answers = answers

    one, none, two = Echo("a"), Echo(), Echo("b", "c")
    assert ride_together(None, one, None) is one
    assert ride_together(None, None) is None
    together = ride_together(one, none, two)
    assert together is not None
    async with client.pipeline(transaction=False) as pipe:
        pipe.echo("own")
        assert together.board(pipe, "s") == 3
        answers = await pipe.execute()
    together.land(answers[1:])
    assert (one.answers, none.answers, two.answers) == ([b"a s"], [], [b"b s", b"c s"])


def test_a_session_is_remembered_by_a_digest_keyed_per_process() -> None:
    hasher = KeyedHasher(SECRET)
    users = UserKeys(hasher)
    names = RedisNames("bff:cache:t")
    here, there = SessionUsers(users, names), SessionUsers(users, names)
    digest = here.digest(ALICE_SESSION)
    assert digest == here.digest(ALICE_SESSION)
    assert ALICE_SESSION not in digest
    assert digest != there.digest(ALICE_SESSION)
    here.learn(digest, "alice")
    assert here.tag_of(digest) == users.tag("alice")
    assert there.tag_of(there.digest(ALICE_SESSION)) is None
