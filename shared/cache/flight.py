"""Single flight: a cold key is loaded once, however many callers and instances wait for it.

In a process, one task per key (:class:`SingleFlight`); later callers join it. Across
processes, a short Redis lock per key (:class:`RedisLocks`: ``SET NX PX`` of a random token,
released only by its owner through redis-py's ``Lock``). The lock is taken in one round trip
with a new read of the value, in case another instance stored it since this one's first read.
An instance that finds the lock taken polls Redis for the value and loads by itself once the
holder is gone or after ``lock_wait_s``, so a crashed holder costs one bounded wait, never a
hang.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Coroutine, Sequence
from functools import partial
from typing import Any, Final, Generic, Protocol, TypeVar

from redis.asyncio.lock import Lock
from redis.exceptions import LockError

from shared.cache.batch import RedisBatch
from shared.cache.entries import Envelope
from shared.cache.health import REDIS_ERRORS, RedisHealth
from shared.platform.logging import get_logger
from shared.platform.redis import RedisClient, RedisPipeline

R = TypeVar("R")

_POLL_FIRST_S: Final = 0.02
_POLL_MAX_S: Final = 0.2

_log = get_logger("bff.cache")


class Flight(Generic[R]):
    """The one running task of a key in this process; ``discarded`` once invalidated."""

    __slots__ = ("discarded", "task")

    def __init__(self, run: Callable[[Flight[R]], Coroutine[Any, Any, R]]) -> None:
        self.discarded = False
        self.task = asyncio.create_task(run(self))


class SingleFlight(Generic[R]):
    """At most one running task per key; callers that come while it runs share its result."""

    def __init__(self) -> None:
        self._running: dict[str, Flight[R]] = {}

    def join(self, key: str, run: Callable[[Flight[R]], Coroutine[Any, Any, R]]) -> Flight[R]:
        """The running flight of ``key``, or a new one running ``run``."""
        flight = self._running.get(key)
        if flight is None:
            flight = Flight(run)
            self._running[key] = flight
            flight.task.add_done_callback(partial(self._landed, key, flight))
        return flight

    def discard_where(self, matches: Callable[[str], bool]) -> None:
        """Later callers of these keys start afresh; the running tasks learn they are void."""
        for key in [key for key in self._running if matches(key)]:
            self._running.pop(key).discarded = True

    def tasks(self) -> list[asyncio.Task[R]]:
        return [flight.task for flight in self._running.values()]

    def _landed(self, key: str, flight: Flight[R], task: asyncio.Task[R]) -> None:
        if self._running.get(key) is flight:
            del self._running[key]
        # Mark a finished task's error as seen: its waiters got it, or (a background refresh)
        # no one waits for it; either way asyncio must not report it as lost.
        if not task.cancelled():
            task.exception()


class GuardedRead(Protocol):
    """The read of the value a lock guards, sent in a pipeline with the lock's own command."""

    def queue(self, pipe: RedisPipeline) -> None:
        """Add the read's commands to ``pipe``."""

    def ready(self, replies: Sequence[Any]) -> Envelope | None:
        """The value in the replies to those commands, if it is servable without a load."""


class RedisLocks:
    """The lock that lets one instance load a key while the others wait for its value."""

    def __init__(
        self,
        redis: RedisClient,
        batch: RedisBatch,
        *,
        ttl_ms: int,
        wait_s: float,
        health: RedisHealth,
        name: str,
    ) -> None:
        self._redis = redis
        self._batch = batch
        self._ttl_ms = ttl_ms
        self._ttl_s = ttl_ms / 1000
        self._wait_s = wait_s
        self._health = health
        self._name = name

    async def take_or_wait(
        self, lock_name: str, value: GuardedRead
    ) -> tuple[Lock | None, Envelope | None]:
        """Take the lock, or wait for the instance holding it to store the value.

        A value found servable (another instance stored it since this one's first read) is
        returned instead of the lock, which is released at once if it was taken. ``(None,
        None)`` means load without the lock: Redis failed, or the holder did not finish within
        ``lock_wait_s``. A holder that died leaves a lock that expires after ``lock_ttl_ms``;
        the next poll then takes it. The wait is real time spent in ``asyncio.sleep``, so the
        event loop's clock measures it.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._wait_s
        delay = _POLL_FIRST_S
        try:
            while True:
                lock, ready = await self._take_and_read(lock_name, value)
                if ready is not None:
                    if lock is not None:
                        await self.release(lock)
                    return None, ready
                if lock is not None:
                    return lock, None
                if loop.time() + delay > deadline:
                    return None, None
                await asyncio.sleep(delay)
                delay = min(delay * 1.5, _POLL_MAX_S)
                ready = value.ready(await self._batch.send(value.queue))
                if ready is not None:
                    return None, ready
        except REDIS_ERRORS as exc:
            self._health.failed(exc)
            return None, None

    async def _take_and_read(
        self, lock_name: str, value: GuardedRead
    ) -> tuple[Lock | None, Envelope | None]:
        """One round trip: ``SET lock token NX PX``, then the value's read, in one pipeline
        (the batch of this turn of the loop, with the other keys' locks and reads).

        Not a transaction, and none is needed: the lock and the value share a hash tag (one
        Cluster slot, so one node), which runs the read after the ``SET``. The lock is then
        redis-py's ``Lock`` holding that token, so its release stays redis-py's check-and-delete.
        """
        token = secrets.token_hex(16).encode()

        def queue(pipe: RedisPipeline) -> None:
            pipe.set(lock_name, token, nx=True, px=self._ttl_ms)
            value.queue(pipe)

        taken, *replies = await self._batch.send(queue)
        ready = value.ready(replies)
        if not taken:
            return None, ready
        lock = Lock(self._redis, lock_name, timeout=self._ttl_s, thread_local=False)
        lock.local.token = token
        return lock, ready

    async def release(self, lock: Lock) -> None:
        try:
            await lock.release()  # a Lua check-and-delete: only our own token is removed
        except LockError:
            _log.warning("cache_lock_expired_before_release", cache=self._name)
        except REDIS_ERRORS as exc:
            self._health.failed(exc)
