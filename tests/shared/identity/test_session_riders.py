"""A rider's commands travel in the session read's own round trip (one pipeline), on Redis;
without Redis there is no round trip to ride and the rider is left to send them itself."""

from __future__ import annotations

from typing import Any

import pytest
from redis.asyncio import Redis

from shared.identity.stores import IdentityStores
from tests.shared.identity.support import new_record, redis, redis_stores, stores

pytestmark = pytest.mark.anyio

__all__ = ["redis", "redis_stores", "stores"]  # fixtures, used by name


class EchoRider:
    """Queues one ECHO after the session's command and records what it saw."""

    def __init__(self) -> None:
        self.queued_before: int | None = None
        self.subject: str | None = None
        self.answers: list[Any] | None = None

    def board(self, pipe: Any, subject: str) -> int:
        self.queued_before = len(pipe.command_stack)
        self.subject = subject
        pipe.echo("riding")
        return 1

    def land(self, answers: list[Any]) -> None:
        self.answers = answers


async def test_a_rider_boards_the_pipeline_that_reads_and_slides_the_session(
    redis_stores: IdentityStores,
) -> None:
    store = redis_stores.sessions
    record = new_record(store)
    await store.create(record)
    rider = EchoRider()
    found = await store.get_and_slide(
        record.id, now=store.clock.time(), idle_timeout=300, min_interval=0, rider=rider
    )
    assert found is not None
    assert found.id == record.id
    assert rider.queued_before == 1  # the session's script, already in the same pipeline
    assert rider.subject == record.id
    assert rider.answers == [b"riding"]


async def test_a_rider_boards_the_plain_read_too(redis_stores: IdentityStores) -> None:
    store = redis_stores.sessions
    record = new_record(store)
    await store.create(record)
    rider = EchoRider()
    found = await store.get(record.id, rider=rider)
    assert found is not None
    assert rider.queued_before == 1
    assert rider.answers == [b"riding"]


async def test_after_redis_forgot_its_scripts_the_session_is_still_read(
    redis_stores: IdentityStores, redis: Redis
) -> None:
    """A restarted Redis answers NOSCRIPT in the pipeline: the script is loaded and run again,
    and the rider still got its answers."""
    store = redis_stores.sessions
    record = new_record(store)
    await store.create(record)
    await redis.script_flush()
    rider = EchoRider()
    found = await store.get_and_slide(
        record.id, now=store.clock.time(), idle_timeout=300, min_interval=0, rider=rider
    )
    assert found is not None
    assert rider.answers == [b"riding"]


async def test_a_missing_session_sends_no_rider(stores: IdentityStores) -> None:
    rider = EchoRider()
    assert (
        await stores.sessions.get_and_slide(
            "no-such-session-id-000000000000000000000000",
            now=0.0,
            idle_timeout=300,
            min_interval=0,
            rider=rider,
        )
        is None
    )
    assert rider.answers is None


async def test_without_redis_a_rider_never_lands(stores: IdentityStores) -> None:
    """On the memory store the record is read, and the rider's owner sends its commands."""
    store = stores.sessions
    record = new_record(store)
    await store.create(record)
    rider = EchoRider()
    assert await store.get(record.id, rider=rider) is not None
    landed = rider.answers is not None
    assert landed == (type(store).__name__ == "RedisSessionStore")
